"""Named spectral indices, written over common band names and resolved per dataset.

Add an index with ``INDICES.register(SpectralIndex(...))``; it appears in ``GET /indices``
and works as ``?index=NAME`` on every raster and mosaic endpoint.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tileserver.errors import UnknownIndex
from tileserver.registry import Registry


class SpectralIndex(BaseModel):
    name: str
    title: str
    formula: str = Field(description="numexpr formula over common band names, reflectance 0-1.")
    range: tuple[float, float] = (-1.0, 1.0)
    colormap: str = "rdylgn"
    description: str = ""
    reference: str = ""

    @property
    def bands(self) -> list[str]:
        from tileserver.expressions import identifiers

        return identifiers(self.formula)


INDICES: Registry[SpectralIndex] = Registry("index", not_found=UnknownIndex)


def _add(index: SpectralIndex) -> None:
    INDICES.register(index.name, index)


_add(
    SpectralIndex(
        name="NDVI",
        title="Normalized Difference Vegetation Index",
        formula="(nir - red) / (nir + red)",
        colormap="rdylgn",
        description="Green vegetation vigour; water and bare soil are low.",
        reference="Rouse et al. 1974",
    )
)
_add(
    SpectralIndex(
        name="RVI",
        title="Ratio Vegetation Index",
        formula="nir / red",
        range=(0.0, 10.0),
        colormap="ylgn",
        description="Simple NIR/red ratio; saturates less over dense canopy.",
        reference="Jordan 1969",
    )
)
_add(
    SpectralIndex(
        name="NDWI",
        title="Normalized Difference Water Index",
        formula="(green - nir) / (green + nir)",
        colormap="blues",
        description="Open water is positive (McFeeters).",
        reference="McFeeters 1996",
    )
)
_add(
    SpectralIndex(
        name="MNDWI",
        title="Modified Normalized Difference Water Index",
        formula="(green - swir16) / (green + swir16)",
        colormap="blues",
        description="Water against built-up land; needs SWIR 1.6 um.",
        reference="Xu 2006",
    )
)
_add(
    SpectralIndex(
        name="EVI",
        title="Enhanced Vegetation Index",
        formula="2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)",
        colormap="rdylgn",
        description="Vegetation with aerosol and soil correction; needs reflectance 0-1.",
        reference="Huete et al. 2002",
    )
)
_add(
    SpectralIndex(
        name="SAVI",
        title="Soil Adjusted Vegetation Index",
        formula="1.5 * (nir - red) / (nir + red + 0.5)",
        colormap="rdylgn",
        description="NDVI corrected for soil brightness (L = 0.5); needs reflectance 0-1.",
        reference="Huete 1988",
    )
)
_add(
    SpectralIndex(
        name="NBR",
        title="Normalized Burn Ratio",
        formula="(nir - swir22) / (nir + swir22)",
        colormap="rdylgn",
        description="Burn severity; compare two dates (dNBR).",
        reference="Key & Benson 2006",
    )
)
_add(
    SpectralIndex(
        name="NDBI",
        title="Normalized Difference Built-up Index",
        formula="(swir16 - nir) / (swir16 + nir)",
        colormap="rdbu_r",
        description="Built-up land is positive.",
        reference="Zha et al. 2003",
    )
)
_add(
    SpectralIndex(
        name="GNDVI",
        title="Green Normalized Difference Vegetation Index",
        formula="(nir - green) / (nir + green)",
        colormap="rdylgn",
        description="Chlorophyll-sensitive variant of NDVI.",
        reference="Gitelson et al. 1996",
    )
)
_add(
    SpectralIndex(
        name="NDMI",
        title="Normalized Difference Moisture Index",
        formula="(nir - swir16) / (nir + swir16)",
        colormap="rdbu",
        description="Vegetation water content.",
        reference="Gao 1996",
    )
)
_add(
    SpectralIndex(
        name="SAR_RATIO",
        title="SAR cross-pol ratio (dB difference)",
        formula="vv - vh",
        range=(0.0, 15.0),
        colormap="viridis",
        description="VV minus VH in dB; helps separate water, vegetation and built-up.",
    )
)
