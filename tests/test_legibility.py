"""Every dashboard is legible as a class sees it: both served themes, a projector's 1280x720 and a
full-HD 1920x1080 screen (issue 18). A real Voila server per theme, real headless Chromium.

Checked on every lesson page: the status line's text has a contrast of at least 4.5:1 (WCAG AA)
against what is behind it, and no control's label is cut (an ellipsis "fi…" where "first-order
MAML" should be). Screenshots land in test-artifacts/legibility-<theme>-<size>-<lesson>.png.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests._lessons import LESSONS
from tests.harness import CANVAS_DRAWN, VoilaServer, chromium_path, launch_chromium

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SIZES = [(1280, 720), (1920, 1080)]
PAGE_TIMEOUT_MS = 180_000

#: WCAG 2 contrast of each non-empty status line against the first opaque background behind it.
STATUS_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                               if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c; }
                             return [255, 255, 255]; };
  return [...document.querySelectorAll('.mtlviz-status')].filter(s => s.innerText.trim()).map(s => {
    const text = [...s.querySelectorAll('*')].reverse().find(e => e.innerText && e.innerText.trim()) || s;
    const [a, b] = [lum(rgb(getComputedStyle(text).color)), lum(background(text))];
    return {text: s.innerText.trim().slice(0, 60), contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
  });
}"""

#: Control labels whose text is wider than the box showing it (cut, usually with an ellipsis).
CUT_LABELS = """() => [...document.querySelectorAll(
    '.widget-label, .widget-button, .widget-toggle-button, .widget-checkbox label, .widget-dropdown select')]
  .filter(e => e.offsetParent !== null && e.innerText && e.innerText.trim())
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText.trim())"""


@pytest.fixture(scope="module", params=["default", "presenter"])
def themed(request):
    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed (scripts/test installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    extra = ["--theme=presenter"] if request.param == "presenter" else []
    with VoilaServer(extra_args=extra) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield request.param, server, browser
        browser.close()


@pytest.mark.parametrize("lesson", LESSONS)
def test_status_is_readable_and_no_label_is_cut(themed, lesson):
    """If this fails, a class reads a status line it cannot make out (dark grey on the projector's
    black) or a control whose name is cut off, at the size and theme named in the message."""
    theme, server, browser = themed
    width, height = SIZES[0]
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(server.page_url(f"voila/render/{lesson}"), timeout=PAGE_TIMEOUT_MS)
        page.wait_for_selector(".mtlviz-status", timeout=PAGE_TIMEOUT_MS)
        page.wait_for_function("() => [...document.querySelectorAll('.mtlviz-status')].some(s => s.innerText.trim())",
                               timeout=60_000)
        if page.locator(".jupyter-matplotlib-canvas-div canvas").count():
            page.wait_for_function(CANVAS_DRAWN, timeout=60_000)
        problems = []
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(300)  # let the layout settle
            stem = Path(lesson).stem
            dashboard = page.locator(".mtlviz-dashboard").first
            dashboard.scroll_into_view_if_needed()
            dashboard.screenshot(path=str(ARTIFACTS / f"legibility-{theme}-{width}x{height}-{stem}.png"))
            for status in page.evaluate(STATUS_CONTRAST):
                if status["contrast"] < 4.5:
                    problems.append(f"{width}x{height}: status {status['text']!r} contrast {status['contrast']:.2f} < 4.5")
            cut = page.evaluate(CUT_LABELS)
            if cut:
                problems.append(f"{width}x{height}: labels cut: {cut}")
        assert not problems, f"{theme} theme, {lesson}: " + "; ".join(problems)
    finally:
        page.close()
