"""The viewer's own unit tests (pure render, URL, style and form helpers under node:test) run
with the rest of the suite, so ``make test`` covers them too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

VIEWER = Path(__file__).resolve().parents[1] / "viewer"


def test_viewer_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (make test needs it to build the viewer)")
    run = subprocess.run(
        [node, "--test", "test/"], cwd=VIEWER, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass " in run.stdout
