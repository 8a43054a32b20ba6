"""Catalog records as tiles need them: a short-lived in-process cache (``RecordCache``) and the
scene whose rendering a mosaic shares (``first_scene``). Plain objects: the HTTP edge keeps one
``RecordCache`` per app; WMS and terrain take it as an argument."""

from __future__ import annotations

from cachetools import TTLCache
from cogeo_mosaic.mosaic import MosaicJSON

from tileserver.catalog import Catalog, DatasetRecord, MosaicRecord
from tileserver.errors import NotFoundError
from tileserver.mosaics.keys import top_scene


class RecordCache:
    """Short-lived in-process cache of catalog records so a tile costs no database round trip.

    The TTL keeps replicas consistent within seconds; records are immutable once written.
    """

    def __init__(self, catalog: Catalog, ttl: float = 10.0) -> None:
        self.catalog = catalog
        self._datasets: TTLCache[str, DatasetRecord] = TTLCache(maxsize=4096, ttl=ttl)
        self._mosaics: TTLCache[str, MosaicRecord] = TTLCache(maxsize=1024, ttl=ttl)
        self._documents: TTLCache[str, MosaicJSON] = TTLCache(maxsize=256, ttl=ttl)

    def peek_dataset(self, dataset_id: str) -> DatasetRecord | None:
        """The cached record, without touching the database (safe on the event loop)."""
        return self._datasets.get(dataset_id)

    def dataset(self, dataset_id: str) -> DatasetRecord:
        record = self._datasets.get(dataset_id)
        if record is None:
            record = self._datasets[dataset_id] = self.catalog.get_dataset(dataset_id)
        return record

    def peek_mosaic(self, mosaic_id: str) -> MosaicRecord | None:
        """The cached record, without touching the database (safe on the event loop)."""
        return self._mosaics.get(mosaic_id)

    def mosaic(self, mosaic_id: str) -> MosaicRecord:
        record = self._mosaics.get(mosaic_id)
        if record is None:
            record = self._mosaics[mosaic_id] = self.catalog.get_mosaic(mosaic_id)
        return record

    def mosaic_document(self, mosaic_id: str) -> MosaicJSON:
        """The parsed MosaicJSON (parsing a large document per tile would dominate its cost)."""
        document = self._documents.get(mosaic_id)
        if document is None:
            record = self.mosaic(mosaic_id)
            document = self._documents[mosaic_id] = MosaicJSON.model_validate(record.mosaicjson)
        return document

    def forget(self, key: str) -> None:
        self._datasets.pop(key, None)
        self._mosaics.pop(key, None)
        self._documents.pop(key, None)


def first_scene(record: MosaicRecord, records: RecordCache) -> DatasetRecord | None:
    """The scene whose rendering a mosaic shares (None when it has been deleted); a query
    mosaic's is the scene on top when it was created (``top_scene``)."""
    ident = record.dataset_ids[0] if record.dataset_ids else top_scene(record)
    if not ident:
        return None
    scene = records.peek_dataset(ident)
    if scene is None:
        try:
            scene = records.dataset(ident)
        except NotFoundError:
            return None
    return scene
