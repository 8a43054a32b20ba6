"""The same harvest on PostgreSQL: runs, claims (heartbeat and worker compared in SQL),
refusals, an interrupted run resumed, and a re-run that writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import update

from tests.harvest.conftest import write_ndjson
from tests.harvest.helpers import dataset_writes, item_ids
from tests.scaleout.conftest import pg_url, postgres  # noqa: F401  (fixtures)
from tileserver.catalog import Catalog
from tileserver.catalog.repository import utcnow
from tileserver.harvest.options import HarvestOptions
from tileserver.harvest.runs import RunStore
from tileserver.harvest.service import harvest, prepare, run_harvest
from tileserver.harvest.tables import HarvestRunRow
from tileserver.settings import Settings


def test_harvest_on_postgresql(
    pg_url: str,  # noqa: F811
    settings: Settings,
    many_items: Any,
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(update={"database_url": pg_url})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.resolved_database_url)
    items = many_items(30)
    broken = dict(items[0], id="NO_ASSETS", assets={})
    path = write_ndjson(tmp_path / "items.ndjson", [*items, broken])

    run = prepare(catalog, settings, str(path), HarvestOptions(batch_size=7))
    store = RunStore(catalog)
    # a run left "running" by a process on another host whose heartbeat stopped long ago
    with catalog.session() as s:
        s.execute(
            update(HarvestRunRow)
            .where(HarvestRunRow.id == run.id)
            .values(
                status="running",
                worker="elsewhere:1",
                heartbeat=utcnow() - dt.timedelta(minutes=10),
            )
        )
    assert store.get(run.id).status == "interrupted"
    done = run_harvest(catalog, settings, run.id)
    assert (done.status, done.seen, done.added, done.refused) == ("completed", 31, 30, 1)
    assert [r.item_id for r in store.refusals(run.id)] == ["NO_ASSETS"]
    assert len(item_ids(catalog)) == 30

    with dataset_writes(catalog) as writes:
        again = harvest(catalog, settings, str(path), HarvestOptions(batch_size=7))
    assert (again.unchanged, again.added, again.updated) == (30, 0, 0)
    assert writes == []
