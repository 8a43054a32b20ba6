"""Adding a model from the viewer's Tools tab, in headless Debian chromium: a network whose card
asks for one class too many is refused with the server's reason and nothing is registered; the
same network with the right card becomes a tool in the tool list at once, and removing it
there (after a confirmation) takes it out of the list and off the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import viewer_page
from tests.inference import byo_models as byo

pytestmark = pytest.mark.browser
pytest.importorskip("torch")
pytest.importorskip("onnx")

NAME = "viewer-roofs"


def test_add_a_model_from_the_tools_tab(live_server: str, data_dir: Path, tmp_path: Path) -> None:
    network = byo.save_onnx(byo.red_net(), tmp_path / "roofs.onnx")
    try:
        with viewer_page(live_server, 1280, 900) as page:
            page.click("[data-testid='tab-tools']")
            page.set_input_files("[data-testid='model-file']", str(network))
            page.fill("[data-testid='model-name']", NAME)
            page.fill("[data-testid='model-bands']", "red,green,blue")
            page.fill("[data-testid='model-classes']", "0=other, 1=red roof:#d62728, 2=shadow")
            page.fill("[data-testid='model-scale']", str(1 / 255))
            page.fill("[data-testid='model-chip']", "64")
            page.check("[data-testid='model-logits']")
            page.click("[data-testid='model-add']")
            error = page.wait_for_selector("[data-testid='error']:visible", timeout=60_000)
            assert "returns 2 channels but the card has 3 classes" in error.inner_text()
            assert httpx.get(f"{live_server}/models/{NAME}").status_code == 404

            page.fill("[data-testid='model-classes']", "0=other, 1=red roof:#d62728")
            page.click("[data-testid='model-add']")
            page.wait_for_selector(f"[data-testid='model-upload'][data-added='{NAME}']")
            page.wait_for_selector(
                f"[data-testid='tools-process'] option[value='{NAME}']", state="attached"
            )
            assert "version 1" in page.inner_text("[data-testid='model-status']")
            model = httpx.get(f"{live_server}/models/{NAME}").json()
            assert (model["version"], model["kind"], model["classes"]["1"]["color"]) == (
                1,
                "onnx",
                "#d62728",
            )

            # a built-in model offers no removal; the uploaded one does, after a confirmation
            page.select_option("[data-testid='tools-process']", "water-optical")
            page.wait_for_selector("#tools[data-removal='water-optical:no']", state="attached")
            assert page.query_selector("[data-testid='tools-remove']") is None
            page.select_option("[data-testid='tools-process']", NAME)
            page.click("[data-testid='tools-remove']")
            assert NAME in page.inner_text("[data-testid='tools-remove-box']")
            page.click("[data-testid='tools-remove-confirm']")
            page.wait_for_selector(
                f"[data-testid='tools-process'] option[value='{NAME}']", state="detached"
            )
            assert httpx.get(f"{live_server}/models/{NAME}").status_code == 404
            assert not (data_dir / "models" / NAME).exists()
            assert page.errors == []  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(data_dir / "models" / NAME, ignore_errors=True)
