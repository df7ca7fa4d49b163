"""Real headless Chromium (Debian's package, driven by Playwright) against a real Voila server."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness import CANVAS_DRAWN, PageWatcher, VoilaServer, write_notebook

from tests._lessons import LESSONS

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PAGE_TIMEOUT_MS = 180_000
MAIN_LESSON = "03_maml_inner_and_outer_loop.ipynb"


@pytest.fixture(scope="module")
def server():
    with VoilaServer() as running:
        yield running


def open_dashboard(browser, url, init_script=None):
    """Open a dashboard and wait until its first figure is drawn; retry once (see FIELD-NOTES:
    about one page load in 70 hangs after its kernel started). ``init_script`` runs in the page
    before any of its own scripts."""
    for attempt in range(2):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        if init_script:
            page.add_init_script(init_script)
        watcher = PageWatcher(page)
        try:
            page.goto(url, timeout=PAGE_TIMEOUT_MS)
            # Every mtlviz dashboard has a status line; it appears once its cell has run.
            page.wait_for_selector(".mtlviz-status", timeout=PAGE_TIMEOUT_MS)
            if page.locator(".jupyter-matplotlib-canvas-div canvas").count():
                page.wait_for_function(CANVAS_DRAWN, timeout=60_000)
            return page, watcher
        except Exception:
            page.close()
            if attempt:
                raise
    raise AssertionError("unreachable")


_CANVAS_IMAGE = "() => document.querySelector('.jupyter-matplotlib-canvas-div canvas').toDataURL()"


def slider_handle(page, label):
    return page.locator(".widget-hslider", has_text=label).locator(".noUi-handle")


def assert_clean(watcher):
    assert watcher.external_requests == [], f"requests left 127.0.0.1: {watcher.external_requests}"
    assert watcher.console_errors == [], f"console errors: {watcher.console_errors}"


def wait_for_status(page, condition):
    """Wait until the dashboard's status line satisfies ``condition``, a JS expression over ``t``."""
    page.wait_for_function(f"() => {{ const t = document.querySelector('.mtlviz-status').innerText; return {condition}; }}",
                           timeout=30_000)


def wait_for_redraw(page, before):
    """Wait until the first figure's canvas differs from the image ``before``."""
    page.wait_for_function(f"() => ({_CANVAS_IMAGE})() !== {before!r}", timeout=30_000)


def move_slider(page, label, key, status_condition):
    """Press ``key`` on the slider labelled ``label``, then wait until the status line satisfies
    ``status_condition`` and the figure has changed."""
    before = page.evaluate(_CANVAS_IMAGE)
    handle = slider_handle(page, label)
    handle.focus()
    handle.press(key)
    wait_for_status(page, status_condition)
    wait_for_redraw(page, before)


def click_button(page, name, status_condition):
    """Click the button named ``name``, then wait for the status line and a changed figure."""
    before = page.evaluate(_CANVAS_IMAGE)
    page.get_by_role("button", name=name).click()
    wait_for_status(page, status_condition)
    wait_for_redraw(page, before)


def finish(page, watcher, screenshot):
    """Save a screenshot for a person to look at, check the page stayed clean, close it."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    assert_clean(watcher)
    page.close()


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_dashboard_loads_cleanly(server, browser, lesson):
    """Every lesson must open with its figure drawn, no console error and nothing fetched from outside."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{lesson}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{Path(lesson).stem}.png"), full_page=True)
    assert page.locator(".jupyter-widgets-output-area .jp-RenderedText[data-mime-type*=stderr]").count() == 0
    assert_clean(watcher)
    page.close()


_TRANSFERRED = """() => {
  const files = performance.getEntriesByType('resource').filter(e => /\\.(js|css)$/.test(new URL(e.name).pathname));
  return {count: files.length, sent: files.reduce((n, e) => n + e.encodedBodySize, 0),
          size: files.reduce((n, e) => n + e.decodedBodySize, 0)};
}"""


def test_a_lesson_page_downloads_its_scripts_and_stylesheets_compressed(server, browser):
    """If this fails, each student's browser downloads a lesson page's 5.2 MB of scripts and
    stylesheets as they are instead of about 1.5 MB, and a class sharing one network waits for
    the difference (30 students with a pool over 100 Mbit/s: 22.5 s instead of 13.1-13.5 s)."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    files = page.evaluate(_TRANSFERRED)
    assert files["count"] > 20 and files["size"] > 1_000_000, f"the page loaded fewer scripts than expected: {files}"
    assert files["sent"] < 0.5 * files["size"], f"scripts and stylesheets came uncompressed: {files}"
    finish(page, watcher, "03_compressed.png")


def test_a_lesson_page_carries_a_font_for_its_chinese_terms(server, browser):
    """If this fails, a student whose machine has no Chinese font (a minimal Linux; this
    project's test machines before fonts-noto-cjk) sees an empty box for each character of the
    seed's terms that every lesson gives beside the English ones (mtlviz/serve/cjk_font.py)."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    faces = page.evaluate("""() => document.fonts.load('16px "mtlviz CJK"', '元学习').then(f => f.map(x => x.status))""")
    assert faces == ["loaded"], f"the served Chinese font did not load: {faces}"
    family = page.evaluate("() => getComputedStyle(document.querySelector('.jp-RenderedHTMLCommon')).fontFamily")
    assert "mtlviz CJK" in family, f"the lesson's text does not fall back to the served font: {family}"
    finish(page, watcher, "03_cjk_font.png")


def test_alpha_slider_changes_the_plot(server, browser):
    """Moving α must redraw the adaptation plot; a frozen plot is the failure a class would notice."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    before = page.evaluate(_CANVAS_IMAGE)
    status_before = page.locator(".mtlviz-status").inner_text()
    handle = slider_handle(page, "α (inner lr)")
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    wait_for_redraw(page, before)
    # Five steps of 0.1 on the log10 scale take α from 0.01 to 10^-1.5 = 0.0316.
    wait_for_status(page, "t.includes('α = 0.03162')")
    assert page.locator(".mtlviz-status").inner_text() != status_before
    finish(page, watcher, "03_after_alpha_moved.png")


# Counts what ipympl's front end does with each frame the kernel sends: it draws the frame onto
# a canvas outside the document (drawImage), then, unless the served page stops it, PNG-encodes
# that canvas (toDataURL). The tests' own toDataURL calls read the visible canvas and are not counted.
_COUNT_FRAMES_AND_ENCODINGS = """
window.__frames = 0;
window.__encodings = 0;
const drawImage = CanvasRenderingContext2D.prototype.drawImage;
CanvasRenderingContext2D.prototype.drawImage = function (...args) {
  if (!this.canvas.isConnected) window.__frames += 1;
  return drawImage.apply(this, args);
};
const toDataURL = HTMLCanvasElement.prototype.toDataURL;
HTMLCanvasElement.prototype.toDataURL = function (...args) {
  if (!this.isConnected) window.__encodings += 1;
  return toDataURL.apply(this, args);
};
"""


def test_frames_from_the_kernel_are_drawn_without_encoding_the_figure_again(server, browser):
    """ipympl's front end PNG-encodes the whole figure after every frame it draws, a picture for a
    notebook saved with its widget state; a Voila page is never saved, and the served page
    (templates/mtlviz/ipympl-frames.js) skips it. If this fails, every slider move costs each
    student's browser about 7 ms more on lesson 05 and 3.5 ms on lesson 03, and a class whose
    browsers share one machine waits for that too (RESULTS.md, "Classroom load")."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}",
                                   init_script=_COUNT_FRAMES_AND_ENCODINGS)
    frames_at_start = page.evaluate("() => window.__frames")
    assert frames_at_start >= 1, "the counting script saw no frame drawn: it no longer sees ipympl's drawing"
    move_slider(page, "α (inner lr)", "ArrowRight", "t.length > 0")  # waits for the figure to change
    assert page.evaluate("() => window.__frames") > frames_at_start
    assert page.evaluate("() => window.__encodings") == 0, "the page PNG-encoded its figure after a frame"
    finish(page, watcher, "03_frames_not_encoded.png")


# Two frames sent back to back: the first paints the left half red, the second the right half blue.
_TWO_FRAMES = """import ipywidgets as widgets
from matplotlib.patches import Rectangle
from mtlviz.widgets._base import Dashboard
from mtlviz.widgets._canvas import interactive_figure

class TwoFrames(Dashboard):
    def __init__(self):
        super().__init__()
        self.figure, self.canvas = interactive_figure(4.0, 2.0)
        self.halves = [self.figure.add_artist(Rectangle((x, 0.0), 0.5, 1.0, transform=self.figure.transFigure,
                                                        color="lightgrey")) for x in (0.0, 0.5)]
        self.button = widgets.Button(description="two frames")
        self.button.on_click(self.two_frames)
        self.children = [self.button, self.canvas, self.status_line]
        self.show_status("ready")

    def two_frames(self, _button):
        for half, colour in zip(self.halves, ("red", "blue")):
            half.set_color(colour)
            self.canvas.draw()  # sends a frame: the pixels changed since the last one
        self.show_status("both frames sent")

TwoFrames()"""

# The visible figure's colour at a fraction of its width, half way up: [r, g, b, a].
_PIXEL_AT = """(x) => {
  const canvas = document.querySelector('.jupyter-matplotlib-canvas-div canvas');
  return Array.from(canvas.getContext('2d').getImageData(Math.floor(canvas.width * x), Math.floor(canvas.height / 2), 1, 1).data);
}"""


def test_frames_that_arrive_together_are_all_drawn(browser, tmp_path):
    """Most frames a kernel sends are diffs, the pixels changed since the frame before. ipympl's
    front end loads each into one image and drops a frame that is still loading when the next
    arrives (matplotlib issue 19116); the served page (templates/mtlviz/ipympl-frames.js) draws
    every frame in order. If this fails, a figure can keep showing stale curves after a slider
    move, until the next full frame: it happened to lesson 03 moved just as its page opened."""
    write_notebook(tmp_path / "94_two_frames.ipynb", _TWO_FRAMES)
    with VoilaServer(notebook_dir=tmp_path) as served:
        page, watcher = open_dashboard(browser, served.page_url("voila/render/94_two_frames.ipynb"))
        assert page.evaluate(_PIXEL_AT, 0.25) == page.evaluate(_PIXEL_AT, 0.75) == [211, 211, 211, 255]  # light grey
        page.get_by_role("button", name="two frames").click()
        wait_for_status(page, "t.includes('both frames sent')")
        page.wait_for_function(f"() => ({_PIXEL_AT})(0.75).join() === '0,0,255,255'", timeout=30_000)
        page.wait_for_timeout(500)  # any frame still on its way
        left = page.evaluate(_PIXEL_AT, 0.25)
        finish(page, watcher, "two_frames_drawn.png")
    assert left == [255, 0, 0, 255], f"the first of two frames was never drawn: the left half is {left}, not red"


# A figure that notes each full draw in a file: {record}.
_COUNTED_DRAWS = """import ipywidgets as widgets
from mtlviz.widgets._base import Dashboard
from mtlviz.widgets._canvas import interactive_figure

class CountedDraws(Dashboard):
    def __init__(self):
        super().__init__()
        self.figure, self.canvas = interactive_figure(4.0, 2.0)
        self.figure.subplots().plot([0, 1], [1, 0], color="red", linewidth=12)
        self.canvas.mpl_connect("draw_event", self.count)
        self.children = [self.canvas, self.status_line]
        self.show_status("ready")

    def count(self, _event):
        with open({record!r}, "a") as record:
            record.write("draw\\n")

CountedDraws()"""


# How many pixels of the visible figure are red.
_RED_PIXELS = """() => {
  const canvas = document.querySelector('.jupyter-matplotlib-canvas-div canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] > 200 && data[i + 1] < 80 && data[i + 2] < 80) red++;
  return red;
}"""


def test_a_pre_warmed_dashboard_reaches_its_student_already_drawn(browser, tmp_path):
    """A pre-warmed pool's kernel draws the lesson's figures once its cells have run, before any
    student takes it (mtlviz.serve.kernel.draw_figures_when_idle). If this fails, a class taking
    30 pre-warmed dashboards at once waits for 30 first draws in their kernels (0.4 CPU-s each for
    lesson 03, as the pages connect), or the page does not show the figure the kernel drew."""
    record = tmp_path / "draws.txt"
    write_notebook(tmp_path / "95_pooled_figure.ipynb", _COUNTED_DRAWS.format(record=str(record)))
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--prewarm", "95=1"]) as served:
        deadline = time.monotonic() + 120
        while not (record.exists() and "pre-warmed dashboard of 95_pooled_figure.ipynb drawn" in served.log()):
            assert time.monotonic() < deadline, "the pool's kernel never drew its figure"
            time.sleep(0.2)
        time.sleep(1.0)  # nothing else draws it before a student comes
        drawn_before = record.read_text().count("draw")
        page, watcher = open_dashboard(browser, served.page_url("voila/render/95_pooled_figure.ipynb"))
        assert "Using pre-heated kernel" in served.log(), "the page did not get the pool's dashboard"
        page.wait_for_timeout(1000)  # any draw the page's connection asked for
        drawn_after = record.read_text().count("draw")
        red = page.evaluate(_RED_PIXELS)
        finish(page, watcher, "pool_figure_drawn.png")
    assert drawn_before == 1, f"the pool's kernel drew its figure {drawn_before} times before any student"
    assert drawn_after == 1, "the student's page made the kernel draw the figure again"
    assert red > 1000, f"the page does not show the red line the kernel drew ({red} red pixels)"


# The alpha of the figure's top canvas (where ipympl draws its resize handle) in its bottom-right corner.
_HANDLE_ALPHA = """() => {
  const top = document.querySelectorAll('.jupyter-matplotlib-canvas-div canvas')[1];
  return top.getContext('2d').getImageData(top.width - 3, top.height - 3, 1, 1).data[3];
}"""


def test_a_served_figure_has_no_resize_handle(server, browser):
    """Dashboard figures are made not resizable (interactive_figure), but ipympl's front end makes
    every live figure resizable and draws a handle in its corner; the served page keeps the
    kernel's value. If this fails, each figure shows a grey corner a student can drag, and every
    step of the drag lays the figure out and draws it in full in the student's kernel."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    assert page.evaluate(_HANDLE_ALPHA) == 0, "the figure's corner shows ipympl's resize handle"
    move_slider(page, "α (inner lr)", "ArrowRight", "t.length > 0")  # a frame redraws the top canvas too
    assert page.evaluate(_HANDLE_ALPHA) == 0, "the figure's corner shows ipympl's resize handle"
    finish(page, watcher, "03_no_resize_handle.png")


def test_a_slider_move_is_not_echoed_back_to_its_page(server, browser):
    """A served kernel has one page, so ipywidgets' echo of each value the page sets (for other
    front ends of the same kernel) is switched off by the server. If this fails, every slider move
    costs the kernel, the server and the page one more websocket message, and the page one more
    update of the slider it has just moved."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    received = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(payload)))
    page.reload()
    page.wait_for_selector(".mtlviz-status", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(CANVAS_DRAWN, timeout=60_000)
    frames_before = len(received)
    move_slider(page, "α (inner lr)", "ArrowRight", "t.length > 0")  # waits for the figure to change
    during = [frame if isinstance(frame, bytes) else frame.encode() for frame in received[frames_before:]]
    assert any(b'"comm_msg"' in frame for frame in during), "the page's websocket frames were not seen"
    assert not any(b'"echo_update"' in frame for frame in during), "the kernel echoed the slider's value"
    finish(page, watcher, "03_not_echoed.png")


# Where a dashboard's status line ends, in pixels from the top of its dashboard (whatever the scrolling).
_STATUS_BOTTOM = ("() => document.querySelector('.mtlviz-status').getBoundingClientRect().bottom"
                  " - document.querySelector('.mtlviz-dashboard').getBoundingClientRect().top")


def test_stepping_the_meta_lstm_lesson_does_not_move_the_page_below_its_status_line(server, browser):
    """Lesson 05's status line says more from step 1 on (the gates) than at step 0, and wrapped onto
    a second line at the first step and back at step 0: everything below it moved, and Chromium
    laid out, painted and rasterised the page again, 20-35 ms more of its CPU on each student's first
    step (RESULTS.md, "Classroom load"). If this fails, the dashboard no longer keeps room for
    two lines (Dashboard.status_lines) and a class's first steps cost that again."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/05_meta_lstm.ipynb")
    wait_for_status(page, "t.startsWith('1-shot, step 0:')")
    bottoms = [page.evaluate(_STATUS_BOTTOM)]
    for key, step in (("ArrowRight", 1), ("ArrowLeft", 0), ("ArrowRight", 1)):
        move_slider(page, "step t", key, f"t.startsWith('1-shot, step {step}:')")
        bottoms.append(page.evaluate(_STATUS_BOTTOM))
    assert max(bottoms) - min(bottoms) < 1, f"the status line's bottom moved with the steps: {bottoms} px"
    finish(page, watcher, "05_status_line_still.png")


# How tall the first status line is, in pixels.
_STATUS_HEIGHT = "() => document.querySelector('.mtlviz-status').getBoundingClientRect().height"
_TOGGLING_STATUS = """import ipywidgets as widgets
from mtlviz.widgets._base import Dashboard

class Toggling(Dashboard):
    def __init__(self):
        super().__init__()
        self.slider = widgets.IntSlider(value=0, min=0, max=9, description="n")
        self.slider.observe(lambda change: self.show_status(
            f"n = {change['new']}" + (" and a long message" * 40 if change["new"] % 2 else "")), names="value")
        self.children = [self.slider, self.status_line, widgets.HTML("<p>below the dashboard</p>")]
        self.show_status("n = 0")

Toggling()"""


def test_a_served_status_line_keeps_the_height_of_its_longest_message(browser, tmp_path):
    """In a served page a status line never gets shorter again (templates/mtlviz/status-lines.js),
    so a message that wraps onto fewer lines does not move the page below it back up, and the next
    long one down again: each move of that kind made Chromium lay out, paint and rasterise the rest
    of the page (lesson 06's "frozen blocks" did it at every other step). If this fails, the script
    no longer finds the status lines (its CSS animation) or no longer holds their height."""
    write_notebook(tmp_path / "93_toggling_status.ipynb", _TOGGLING_STATUS)
    with VoilaServer(notebook_dir=tmp_path) as served:
        page, watcher = open_dashboard(browser, served.page_url("voila/render/93_toggling_status.ipynb"))
        heights = [page.evaluate(_STATUS_HEIGHT)]
        handle = slider_handle(page, "n")
        handle.focus()
        for n in (1, 2, 3):
            handle.press("ArrowRight")
            wait_for_status(page, f"t.startsWith('n = {n}')")
            # A ResizeObserver is answered in the rendering update after the layout that changed
            # the size: two animation frames later it has run.
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            heights.append(page.evaluate(_STATUS_HEIGHT))
        finish(page, watcher, "status_line_keeps_its_height.png")
    assert heights[1] > heights[0] + 10, f"the long message did not wrap, nothing was tested: {heights} px"
    assert heights[2] == heights[1] == heights[3], f"the status line shrank back with a short message: {heights} px"


def test_diverging_alpha_shows_a_message_not_a_traceback(server, browser):
    """α at its maximum with 10 steps diverges: the class must read a hint, not NaN plots or a traceback."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    before = page.evaluate(_CANVAS_IMAGE)
    handle = slider_handle(page, "α (inner lr)")
    handle.focus()
    handle.press("End")
    steps = slider_handle(page, "inner steps")
    steps.focus()
    steps.press("End")
    wait_for_status(page, "t.includes('α = 1,') && t.includes('10 inner steps') && t.includes('diverged')")
    wait_for_redraw(page, before)
    page.wait_for_timeout(1000)  # the last PNG of the redraw
    text = page.locator(".mtlviz-status").inner_text()
    assert "try α below" in text
    assert "Traceback (most recent call last)" not in page.content()
    finish(page, watcher, "03_diverged.png")


def test_meta_training_runs_live_and_stops(server, browser):
    """The outer-loop panel must train while the page stays responsive, and Stop must halt it."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    page.get_by_role("button", name="Meta-train from scratch").click()
    # Let it train long enough for the meta-loss curve to show, then stop.
    page.wait_for_function(
        "() => { const m = /outer step (\\d+) \\/ 2000/.exec(document.body.innerText); return m && +m[1] >= 150; }",
        timeout=120_000)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("() => document.body.innerText.includes('stopped after')", timeout=30_000)
    stopped_text = page.locator("text=/outer step \\d+/").first.inner_text()
    time.sleep(1.5)
    assert page.locator("text=/outer step \\d+/").first.inner_text() == stopped_text, "training went on after Stop"
    assert page.get_by_role("button", name="Meta-train from scratch").is_enabled()
    finish(page, watcher, "03_trained_live.png")


def test_leaving_a_dashboard_frees_its_kernel(server, browser):
    """Each open dashboard holds a kernel (~300 MB with torch); leaving must free it or memory runs out."""
    baseline = set(server.kernel_pids())
    page, _ = open_dashboard(browser, server.url + f"voila/render/{MAIN_LESSON}")
    opened = set(server.kernel_pids()) - baseline
    assert len(opened) == 1
    page.goto("about:blank")  # the student moves on: Voila's beforeunload beacon asks for shutdown
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and opened & set(server.kernel_pids()):
        time.sleep(0.5)
    assert not opened & set(server.kernel_pids()), "the kernel outlived its page (shutdown beacon rejected?)"
    page.close()


def test_a_page_waiting_for_its_kernel_turns_its_spinner_in_steps(browser, tmp_path):
    """If this fails, a page waiting for its kernel redraws Voila's spinner at the display's frame
    rate again: five waiting pages then cost this machine's Chromium 4.9-5.1 CPU-s per 10 s instead
    of 2.4-2.5, and in a class whose pages wait their turn to start, that CPU is taken from the
    kernels the pages wait for (RESULTS.md, "Classroom load", 2026-12-04)."""
    write_notebook(tmp_path / "92_waits.ipynb", "import time; time.sleep(60)")
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--start-slots=0"]) as waiting:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(waiting.page_url("voila/render/92_waits.ipynb"), wait_until="commit")
        spinner = page.wait_for_selector("#loading .spinner", state="visible", timeout=60_000)
        name, timing = page.evaluate(
            "el => [getComputedStyle(el).animationName, getComputedStyle(el).animationTimingFunction]", spinner)
        page.close()
    assert name == "rotation", f"Voila's spinner no longer turns by the 'rotation' animation ({name!r}): check the template"
    assert timing.startswith("steps("), f"the spinner turns smoothly ({timing}), redrawn at every frame"


def test_a_student_who_waits_their_turn_sees_a_finished_page_and_the_lesson_opens_by_itself(browser, tmp_path):
    """With one dashboard opening at a time, the second student's tab must show a finished page
    (``document.readyState`` complete: a page still loading costs Chromium CPU for as long as it
    waits) that says they are next, then turn into the lesson without a click or a reload. If this
    fails, a student in a busy class stares at a page that never opens, or at a loading one again."""
    write_notebook(tmp_path / "93_slow.ipynb", "import time\ntime.sleep(5)\nprint('the lesson ran')")
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--open-at-once=1"]) as busy:
        url = busy.page_url("voila/render/93_slow.ipynb")
        first = browser.new_page(viewport={"width": 1400, "height": 1000})
        first.goto(url, wait_until="commit")
        deadline = time.monotonic() + 60
        while not busy.started_kernel_ids() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = browser.new_page(viewport={"width": 1400, "height": 1000})
        watcher = PageWatcher(second)
        second.goto(url, timeout=PAGE_TIMEOUT_MS)
        room = second.wait_for_selector("#mtlviz-waiting-room", timeout=10_000)
        assert "You are next." in room.inner_text()
        assert second.evaluate("document.readyState") == "complete", "the waiting page is still loading"
        assert "mtlviz_ticket=" in second.url, "a reload would lose the student's place"
        ARTIFACTS.mkdir(exist_ok=True)
        second.screenshot(path=str(ARTIFACTS / "waiting_room.png"))
        second.wait_for_selector("text=the lesson ran", timeout=120_000)
        first.wait_for_selector("text=the lesson ran", timeout=10_000)
        assert len(busy.started_kernel_ids()) == 2
        assert_clean(watcher)
        first.close()
        second.close()


def test_seed_lesson_checkbox_switches_the_model(server, browser):
    """In lesson 04, unticking a fix must redraw with the buggy model and say which one."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/04_seed_code_example_corrected.ipynb")
    before = page.evaluate(_CANVAS_IMAGE)
    page.get_by_label("fix 2: score on a separate query set").uncheck()
    wait_for_status(page, "t.startsWith('bug: query set = support set')")
    wait_for_redraw(page, before)
    finish(page, watcher, "04_query_bug.png")


def test_formula_lesson_theta_slider_moves_the_plot(server, browser):
    """In lesson 02, moving θ must redraw θ, the arrows and the printed meta-gradients."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/02_maml_formula_made_visible.ipynb")
    before = page.evaluate(_CANVAS_IMAGE)
    status_before = page.locator(".mtlviz-status").first.inner_text()
    handle = slider_handle(page, "θ: w (slope)")
    handle.focus()
    for _ in range(4):
        handle.press("ArrowLeft")
    wait_for_status(page, "t.includes('θ = (0.30')")
    wait_for_redraw(page, before)
    assert page.locator(".mtlviz-status").first.inner_text() != status_before
    finish(page, watcher, "02_theta_moved.png")


def test_formula_lesson_k_control_and_update_rules(server, browser):
    """In lesson 02, K must resample the support sets and print the new gap; the second dashboard
    (the sine model's three update rules) must draw and follow its Reptile-steps slider."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/02_maml_formula_made_visible.ipynb")
    move_slider(page, "K (support points)", "ArrowRight", "t.includes('K = 10 support, 20 query points')")
    rules_status = page.locator(".mtlviz-status").nth(1)
    rules_status.scroll_into_view_if_needed()  # as a student would, before using the second dashboard
    assert "Reptile k = 5" in rules_status.inner_text()
    rules_canvas = "() => document.querySelectorAll('.jupyter-matplotlib-canvas-div')[1].querySelector('canvas').toDataURL()"
    before = page.evaluate(rules_canvas)
    handle = slider_handle(page, "k (Reptile steps)")
    handle.focus()
    handle.press("Home")
    page.wait_for_function("() => document.querySelectorAll('.mtlviz-status')[1].innerText.includes('Reptile k = 1')",
                           timeout=30_000)
    page.wait_for_function(f"() => ({rules_canvas})() !== {before!r}", timeout=30_000)
    finish(page, watcher, "02_k_and_update_rules.png")


def test_start_here_guide_answers_and_links_a_lesson(server, browser):
    """In lesson 00, changing the situation must change the advice, which links to a real lesson."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/00_start_here.ipynb")
    status = page.locator(".mtlviz-status")
    assert "meta-learning (MAML;" in status.inner_text()
    handle = slider_handle(page, "related tasks with labels")
    handle.focus()
    handle.press("Home")  # no related tasks: meta-learning is no longer an option
    wait_for_status(page, "t.includes('feature extraction')")
    link = page.locator(".mtlviz-status a")
    if link.count():  # lesson 06 may not exist yet; then the advice says "(coming)" instead of a link
        assert link.first.get_attribute("href").endswith(".ipynb")
    else:
        assert "(coming)" in status.inner_text()
    maml_link = page.locator('.mtlviz-course-map a[href="03_maml_inner_and_outer_loop.ipynb"]')
    assert maml_link.count() == 1, "the course map must link every available lesson"
    finish(page, watcher, "00_guide.png")


def test_few_shot_lesson_n_slider_redraws_the_episode(server, browser):
    """In lesson 01, changing N must redraw the episode with N rows."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/01_few_shot_tasks.ipynb")
    move_slider(page, "N (classes)", "ArrowLeft", "t.startsWith('4-way 1-shot')")
    finish(page, watcher, "01_episode.png")


def test_few_shot_lesson_query_batch_dashboard_draws_a_new_episode(server, browser):
    """Lesson 01's batch-norm caution: its New episode button must adapt to the next episode and
    redraw (the second New episode button on the page; the first belongs to the episode viewer)."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/01_few_shot_tasks.ipynb")
    dashboard = page.locator(".mtlviz-dashboard").filter(has_text="query images normalised together")
    dashboard.wait_for(timeout=30_000)
    dashboard.scroll_into_view_if_needed()
    canvas = dashboard.locator(".jupyter-matplotlib-canvas-div canvas").first
    before = canvas.evaluate("c => c.toDataURL()")
    dashboard.get_by_role("button", name="New episode").click()
    status = dashboard.locator(".mtlviz-status")
    page.wait_for_function("s => s.innerText.startsWith('episode 1:')", arg=status.element_handle(), timeout=30_000)
    page.wait_for_function("([c, b]) => c.toDataURL() !== b", arg=[canvas.element_handle(), before], timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(2000)
    dashboard.screenshot(path=str(ARTIFACTS / "01_query_batch.png"))
    finish(page, watcher, "01_query_batch_page.png")


def test_transfer_lesson_sliders_and_target_redraw_the_curves(server, browser):
    """In lesson 06, moving 'frozen blocks' and 'labels/class' must redraw the curves and say
    the new setting; switching the target must redraw every curve."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/06_fine_tuning_vs_feature_extraction.ipynb")
    wait_for_status(page, "t.startsWith('digits, K = 5 labels per class, 2 frozen blocks')")
    move_slider(page, "frozen blocks", "ArrowRight",
                "t.includes('3 frozen blocks') && t.includes('fine-tuning, 3 frozen')")
    move_slider(page, "labels/class", "ArrowRight", "t.includes('K = 10 labels per class')")
    click_button(page, "new glyph scripts (near the source)", "t.startsWith('glyphs, K = 10')")
    page.wait_for_timeout(1000)  # let the last frame arrive before the screenshot
    finish(page, watcher, "06_transfer.png")


def test_meta_lstm_lesson_step_slider_and_shot_toggle(server, browser):
    """In lesson 05, moving 'step t' must redraw the figure and report that step; switching to
    5-shot must adapt the models to a 5-shot episode."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/05_meta_lstm.ipynb")
    wait_for_status(page, "t.startsWith('1-shot, step 0:')")
    move_slider(page, "step t", "ArrowRight",
                "t.startsWith('1-shot, step 1:') && t.includes('mean input gate')")
    click_button(page, "5-shot", "t.startsWith('5-shot, step 1:')")
    page.wait_for_timeout(1000)  # let the last frame of the redraw arrive before the screenshot
    finish(page, watcher, "05_meta_lstm.png")


def test_cost_lesson_switches_network_and_measures_here(server, browser):
    """Lesson 12: switching the network redraws the shipped measurement, and "Measure on this
    machine" measures the sinusoid in the page's kernel, draws it and says what ran and how long
    (the graph memory identical to the shipped run), then the glyph net (every method, Meta-LSTM and
    ProtoNet included, one episode per meta-step) and the log-scale box redraws; one status line,
    never a traceback."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/12_what_meta_learning_costs.ipynb")
    try:
        wait_for_status(page, "t.startsWith('shipped run') && t.includes('MAML')")
        first = page.locator(".mtlviz-status").inner_text()
        click_button(page, "glyph ConvNet", f"t.startsWith('shipped run') && t !== {first!r}")
        click_button(page, "sinusoid MLP", f"t === {first!r}")
        click_button(page, "Measure on this machine",
                     "t.startsWith('measured here in') && t.includes('identical to the shipped run')")
        assert "\n" not in page.locator(".mtlviz-status").inner_text()
        # the glyph net, Meta-LSTM and ProtoNet included, measured here on one episode, on a log scale
        click_button(page, "glyph ConvNet", "t.startsWith('shipped run')")
        click_button(page, "Measure on this machine", "t.startsWith('measured here in') && t.includes('1 task per')")
        before = page.evaluate(_CANVAS_IMAGE)
        page.get_by_role("checkbox", name="log scale").check()
        wait_for_redraw(page, before)
        wait_for_status(page, "t.startsWith('measured here in')")  # the scale changed, the report stays
        assert page.locator(".jp-OutputArea-output pre", has_text="Traceback").count() == 0
        page.wait_for_timeout(1000)  # let the last frame arrive before the screenshot
        finish(page, watcher, "12_what_meta_learning_costs_measured.png")
    finally:
        if not page.is_closed():
            page.close()


def test_domain_adaptation_lesson_angle_slider_redraws(server, browser):
    """In lesson 07, moving the target rotation must redraw the three decision boundaries and
    report the new angle's accuracies, from the precomputed fits."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/07_domain_adaptation.ipynb")
    wait_for_status(page, "t.startsWith('precomputed fit at 30°')")
    move_slider(page, "target rotation", "ArrowRight",
                "t.startsWith('precomputed fit at 40°') && t.includes('DANN')")
    assert "Precomputed" in page.inner_text("body")
    page.wait_for_timeout(1000)  # let the last frame of the redraw arrive before the screenshot
    finish(page, watcher, "07_domain_adaptation.png")


def test_point_robot_goal_by_click_and_a_goal_outside_the_arena_is_one_line(server, browser):
    """Lesson 10: a click on a plane moves the goal there and both policies adapt to it; a typed
    goal outside the arena gives one line naming goal_x, never a traceback."""
    page, watcher = open_dashboard(browser, server.page_url("voila/render/10_meta_rl_point_robot.ipynb"))
    try:
        wait_for_status(page, "t.startsWith('goal (0.30, -0.20)')")
        canvas = page.locator(".jupyter-matplotlib-canvas-div canvas").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        before = page.evaluate(_CANVAS_IMAGE)
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)  # ipympl wants the pointer in first
        page.mouse.click(box["x"] + box["width"] * 0.14, box["y"] + box["height"] * 0.29)  # MAML plane, upper left
        wait_for_status(page, "t.startsWith('goal (-') && t.includes('MAML:') && t.includes('pretrained:')")
        wait_for_redraw(page, before)
        goal = page.locator(".mtlviz-status").inner_text().split("(")[1].split(")")[0]
        x, y = (float(v) for v in goal.split(","))
        assert -0.5 <= x < 0 < y <= 0.5, goal
        goal_x = page.locator(".mtlviz-dashboard input").first
        goal_x.fill("0.9")
        goal_x.press("Enter")
        wait_for_status(page, "t.includes('goal_x must be in [-0.5, 0.5]')")
        assert "\n" not in page.locator(".mtlviz-status").inner_text()
        assert page.locator(".jp-OutputArea-output pre", has_text="Traceback").count() == 0
        assert_clean(watcher)
    finally:
        page.close()


def test_task_pool_slider_moves_between_the_shipped_models(server, browser):
    """Lesson 11: moving the T slider must switch to that pool's shipped model and redraw (status
    names the new T), the ∞ end must work, and New task must redraw; never a traceback."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/11_how_many_tasks.ipynb")
    try:
        wait_for_status(page, "t.startsWith('T = 10, 5 steps')")
        move_slider(page, "T (meta-training tasks)", "ArrowRight", "t.startsWith('T = 25, 5 steps')")
        move_slider(page, "T (meta-training tasks)", "End", "t.startsWith('T = ∞, 5 steps')")
        move_slider(page, "T (meta-training tasks)", "Home", "t.startsWith('T = 1, 5 steps') && t.includes('MAML own tasks')")
        first = page.locator(".mtlviz-status").inner_text()
        click_button(page, "New task", f"t.startsWith('T = 1, 5 steps') && t !== {first!r}")
        assert "\n" not in page.locator(".mtlviz-status").inner_text()
        assert page.locator(".jp-OutputArea-output pre", has_text="Traceback").count() == 0
        page.wait_for_timeout(1000)  # let the last frame arrive before the screenshot
        finish(page, watcher, "11_how_many_tasks_slider.png")
    finally:
        if not page.is_closed():
            page.close()


LESSON_08 = "08_metric_based_meta_learning.ipynb"


def test_metric_lesson_new_episode_and_own_task(server, browser):
    """'New episode' must redraw the embedding map with a new status; in the own task, 'Check my
    answers' must stay disabled with one query unanswered and, once all are answered, show the
    student's score beside the three learners'."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{LESSON_08}")
    first = page.locator(".mtlviz-status").first.inner_text()
    assert "query images nearest their own class's prototype" in first
    click_button(page, "New episode", f"t !== {first!r}")
    own = page.locator(".mtlviz-dashboard").nth(1)
    submit = own.get_by_role("button", name="Check my answers")
    selects = own.locator("select")
    assert selects.count() == 10 and submit.is_disabled()
    for i in range(9):
        selects.nth(i).select_option(label="ABCDE"[i % 5])
    page.wait_for_timeout(500)
    assert submit.is_disabled(), "an incomplete answer could be submitted"
    assert "1 of 10 query images still to answer" in own.locator(".mtlviz-status").inner_text()
    selects.nth(9).select_option(label="A")
    page.wait_for_function("() => !Array.from(document.querySelectorAll('button'))"
                           ".find(b => b.innerText.includes('Check my answers')).disabled", timeout=30_000)
    submit.click()
    page.wait_for_function("() => document.querySelectorAll('.mtlviz-status')[1].innerText.includes('the best model')",
                           timeout=60_000)
    board = own.inner_text()
    for name in ("you", "MAML", "ProtoNet", "pixel nearest neighbour"):
        assert name in board
    page.wait_for_timeout(1000)
    finish(page, watcher, "08_metric_based_meta_learning.png")


def test_first_order_steps_slider_redraws_every_model(server, browser):
    """Lesson 09: moving the inner-steps slider must redraw the four models' adaptation (the
    dashboard blits over a cached background: a stale background would show old curves) and the
    status must name the new step count; New task must redraw too; never a traceback."""
    page, watcher = open_dashboard(browser, server.url + "voila/render/09_first_order_and_feature_reuse.ipynb")
    try:
        wait_for_status(page, "t.includes('query MSE after 5 steps')")
        move_slider(page, "inner steps (α = 0.01)", "ArrowRight", "t.includes('query MSE after 6 steps')")
        move_slider(page, "inner steps (α = 0.01)", "Home", "t.includes('query MSE after 0 steps')")
        first = page.locator(".mtlviz-status").first.inner_text()
        click_button(page, "New task", f"t.includes('after 0 steps') && t !== {first!r}")
        assert page.locator(".jp-OutputArea-output pre", has_text="Traceback").count() == 0
        page.wait_for_timeout(1000)  # let the last frame arrive before the screenshot
        finish(page, watcher, "09_first_order_steps.png")
    finally:
        if not page.is_closed():
            page.close()
