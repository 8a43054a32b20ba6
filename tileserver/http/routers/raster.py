"""``/raster/{dataset_id}/...``: titiler's TilerFactory, configured to read catalog datasets."""

from __future__ import annotations

from titiler.core.factory import TilerFactory
from titiler.extensions import wmtsExtension

from tileserver.auth.metering import MeteredExportRoute
from tileserver.http.dependencies import (
    WMTS_TILE_QUERY,
    checked_factory_options,
    dataset_path,
    index_rendering,
    layer_identifier,
    raster_layer,
)
from tileserver.http.post_process import buffered_tile, post_process, smooth_dataset
from tileserver.tiling.grids import supported_tms
from tileserver.tiling.reader import CatalogReader

PREFIX = "/raster/{dataset_id}"


def build_raster_tiler() -> TilerFactory:
    options = checked_factory_options()
    options["router"].route_class = MeteredExportRoute  # bbox / feature images are downloads
    return TilerFactory(
        **options,
        router_prefix=PREFIX,
        reader=CatalogReader,
        path_dependency=dataset_path,
        layer_dependency=raster_layer,  # type: ignore[arg-type]
        render_dependency=index_rendering,  # type: ignore[arg-type]
        process_dependency=post_process,  # type: ignore[arg-type]
        tile_dependency=buffered_tile,  # type: ignore[arg-type]
        dataset_dependency=smooth_dataset,  # type: ignore[arg-type]
        supported_tms=supported_tms,
        add_viewer=False,
        add_ogc_maps=False,
        extensions=[
            wmtsExtension(
                layer_identifier_provider=layer_identifier,
                tile_dependencies=WMTS_TILE_QUERY,
            )
        ],
    )
