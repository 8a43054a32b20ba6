"""Turn any readable raster into a COG with overviews, atomically (the product's one raster
writer, ``inference.writer``, does the writing).

The output is written under a temporary name beside its destination and renamed into place
only when complete, so a crash or a bad file never leaves a half-written dataset behind.
"""

from __future__ import annotations

from pathlib import Path

from rio_cogeo.cogeo import cog_validate

from inference.writer import translate_to_cog


def is_cog(path: str) -> bool:
    try:
        valid, _errors, _warnings = cog_validate(path, quiet=True)
    except Exception:
        return False
    return bool(valid)


def write_cog(
    src_path: str,
    dst: Path,
    *,
    has_gcps: bool = False,
    resampling: str = "average",
    internal_mask: bool = False,
    tmp_dir: Path | None = None,
) -> Path:
    """Write ``src_path`` as a deflate COG (512 px blocks, overviews) at ``dst``, atomically;
    see ``inference.writer.translate_to_cog``."""
    return translate_to_cog(
        src_path,
        dst,
        has_gcps=has_gcps,
        resampling=resampling,
        internal_mask=internal_mask,
        tmp_dir=tmp_dir,
    )
