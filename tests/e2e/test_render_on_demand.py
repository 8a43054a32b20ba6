"""The globe renders on demand: an idle viewer draws a frame every few seconds at most (the
heartbeat), not 60 a second, and a user's input or a change of the map draws at once. In a
browser without a GPU a frame costs a large share of a core, which the jobs the user waits
for (training, prediction) need."""

from __future__ import annotations

import os

import psutil
import pytest

from tests.e2e.browser import settle, viewer_page

pytestmark = pytest.mark.browser
COUNT_FRAMES = """() => { window.__frames = 0;
  window.cogsight.viewer.scene.postRender.addEventListener(() => window.__frames++); }"""


def browser_cpu_seconds() -> float:
    """CPU time of the chromium processes this test started."""
    total = 0.0
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "chrom" in proc.name().lower():
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def test_an_idle_globe_draws_few_frames_and_input_draws_at_once(live_server):
    with viewer_page(live_server, 1000, 700) as page:
        settle(page, extra_ms=2000)
        assert page.evaluate("() => window.cogsight.viewer.scene.requestRenderMode")
        page.evaluate(COUNT_FRAMES)
        before = browser_cpu_seconds()
        page.wait_for_timeout(9000)
        idle = page.evaluate("() => window.__frames")
        print(f"idle: {idle} frames and {browser_cpu_seconds() - before:.1f} CPU s in 9 s")
        assert idle <= 6  # the 3 s heartbeat, plus a frame or two still in flight
        page.evaluate("() => { window.__frames = 0; }")
        page.mouse.move(500, 350)
        page.mouse.move(520, 360)
        page.wait_for_function("() => window.__frames > 0", timeout=5000)
        assert not page.errors  # type: ignore[attr-defined]
