import numpy as np
import pytest

from tileserver.errors import InvalidInput, UnknownBand
from tileserver.expressions import identifiers, resolve_band, to_band_expression
from tileserver.indices import INDICES

BANDS = ["blue", "green", "red", "nir", "swir16"]


def test_index_formulas_resolve_through_band_names():
    assert to_band_expression(INDICES.get("NDVI").formula, BANDS) == "(b4 - b3) / (b4 + b3)"
    assert to_band_expression("nir/red;green", BANDS) == "b4 / b3;b2"


def test_sensor_preset_resolves_sentinel2_and_landsat_ids():
    s2 = ["B02", "B03", "B04", "B08", "B11"]
    assert resolve_band("nir", s2, "sentinel-2-l2a") == 4
    assert resolve_band("swir16", s2, "sentinel-2-l2a") == 5
    landsat = ["SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"]
    assert resolve_band("swir22", landsat, "landsat-c2l2") == 6


def test_reflectance_scaling_is_numerically_right():
    expr = to_band_expression(
        INDICES.get("EVI").formula, ["SR_B2", "SR_B4", "SR_B5"], "landsat-c2l2", 2.75e-5, -0.2
    )
    dn = {"b1": np.float64(9000), "b2": np.float64(9500), "b3": np.float64(20000)}
    blue, red, nir = (v * 2.75e-5 - 0.2 for v in dn.values())
    expected = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)
    assert eval(expr, {}, dn) == pytest.approx(expected)


def test_all_required_indices_exist():
    for name in ["NDVI", "RVI", "NDWI", "MNDWI", "EVI", "SAVI", "NBR", "NDBI"]:
        assert set(INDICES.get(name).bands) <= {"blue", "green", "red", "nir", "swir16", "swir22"}


@pytest.mark.parametrize(
    "bad",
    [
        "b1 +",
        "",
        "__import__('os')",
        "b1.real",
        "[b1]",
        "'a'",
        "lambda: 1",
        "foo(b1)",
        "b1 if b2 else b3",
    ],
)
def test_bad_expressions_are_invalid_input(bad):
    with pytest.raises(InvalidInput):
        to_band_expression(bad, BANDS)


def test_unknown_band_names_the_band():
    with pytest.raises(UnknownBand, match="swir22"):
        to_band_expression(INDICES.get("NBR").formula, BANDS)
    with pytest.raises(UnknownBand, match="b9"):
        to_band_expression("b9 * 2", BANDS)


def test_identifiers_skip_functions():
    assert identifiers("where(nir > 0.3, sqrt(red), 0)") == ["nir", "red"]
