"""Whether a file already is a valid COG (kept as it is at ingest). Converting one that is
not is the product's one raster writer's job: ``inference.writer.translate_to_cog``."""

from __future__ import annotations

from rio_cogeo.cogeo import cog_validate


def is_cog(path: str) -> bool:
    try:
        valid, _errors, _warnings = cog_validate(path, quiet=True)
    except Exception:
        return False
    return bool(valid)
