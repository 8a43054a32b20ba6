"""``layer.json``'s ``available``: per zoom, the tile ranges that cover the data.

Both root tiles are always available (Cesium needs them; where there is no data they are flat
ellipsoid tiles). Below z0, a zoom lists one range per footprint box (a dataset's bounds, or
each scene of a mosaic), merged when one contains another; Cesium asks only for listed tiles
and upsamples the parent elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from tileserver.terrain.grid import tile_range

Range = dict[str, int]


def available(
    boxes: Sequence[tuple[float, float, float, float]], maxzoom: int
) -> list[list[Range]]:
    levels: list[list[Range]] = [[{"startX": 0, "startY": 0, "endX": 1, "endY": 0}]]
    for z in range(1, maxzoom + 1):
        ranges: list[tuple[int, int, int, int]] = []
        for box in boxes:
            found = tile_range(z, box)
            if found is not None and found not in ranges:
                ranges.append(found)
        kept = [r for r in ranges if not any(o != r and _contains(o, r) for o in ranges)]
        levels.append(
            [{"startX": a, "startY": b, "endX": c, "endY": d} for a, b, c, d in sorted(kept)]
        )
    return levels


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and outer[2] >= inner[2]
        and outer[3] >= inner[3]
    )


def is_available(levels: list[list[Range]], z: int, x: int, y: int) -> bool:
    if z >= len(levels):
        return False
    return any(r["startX"] <= x <= r["endX"] and r["startY"] <= y <= r["endY"] for r in levels[z])
