"""A delete run in its own process, to be killed: ``python -m tests.catalog_manage.crash_child
ID STOP`` deletes dataset ID (settings from COGSIGHT_* variables, acting as an admin), prints
each step's name as it completes, and at step number STOP (1-based) waits to be killed."""

from __future__ import annotations

import sys
import time


def main() -> None:
    ident, stop = sys.argv[1], int(sys.argv[2])
    from tileserver.auth.schemas import Principal
    from tileserver.catalog import Catalog
    from tileserver.manage import delete_dataset
    from tileserver.settings import Settings

    settings = Settings()
    catalog = Catalog(settings.resolved_database_url)
    steps: list[str] = []

    def stage(name: str) -> None:
        steps.append(name)
        print(name, flush=True)
        if len(steps) == stop:
            time.sleep(600)  # SIGKILL arrives here

    delete_dataset(catalog, settings, Principal(single_user=True), ident, stage=stage)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
