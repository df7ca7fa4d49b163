"""Control-to-plot latency of the lesson dashboards in a real browser (sliders, and the toggles,
boxes and plot clicks of lessons without one).

    python benchmarks/slider_latency.py [--moves 20] [--runs 3]
    python benchmarks/slider_latency.py --lesson 07_domain_adaptation.ipynb --slider "target rotation"
    python benchmarks/slider_latency.py --all [--runs 1]  # every lesson's main controls (LESSON_CONTROLS)

Starts ``python -m mtlviz.serve`` on a free loopback port, opens the dashboard in headless
Debian Chromium, presses the α slider's arrow keys and measures, in the page's own clock, the
time from the key press to the moment ipympl paints the kernel's new frame onto the canvas
(its ``drawImage`` call; the browser's own paint follows within a frame). The baseline, in
the same run and browser, is a one-line ipympl toy (``set_ydata`` + ``draw_idle``): the floor
that Voila, the websocket and ipympl's PNG round trip cost before any mtlviz work.
Prints p50/p95 per setting. Target (issue #2): p95 <= 150 ms. With ``--lesson`` and ``--slider``
it measures that lesson's slider (the one whose label contains the text) instead of lesson 03's.
With ``--all`` it measures, after the toy, every lesson's main controls (:data:`LESSON_CONTROLS`:
a slider by its arrow keys; toggle buttons, a checkbox or the plot by clicks, timed from the
pointer going down), each control in a fresh page and kernel per run, and names the lessons that
draw no plot a control changes. Issue 19's target: p95 <= 120 ms per lesson.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root: its tests' harness, and this checkout's mtlviz
from tests.harness import VoilaServer, launch_chromium  # noqa: E402
LESSON = "03_maml_inner_and_outer_loop.ipynb"
TOY = "00_toy_baseline.ipynb"
#: Each lesson's main controls for ``--all``, one row each: ``("slider", text)``, the first slider
#: whose label holds the text, moved by its arrow keys; ``("toggle", text)``, the toggle buttons
#: whose description holds the text, each move clicking the next option; ``("checkbox", text)``;
#: ``("plot", points)``, clicks on the page's first figure at these fractions of its width and
#: height, in turn. None: the lesson draws no plot a control changes (lesson 00's guide answers in
#: a line of text).
LESSON_CONTROLS = {
    "00_start_here": None,
    "01_few_shot_tasks": [("slider", "K (support/class)")],
    "02_maml_formula_made_visible": [("slider", "θ: w (slope)")],
    "03_maml_inner_and_outer_loop": [("slider", "α (inner lr)")],
    "04_seed_code_example_corrected": [("slider", "test task")],
    "05_meta_lstm": [("slider", "step t")],
    "06_fine_tuning_vs_feature_extraction": [("slider", "frozen blocks")],
    "07_domain_adaptation": [("slider", "target rotation")],
    "08_metric_based_meta_learning": [("toggle", "embedding"), ("toggle", "support")],
    "09_first_order_and_feature_reuse": [("slider", "inner steps")],
    # goals on the MAML plane, all inside the arena
    "10_meta_rl_point_robot": [("plot", ((0.13, 0.45), (0.15, 0.5), (0.17, 0.55), (0.19, 0.45), (0.21, 0.5)))],
    "11_how_many_tasks": [("slider", "inner steps")],
    "12_what_meta_learning_costs": [("toggle", "network"), ("checkbox", "log scale")],
}
CANVAS = ".jupyter-matplotlib-canvas-div canvas"

TOY_SOURCE = """import ipywidgets as widgets
import numpy as np
from mtlviz.widgets._canvas import interactive_figure
figure, canvas = interactive_figure(12.0, 3.7)
x = np.linspace(-5, 5, 200)
(line,) = figure.subplots().plot(x, np.sin(x))
slider = widgets.FloatLogSlider(value=0.01, base=10, min=-4, max=0, step=0.1, description="α (inner lr)")
def _on_value(change):
    line.set_ydata(np.sin(x) * (1 + np.log10(change["new"]) / 4))
    canvas.draw_idle()
slider.observe(_on_value, names="value")
widgets.VBox([slider, canvas])"""

# Installed before any page script runs: stamp every key press and click, and every image that ipympl's
# front end paints onto a canvas (it draws each PNG frame from the kernel with drawImage), so
# the latency is measured in the page's own clock without polling the canvas's pixels; a script
# awaiting the frame (:data:`FRAME_LATENCY`) is answered at that moment, without polling.
# ``__pauses``: the time from each frame to the next key press, the pace a driver kept.
_INSTRUMENT = """
window.__pauses = [];
const stamp = () => {
  const now = performance.now();
  if (window.__t1) window.__pauses.push(now - window.__t1);  // from the last frame to this key press
  window.__t0 = now;
  window.__t1 = null;
};
document.addEventListener('keydown', stamp, true);
document.addEventListener('pointerdown', stamp, true);  // a click on a button, a box or the plot
window.__frameWaiters = [];
const drawImage = CanvasRenderingContext2D.prototype.drawImage;
CanvasRenderingContext2D.prototype.drawImage = function (...args) {
  if (window.__t0 !== undefined && window.__t1 === null) {
    window.__t1 = performance.now();
    window.__frameWaiters.splice(0).forEach(resolve => resolve(window.__t1 - window.__t0));
  }
  return drawImage.apply(this, args);
};
"""

#: Evaluated in the page after a key press: the key-to-frame time in ms, once the frame is drawn.
FRAME_LATENCY = ("() => (window.__t1 !== null && window.__t1 !== undefined) ? window.__t1 - window.__t0"
                 " : new Promise(resolve => window.__frameWaiters.push(resolve))")


def percentile(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def next_key(handle, i):
    """The arrow key of move ``i``: five steps one way, then five back; turn early at either
    end of the slider (its noUi handle says where it is), so every press moves it."""
    key = "ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft"
    now, low, high = (handle.get_attribute(name) for name in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
    if None in (now, low, high):
        return key
    now, low, high = float(now), float(low), float(high)
    if key == "ArrowRight" and now >= high:
        key = "ArrowLeft"
    elif key == "ArrowLeft" and now <= low:
        key = "ArrowRight"
    return key


def press(page, control, i):
    """Move ``control`` (a :data:`LESSON_CONTROLS` entry) once: move ``i`` of a run."""
    kind, what = control
    if kind == "slider":
        handle = page.locator(".widget-hslider", has_text=what).first.locator(".noUi-handle")
        handle.press(next_key(handle, i))
    elif kind == "toggle":
        buttons = page.locator(".widget-toggle-buttons", has_text=what).first.locator("button")
        count = buttons.count()
        active = next((k for k in range(count) if "mod-active" in (buttons.nth(k).get_attribute("class") or "")), 0)
        buttons.nth((active + 1) % count).click()
    elif kind == "checkbox":
        page.locator(".widget-checkbox", has_text=what).first.locator("input").click()
    elif kind == "plot":
        canvas = page.locator(CANVAS).first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        x, y = what[i % len(what)]
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    else:
        raise ValueError(f"control kind must be slider, toggle, checkbox or plot; got {kind!r}")


def measure(page, control, moves):
    """Milliseconds from each of ``moves`` presses of ``control`` to the canvas's next frame."""
    latencies = []
    if control[0] == "slider":
        page.locator(".widget-hslider", has_text=control[1]).first.locator(".noUi-handle").focus()
    for i in range(moves):
        press(page, control, i)
        page.wait_for_function("() => window.__t1 !== null && window.__t1 !== undefined", timeout=30_000)
        latencies.append(page.evaluate("() => window.__t1 - window.__t0"))
        page.wait_for_timeout(150)  # let the rest of the frame land before the next move
    return latencies


def control_name(control):
    kind, what = control
    return what if kind == "slider" else "clicks on the plot" if kind == "plot" else f"{what} ({kind})"


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(_INSTRUMENT)
    page.goto(url, timeout=180_000)
    page.wait_for_selector(CANVAS, timeout=180_000)
    page.wait_for_timeout(1500)  # let the first draw settle
    return page


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20, help="slider moves per run (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting (default 3)")
    parser.add_argument("--lesson", default=None,
                        help="another lesson in notebooks/ to measure instead of lesson 03 (needs --slider)")
    parser.add_argument("--slider", default=None, help="text of that lesson's slider label, e.g. 'target rotation'")
    parser.add_argument("--all", action="store_true", help="every lesson's main controls (LESSON_CONTROLS), after the toy")
    args = parser.parse_args(argv)
    if args.all and args.lesson is not None:
        parser.error("--all measures every lesson: leave out --lesson and --slider")
    if (args.lesson is None) != (args.slider is None):
        parser.error("--lesson and --slider go together")
    if args.lesson is not None and not (ROOT / "notebooks" / args.lesson).is_file():
        parser.error(f"--lesson: no notebooks/{args.lesson}")
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="mtlviz-latency-"))
    lesson = LESSON if args.lesson is None else args.lesson
    shutil.copy(ROOT / "notebooks" / lesson, workdir / lesson)
    no_plot = []
    if args.all:
        lessons = []
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            controls = LESSON_CONTROLS.get(path.stem, "")
            if controls is None:
                no_plot.append(path.stem)
                continue
            if controls == "":
                print(f"{path.stem}: not in LESSON_CONTROLS, skipped (add its main controls)", flush=True)
                continue
            shutil.copy(path, workdir / path.name)
            lessons += [(path.name, control) for control in controls]
    nbformat.write(new_notebook(cells=[new_code_cell(TOY_SOURCE)]), workdir / TOY)
    rows, failed = [], []
    with VoilaServer(notebook_dir=workdir) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        alpha = ("slider", "α (inner lr)")
        settings = [("baseline: ipympl toy, set_ydata", TOY, None, alpha),
                    ("mtlviz lesson 03, 1 inner step", LESSON, None, alpha),
                    ("mtlviz lesson 03, 10 inner steps", LESSON, 10, alpha)]
        if args.lesson is not None:
            settings = [settings[0], (f"mtlviz {Path(lesson).stem[:20]}", lesson, None, ("slider", args.slider))]
        if args.all:
            settings = [settings[0]] + [(f"{Path(name).stem[:22]}: {control_name(control)}", name, None, control)
                                        for name, control in lessons]
        for label, notebook, n_steps, control in settings:
            latencies = []
            try:
                for _ in range(args.runs):
                    page = open_page(browser, server.url + f"voila/render/{notebook}")
                    if n_steps is not None:
                        steps = page.locator(".widget-hslider", has_text="inner steps").locator(".noUi-handle")
                        steps.focus()
                        steps.press("End")
                        page.wait_for_timeout(1500)
                    latencies += measure(page, control, args.moves)
                    page.goto("about:blank")
                    page.close()
            except Exception as error:  # noqa: BLE001 -- with --all, one lesson's failure must not hide the others
                if not args.all:
                    raise
                failed.append(f"{label}: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
                continue
            rows.append((label, len(latencies), statistics.median(latencies), percentile(latencies, 0.95)))
        browser.close()
    shutil.rmtree(workdir, ignore_errors=True)
    import os

    print(f"Control-to-plot latency, headless Chromium, {args.runs} runs x {args.moves} moves "
          f"(α; {'each lesson' + chr(39) + 's main controls' if args.all else args.slider or 'α'} in the lesson); "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    width = max(36, max(len(label) for label, *_ in rows))
    print(f"{'setting':<{width}} {'moves':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for label, n, p50, p95 in rows:
        print(f"{label:<{width}} {n:>5} {p50:>8.0f} {p95:>8.0f}")
    if no_plot:
        print(f"no plot a control changes: {', '.join(no_plot)}")
    for line in failed:
        print(f"FAILED {line}")
    print("target: p95 <= 150 ms for the lesson dashboard (issue 19: <= 120 ms for every lesson's main controls)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
