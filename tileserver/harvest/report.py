"""The refused-items report of a run as ndjson or CSV (``cogsight harvest --report FILE``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tileserver.catalog import Catalog
from tileserver.harvest.runs import RunStore

PAGE = 5000


def write_report(catalog: Catalog, run_id: str, path: Path) -> int:
    """Write every refusal of ``run_id`` to ``path`` (CSV when it ends in .csv, else ndjson);
    returns how many."""
    store = RunStore(catalog)
    count = 0
    as_csv = path.suffix.lower() == ".csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f) if as_csv else None
        if writer is not None:
            writer.writerow(["item_id", "collection", "reason"])
        while page := store.refusals(run_id, offset=count, limit=PAGE):
            for r in page:
                if writer is not None:
                    writer.writerow([r.item_id, r.collection or "", r.reason])
                else:
                    f.write(json.dumps(r.model_dump(), ensure_ascii=False) + "\n")
            count += len(page)
    return count
