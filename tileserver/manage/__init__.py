"""Managing data after upload: rename, describe, publish or hide, and delete datasets and
mosaics. One service per operation, called by both the API (``routers/datasets.py``,
``routers/mosaics.py``) and the command line (``cogsight dataset|mosaic ...``)."""

from tileserver.manage.changes import Changes, change_dataset, change_mosaic
from tileserver.manage.delete import delete_dataset, delete_mosaic
from tileserver.manage.trash import sweep_trash

__all__ = [
    "Changes",
    "change_dataset",
    "change_mosaic",
    "delete_dataset",
    "delete_mosaic",
    "sweep_trash",
]
