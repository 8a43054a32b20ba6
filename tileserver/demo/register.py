"""Put the demo scenes in the catalog (once): the first thing a new installation shows."""

from __future__ import annotations

from collections.abc import Callable

from tileserver.catalog import Catalog
from tileserver.ingest import register_raster
from tileserver.mosaics.build import MosaicRequest, build_mosaic
from tileserver.settings import Settings

DEMO_MOSAIC_TITLE = "Demo mosaic - Wuhan across UTM 49N/50N (synthetic)"
SENSOR_BY_KIND = {"optical": "generic", "sar": "sentinel-1-grd"}


def ensure_demo(
    catalog: Catalog, settings: Settings, progress: Callable[[str], None] | None = None
) -> list[tuple[str, str, str]]:
    """Generate and register the demo data (scenes, mosaic, elevation model) unless already
    registered; return (kind, id, title)."""
    from tileserver.demo import generate_demo
    from tileserver.demo.elevation import DEM_DESCRIPTION, generate_dem

    say = progress or (lambda _m: None)
    source_dir = settings.data_dir / "demo-source"
    items = generate_demo(source_dir, progress=say)
    items.append(generate_dem(source_dir, progress=say))
    known = {
        d.properties.get("demo_file"): d
        for d in catalog.find_datasets()
        if d.properties.get("demo_file")
    }
    out: list[tuple[str, str, str]] = []
    mosaic_ids: list[str] = []
    for item in items:
        record = known.get(item.path.name)
        if record is None:
            say(f"registering {item.path.name}")
            truth = item.truth_path
            dem = item.kind == "elevation"
            record = register_raster(
                catalog,
                settings,
                item.path,
                title=item.title,
                sensor=SENSOR_BY_KIND.get(item.kind, "generic"),
                datetime_=item.datetime or None,
                reflectance_scale=1e-4 if item.kind == "optical" else None,
                reflectance_offset=0.0 if item.kind == "optical" else None,
                properties={
                    "demo_file": item.path.name,
                    "synthetic": True,
                    "group": item.group,
                    "truth": str(truth.relative_to(settings.data_dir)) if truth else None,
                    **({"description": DEM_DESCRIPTION} if dem else {}),
                },
                elevation=True if dem else None,
            )
        out.append(("dataset", record.id, record.title))
        if item.group == "mosaic":
            mosaic_ids.append(record.id)

    mosaic = next((m for m in catalog.list_mosaics() if m.title == DEMO_MOSAIC_TITLE), None)
    if mosaic is None and mosaic_ids:
        say("building demo mosaic")
        mosaic = build_mosaic(
            catalog,
            MosaicRequest(title=DEMO_MOSAIC_TITLE, ids=mosaic_ids),
            settings.mosaic_quadkey_zoom_max,
        )
    if mosaic is not None:
        out.append(("mosaic", mosaic.id, mosaic.title))
    return out
