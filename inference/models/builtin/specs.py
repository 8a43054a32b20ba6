"""The built-in models as data (torch-free): physically based models, ukis-csmask cloud
masks when that package is installed, and slots for models that have no weights yet.

The networks live in the sibling modules and are imported only when a model is built.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from inference.models.base import ClassInfo, ModelSpec, WeightsSpec
from inference.models.builtin.parcel_change_specs import parcel_change_models
from inference.models.registry import Factory

BUILTIN = WeightsSpec(kind="builtin")
PKG = "inference.models.builtin"
OPTICAL = ["blue", "green", "red", "nir", "swir16"]
CLOUD_EXTRA_REASON = "ukis-csmask is not installed: pip install cogsight[cloudmask]"
RGBN_SWIR = ["red", "green", "blue", "nir", "swir16"]
RGBN_TEXT = (
    "Runs on RGB, RGBN or RGBN+SWIR imagery of any bit depth (one gain per image maps its "
    "bright level to 1); NIR and SWIR, when present, sharpen the vegetation and water masks."
)
NIR_TEXT = (
    "Runs on RGBN or RGBN+SWIR imagery of any bit depth (one gain per image maps its "
    "bright level to 1)."
)
BUILDING_TEXT = (
    "Morphological building index (Huang & Zhang 2011): white top-hat by reconstruction "
    "of the brightness with linear elements of 5-65 px in 4 directions, threshold, "
    "vegetation (NDVI, else ExG), shadow and water removed, at least 60 px. "
    "Measured: IoU 0.018 / F1 0.035 against the SpaceNet-4 Atlanta "
    "footprints (0.5 m, forested, dark roofs: MBI finds bright roofs only); IoU "
    "0.95 (RGB 8-bit) / 0.87 (RGBN 16-bit) on a synthetic bright-roof scene."
)
PV_TEXT = (
    "Panels are dark, blue-ish, weakly saturated and (with NIR) dark in the near infrared; "
    "a plant is their closing where row texture is present, at least 400 px. "
    "Measured: IoU 0.92 (RGB) / 0.98 (RGBN) on a synthetic scene with a pond and a car "
    "park as decoys."
)
GREENHOUSE_TEXT = (
    "Bright, unsaturated, smooth roofs; with SWIR also PMLI (Lu et al. 2014) to reject snow "
    "and cloud; compact regions of at least 300 px. Measured: IoU 0.88 on a "
    "synthetic scene; white building roofs are the known confusion."
)
DAM_TEXT = (
    "Water (MNDWI with SWIR, else NDWI) with an elongated, bright, unvegetated barrier "
    "along it. Measured: IoU 0.99 on a synthetic reservoir; bright shores (quays, "
    "lakeside roads) are the known confusion. Needs NIR: no visible-band water index is "
    "credible (IoU 0.04-0.15 against NDWI on NAIP), so on RGB-only imagery label dams "
    "(classes background, dam) and train a model instead."
)

WATER_CLASSES = {
    0: ClassInfo(name="land", color="#d8cfb0"),
    1: ClassInfo(name="water", color="#1f6fd1"),
}
LANDCOVER_CLASSES = {
    1: ClassInfo(name="water", color="#1f6fd1"),
    2: ClassInfo(name="vegetation", color="#2e8b3a"),
    3: ClassInfo(name="cropland", color="#e3c84b"),
    4: ClassInfo(name="built-up", color="#d0433a"),
    5: ClassInfo(name="bare", color="#a88c6a"),
    6: ClassInfo(name="cloud/snow", color="#f2f2f2"),
    7: ClassInfo(name="grassland", color="#9ccc65"),
}
CHANGE_CLASSES = {
    0: ClassInfo(name="no change", color="#9e9e9e"),
    1: ClassInfo(name="vegetation loss", color="#c8843a"),
    2: ClassInfo(name="new built-up", color="#d0433a"),
    3: ClassInfo(name="water gain", color="#1f6fd1"),
    4: ClassInfo(name="water loss", color="#8fd3ff"),
}
CLOUD_CLASSES = {
    0: ClassInfo(name="clear", color="#3b8f3b"),
    1: ClassInfo(name="cloud", color="#f5f5f5"),
    2: ClassInfo(name="cloud shadow", color="#4b4b63"),
}


def _binary(thing: str, color: str) -> dict[int, ClassInfo]:
    return {0: ClassInfo(name="background", color="#000000"), 1: ClassInfo(name=thing, color=color)}


def physical_models() -> list[tuple[ModelSpec, Factory]]:
    """Models that run without training: index rules, global thresholds, the dark channel."""
    water_text = (
        "Open water by a global Otsu threshold on {index}, fitted once on the whole image "
        "(an image without a distinct water mode keeps the index's water line, 0)."
    )
    return [
        (
            ModelSpec(
                name="water-optical",
                title="Water (MNDWI with SWIR, else NDWI)",
                task="segmentation",
                bands=["green", "swir16"],
                band_options=[["red", "green", "blue", "nir"]],
                classes=WATER_CLASSES,
                chip_size=1024,
                overlap=8,
                resolution_range=(0.3, 60.0),
                weights=BUILTIN,
                needs_fit=True,
                description=water_text.format(index="MNDWI = (green - swir16)/(green + swir16)")
                + " Without SWIR (RGBN imagery) the same tool uses NDWI = (green - nir)/(green "
                "+ nir); on RGB-only images it opens the labelling loop (422 needs_samples: no "
                "credible visible-band water index). "
                "Measured: IoU 0.997 on the demo truth (MNDWI); NDWI on the Sentinel-2 Austria "
                "river (RGBN) finds 13.3 % / 12.3 % water at the two dates, IoU 0.91 between "
                "them; on the NAIP North Dakota pair 12 % (2009) -> 25 % (2020) as the lakes grew.",
            ),
            f"{PKG}.water:build_spectral_water",
        ),
        (
            ModelSpec(
                name="water-optical-ndwi",
                title="Water (NDWI, optical without SWIR)",
                task="segmentation",
                bands=["green", "nir"],
                classes=WATER_CLASSES,
                chip_size=1024,
                overlap=8,
                resolution_range=(0.5, 60.0),
                weights=BUILTIN,
                needs_fit=True,
                description=water_text.format(index="NDWI = (green - nir)/(green + nir)")
                + " Less robust than MNDWI against built-up surfaces and turbid water. "
                "water-optical picks MNDWI or NDWI itself; this variant always uses NDWI.",
            ),
            f"{PKG}.water:build_spectral_water",
        ),
        (
            ModelSpec(
                name="water-sar",
                title="Water (SAR VV + VH)",
                task="segmentation",
                bands=["vv", "vh"],
                classes=WATER_CLASSES,
                chip_size=1024,
                overlap=8,
                resolution_range=(5.0, 40.0),
                input_scale=None,
                weights=BUILTIN,
                needs_fit=True,
                description="Open water as the dark mode of 3x3-multilooked sigma0 (dB), "
                "threshold from a two-Gaussian fit started at Otsu; fit fails with 'no "
                "distinct water class in this image' when the histogram is not bimodal.",
            ),
            f"{PKG}.water:build_sar_water",
        ),
        (
            ModelSpec(
                name="water-sar-vv",
                title="Water (SAR VV only)",
                task="segmentation",
                bands=["vv"],
                classes=WATER_CLASSES,
                chip_size=1024,
                overlap=8,
                resolution_range=(5.0, 40.0),
                input_scale=None,
                weights=BUILTIN,
                needs_fit=True,
                description="As water-sar, for single-polarisation (VV) scenes.",
            ),
            f"{PKG}.water:build_sar_water",
        ),
        (
            ModelSpec(
                name="landcover-spectral",
                title="Land cover (spectral index rules)",
                task="segmentation",
                bands=OPTICAL,
                band_options=[["red", "green", "blue", "nir"], ["red", "green", "blue"]],
                classes=LANDCOVER_CLASSES,
                chip_size=1024,
                overlap=16,
                resolution_range=(0.3, 60.0),
                weights=BUILTIN,
                needs_fit=True,
                description="With SWIR: water, vegetation, cropland, built-up, bare and "
                "cloud/snow from NDVI, MNDWI and visible brightness rules (OA 0.94 on the demo "
                "truth; green crops at full canopy read as vegetation). Without SWIR (RGBN or "
                "RGB, any bit depth): cloud/snow by brightness and low saturation, water by "
                "NDWI (none on RGB), trees vs grassland by texture, built-up vs bare by "
                "texture; cropland is not separated (green fields read as grassland, tilled "
                "ones as bare). Measured on the Sentinel-2 Austria river: RGBN water IoU 0.97 "
                "against NDWI; on the NAIP North Dakota pair, RGB vegetation (ExG > 0.12) IoU "
                "0.64 against NDVI > 0.3. See builtin/landcover.py.",
            ),
            f"{PKG}.landcover:build_landcover",
        ),
        (
            ModelSpec(
                name="change-cva",
                title="Change (change vector analysis)",
                task="change",
                bands=["green", "red", "nir", "swir16"],
                band_options=[["red", "green", "blue", "nir"], ["red", "green", "blue"]],
                dates=2,
                classes=CHANGE_CLASSES,
                chip_size=1024,
                overlap=0,
                resolution_range=(0.3, 60.0),
                weights=BUILTIN,
                needs_fit=True,
                description="Change magnitude with a global Otsu threshold; the direction "
                "names vegetation loss, new built-up, water gain or water loss. With SWIR: "
                "(NDVI, MNDWI, NDBI) space (change F1 0.89 on the demo truth). Without SWIR "
                "(aerial RGBN or RGB, any bit depth; a brightness gain is fitted per date): "
                "RGBN uses (NDVI, NDWI, brightness) and names water by NDWI crossing 0; RGB "
                "uses (excess green, brightness, saturation) and has no water "
                "classes (no credible visible water index: they stay at probability 0). "
                "Vegetation loss is a greenness drop to a brighter surface, new built-up the "
                "same to a grey (unsaturated) one. Measured on the NAIP North Dakota 2009/2020 "
                "pair (RGBN): water gain IoU 0.49 against the NDWI > 0 crossing (precision "
                "0.96; weak crossings have small change vectors); on RGB the grown lakes are "
                "missed. Synthetic pair (green crops to roofs, bare soil, water): class IoU "
                "0.94-0.99 (RGBN and RGB, 8-bit or reflectance). Input: the bands of date 1, "
                "then of date 2. See builtin/change.py and change_rgbn.py.",
            ),
            f"{PKG}.change:build_change_cva",
        ),
        (
            ModelSpec(
                name="dehaze",
                title="Haze removal (dark-channel prior)",
                task="enhancement",
                bands=["blue", "green", "red"],
                chip_size=640,
                overlap=160,
                resolution_range=(0.3, 60.0),
                weights=BUILTIN,
                needs_fit=True,
                description="He et al. dark-channel prior with guided-filter refinement. "
                "Returns dehazed reflectance for the same bands, not classes; the "
                "atmospheric light is fitted once per image.",
            ),
            f"{PKG}.dehaze:build_dehaze",
        ),
    ]


def slot_models() -> list[tuple[ModelSpec, Factory]]:
    """Listed so users see what is planned; not runnable until weights are registered."""
    seg: list[tuple[str, str, list[str], tuple[float, float], dict[int, ClassInfo]]] = []
    change: list[tuple[str, str, list[str], tuple[float, float], str, str]] = []
    out: list[tuple[ModelSpec, Factory]] = []
    for name, title, bands, res, classes in seg:
        out.append(
            (
                ModelSpec(
                    name=name,
                    title=f"{title} (slot)",
                    task="segmentation",
                    bands=bands,
                    classes=classes,
                    chip_size=512,
                    overlap=64,
                    resolution_range=res,
                    slot=True,
                    description=f"{title} extraction: a deep segmentation model once weights "
                    "are trained or registered.",
                ),
                None,
            )
        )
    for name, title, bands, res, thing, color in change:
        out.append(
            (
                ModelSpec(
                    name=name,
                    title=f"{title} (slot)",
                    task="change",
                    bands=bands,
                    dates=2,
                    classes=_binary(thing, color)
                    | {0: ClassInfo(name="no change", color="#9e9e9e")},
                    chip_size=512,
                    overlap=64,
                    resolution_range=res,
                    slot=True,
                    description=f"{title} detection between two dates once weights exist.",
                ),
                None,
            )
        )
    return out


def _cloud_spec(
    name: str, title: str, bands: list[str], weights: WeightsSpec | None, reason: str | None
) -> ModelSpec:
    return ModelSpec(
        name=name,
        title=title,
        task="segmentation",
        bands=bands,
        classes=CLOUD_CLASSES,
        chip_size=256,
        overlap=64,
        resolution_range=(20.0, 40.0),
        weights=weights,
        slot=weights is None,
        slot_reason=reason,
        description="Clouds and cloud shadows with the ukis-csmask U-Net (DLR, Apache-2.0), "
        f"Level-2A surface reflectance; band order {', '.join(bands)}; best at about 30 m.",
    )


def cloud_mask_models() -> list[tuple[ModelSpec, Factory]]:
    """`cloud-mask` (6 bands) and `cloud-mask-4b` from the installed ukis-csmask, or slots
    saying how to install it. The ONNX files are found inside the package directory."""
    six = ["blue", "green", "red", "nir", "swir16", "swir22"]
    variants = [
        ("cloud-mask", "Cloud and shadow mask", six, "6b"),
        ("cloud-mask-4b", "Cloud and shadow mask (4 bands)", six[:4], "4b"),
    ]
    try:
        package = importlib.import_module("ukis_csmask")
        root: Path | None = Path(package.__file__ or "").parent
    except ImportError:
        root = None
    out: list[tuple[ModelSpec, Factory]] = []
    for name, title, bands, tag in variants:
        reason = CLOUD_EXTRA_REASON
        onnx = root / f"model_{tag}_l2a.onnx" if root is not None else None
        if onnx is not None and onnx.is_file() and onnx.with_suffix(".json").is_file():
            weights = WeightsSpec(kind="onnx", path=str(onnx))
            out.append(
                (
                    _cloud_spec(name, title, bands, weights, None),
                    f"{PKG}.cloudmask:build_cloud_mask",
                )
            )
            continue
        if root is not None:
            missing = onnx.name if onnx is not None else "model file"
            reason = f"the installed ukis-csmask has no {missing} (needs ukis-csmask>=1.0)"
        out.append((_cloud_spec(name, title, bands, None, reason), None))
    return out


def _rgbn_tool(
    name: str,
    title: str,
    thing: ClassInfo,
    chip: tuple[int, int],
    resolution: tuple[float, float],
    description: str,
    factory: str,
    needs_nir: bool = False,
) -> tuple[ModelSpec, Factory]:
    """A zero-sample tool on red, green, blue (+ nir, + swir16 when the image has them)."""
    options = [RGBN_SWIR[:4]] if needs_nir else [RGBN_SWIR[:4], RGBN_SWIR[:3]]
    return (
        ModelSpec(
            name=name,
            title=title,
            task="segmentation",
            bands=RGBN_SWIR,
            band_options=options,
            classes={0: ClassInfo(name="background", color="#000000"), 1: thing},
            chip_size=chip[0],
            overlap=chip[1],
            resolution_range=resolution,
            weights=BUILTIN,
            needs_fit=True,
            description=description + " " + (RGBN_TEXT if not needs_nir else NIR_TEXT),
        ),
        f"{PKG}.{factory}",
    )


def zero_sample_models() -> list[tuple[ModelSpec, Factory]]:
    """Tools that run on the user's RGB / RGBN imagery without training (rule-based methods
    from the literature; see each module for the rules and their sources)."""
    return [
        _rgbn_tool(
            "building",
            "Buildings (morphological building index)",
            ClassInfo(name="building", color="#d0433a"),
            (768, 128),
            (0.3, 2.0),
            BUILDING_TEXT,
            "buildings:build_building",
        ),
        _rgbn_tool(
            "pv-plant",
            "Solar (PV) plants (spectral and row-texture rules)",
            ClassInfo(name="pv plant", color="#3a4fd0"),
            (512, 64),
            (0.1, 2.0),
            PV_TEXT,
            "solar:build_solar",
        ),
        _rgbn_tool(
            "greenhouse",
            "Greenhouses (bright unsaturated roofs)",
            ClassInfo(name="greenhouse", color="#e6e6e6"),
            (512, 64),
            (0.1, 2.0),
            GREENHOUSE_TEXT,
            "greenhouses:build_greenhouses",
        ),
        _rgbn_tool(
            "dam",
            "Dams (bright barrier along a water body)",
            ClassInfo(name="dam", color="#7a5230"),
            (1024, 128),
            (0.3, 2.0),
            DAM_TEXT,
            "dams:build_dams",
            needs_nir=True,
        ),
    ]


def builtin_models() -> list[tuple[ModelSpec, Factory]]:
    return (
        physical_models()
        + zero_sample_models()
        + parcel_change_models()
        + cloud_mask_models()
        + slot_models()
    )
