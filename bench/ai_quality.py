"""Quality of the AI tools: one markdown table, one row per tool and data set, with the
zero-sample baseline beside the trained result.

    python -m bench.ai_quality                   # every tool, a few minutes
    python -m bench.ai_quality --only naip       # the row functions whose name has "naip"
    python -m bench.ai_quality --spacenet --plot bench/out/spacenet_curve.png --json rows.json

Each tool is measured on real reference data where there is a truth for it (Landsat 8 QA_PIXEL
water and cloud flags, SpaceNet-4 footprints, NDWI/NDVI on the NAIP and Sentinel-2 pairs), else
on the seeded synthetic scenes the unit tests build (tileserver.demo, tests/inference/
zero_sample_scenes.py and synthetic_fields.py); the note says what the truth is, the sizes and
the seconds. A tool that refuses its input shows "refused: <reason>"; a missing data set
(``COGSIGHT_REALDATA_DIR``, default ``../shared/data``) shows "skipped".

Rows come from ``ROWS``, a list of functions each returning ``Row``s: a tool adds its own
function with ``@row`` (``bench.ai_quality_table.row``) in ``ai_quality_real.py`` or
``ai_quality_synthetic.py``. ``--spacenet`` adds the SpaceNet-4 curve
(slow, it trains): building IoU on the unseen southern half of the Atlanta tile against the
number of footprints of the northern half learnt from (plus background strokes drawn away from
buildings there), for the pixel classifier and the U-Net, with training seconds; seeds are
fixed. Its best pixel-classifier result fills the trained column of the ``building`` row.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

# importing them registers their @row functions, real data first: the table's order
from bench import ai_quality_real, ai_quality_synthetic  # noqa: F401
from bench.ai_quality_table import ROWS, markdown
from bench.spacenet_curve import plot


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spacenet", action="store_true", help="train the SpaceNet-4 curve (slow)")
    parser.add_argument("--plot", type=Path, help="save the SpaceNet-4 curve as a PNG")
    parser.add_argument("--json", type=Path, help="save the rows as JSON")
    parser.add_argument("--only", help="run the row functions whose name contains this")
    args = parser.parse_args(argv)
    rows = ai_quality_real.spacenet_rows() if args.spacenet else []
    for fn in ROWS:
        if not args.only or args.only in fn.__name__:
            rows += fn()
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    if args.plot and ai_quality_real.CURVE:
        plot(ai_quality_real.CURVE, args.plot)


if __name__ == "__main__":
    main()
