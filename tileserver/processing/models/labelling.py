"""When a classifying tool cannot run on an image's bands: the labelling loop, not a bare 400.

``dam`` needs NIR (no visible-band water index is credible), ``water-optical`` NIR or SWIR: on
an RGB-only image no zero-sample method of theirs holds. Where no other public tool of the same
classes runs on the image either (``water-sar`` does on SAR: that 400 names it), the way on is
to label samples of those classes and train a model on the bands the image has, so a
segmentation or change tool with classes refuses it with ``NeedsSamples`` (422): the message
names the missing bands, and ``labelling`` holds a sample-set body for ``POST /samples``
(``image``, ``later_image``, ``title``, ``classes``: add ``samples``) and the
``train-request`` body (``train``); the viewer's Label tab opens with it.
"""

from __future__ import annotations

from inference.models import MODELS, ModelSpec
from tileserver.catalog import DatasetRecord
from tileserver.errors import NeedsSamples, UnknownBand
from tileserver.expressions import resolve_band
from tileserver.processing.models.sources import band_indexes

MAX_VALUE = 254
"""A sample set's class values are 1..254 (0 is 'unlabelled' there)."""


def offers_labelling(spec: ModelSpec) -> bool:
    """Tools whose output is classes a person can draw: segmentation and change with classes."""
    return spec.task in ("segmentation", "change") and bool(spec.classes)


def refusal(
    spec: ModelSpec, records: list[DatasetRecord], lacking: DatasetRecord, refused: UnknownBand
) -> UnknownBand:
    """Why ``spec`` cannot run on ``records``: where another public tool of the same task and
    classes runs on them (``water-sar`` for ``water-optical`` on a SAR image), the 400 naming
    it; else ``NeedsSamples``, since no zero-sample method on these bands is credible."""
    instead = alternative(spec, records)
    if instead is not None:
        return UnknownBand(f"{refused} {instead} (the same classes) runs on these bands.")
    return needs_samples(spec, records, lacking)


def alternative(spec: ModelSpec, records: list[DatasetRecord]) -> str | None:
    """The first runnable public tool, other than ``spec``, with its task and class names that
    runs on every one of ``records``."""
    names = {c.name.lower() for c in spec.classes.values()}
    for entry in MODELS:
        other = entry.spec
        if other.name == spec.name or other.task != spec.task or not other.runnable:
            continue
        if other.owner is not None or other.visibility != "public":
            continue
        if {c.name.lower() for c in other.classes.values()} != names:
            continue
        try:
            for record in records:
                band_indexes(other, record)
        except UnknownBand:
            continue
        return other.name
    return None


def sample_classes(spec: ModelSpec) -> list[dict[str, object]]:
    """The spec's classes as sample-set classes, by value. A set cannot hold value 0, so a
    class 0 (background, no change) takes the first value above the others, which keep
    theirs: a model trained on the set gives ``dam`` the value the tool gives it (1)."""
    usable = {v: c for v, c in spec.classes.items() if 0 <= v <= MAX_VALUE}
    free = max((v for v in usable if v > 0), default=0) + 1
    values = {v: v or free for v in usable if v or free <= MAX_VALUE}
    return [
        {"value": values[v], "name": usable[v].name[:64], "color": usable[v].color}
        for v in sorted(values, key=values.__getitem__)
    ]


def missing_bands(spec: ModelSpec, record: DatasetRecord) -> list[list[str]]:
    """What ``record`` lacks of the spec's band sets, fewest first, the sets that tie only:
    ``[["nir"]]`` for dam on an RGB image, ``[["swir16"], ["nir"]]`` for water-optical."""
    lacking = []
    for names in spec.band_sets:
        out = []
        for name in names:
            try:
                resolve_band(name, record.band_names, record.sensor)
            except UnknownBand:
                out.append(name)
        if out not in lacking:
            lacking.append(out)
    fewest = min((len(names) for names in lacking), default=0)
    return [names for names in lacking if len(names) == fewest]


def needs_samples(
    spec: ModelSpec, records: list[DatasetRecord], lacking: DatasetRecord
) -> NeedsSamples:
    """The refusal of ``spec`` on ``records`` (one image, or the two dates of a change) where
    ``lacking`` has not the bands: the message and a ready sample-set body. Ids and band names
    only, never a path."""
    classes = sample_classes(spec)
    wanted = spec.band_sets_text
    bands = list(lacking.band_names)
    missing = missing_bands(spec, lacking)
    names = [str(c["name"]) for c in classes]
    labelling: dict[str, object] = {"image": records[0].id}
    if spec.task == "change" and len(records) == 2:
        labelling["later_image"] = records[1].id
    labelling.update(title=f"{spec.name} samples", classes=classes, train={"method": "auto"})
    has = ", ".join(bands) or "none"
    lacks = ", or ".join(", ".join(names) for names in missing) or "none"
    where = "the two images" if "later_image" in labelling else "the image"
    message = (
        f"{spec.name} cannot run on dataset '{lacking.id}': it needs the bands {wanted} and "
        f"the dataset has {has} (missing {lacks}). No zero-sample method is credible on "
        f"these bands: label samples of {_listed(names)} on {where} and train a model instead"
        " ('labelling' is the sample-set body for POST /samples; the viewer's Label tab "
        "opens with it)."
    )
    return NeedsSamples(
        message,
        process=spec.name,
        dataset=lacking.id,
        dataset_bands=bands,
        missing_bands=missing,
        labelling=labelling,
    )


def _listed(names: list[str]) -> str:
    if len(names) < 2:
        return names[0] if names else "its classes"
    return ", ".join(names[:-1]) + " and " + names[-1]
