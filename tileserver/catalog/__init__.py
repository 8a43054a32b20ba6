"""The catalog: every dataset and mosaic cogsight serves, in SQLite or PostgreSQL."""

from tileserver.catalog.repository import Catalog
from tileserver.catalog.schemas import DatasetRecord, MosaicRecord

__all__ = ["Catalog", "DatasetRecord", "MosaicRecord"]
