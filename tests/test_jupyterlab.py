"""The lessons in a real JupyterLab (the students' other way in): a real Lab server on 127.0.0.1
with a token, real headless Chromium (Debian's, through Playwright), every lesson run with
Lab's own "Run All Cells".

One Lab server for all lessons, lessons one after another, each kernel shut down after its lesson.
Lab runs on a copy of notebooks/ so that its autosave never writes outputs into the lessons.
Lab reads the course's settings override (jupyter/lab/settings/overrides.json: no news pop-up, no
update check) from ``--LabApp.app_settings_dir``; scripts/setup.sh also copies it into the venv.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests._lessons import LESSONS, NOTEBOOK_DIR
from tests.harness import CANVAS_DRAWN, PageWatcher, free_port, stop_process

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
OVERRIDES_DIR = ROOT / "jupyter" / "lab" / "settings"
TOKEN = "mtlviz-lab-test"
CELL_TIMEOUT_MS = 300_000

# Every code cell of the current notebook has run and its kernel is idle: [cells, ran, status].
PROGRESS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext.session) return null;
  const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
  const ran = code.filter(cell => cell.model.executionCount !== null).length;
  const kernel = panel.sessionContext.session.kernel;
  return [code.length, ran, kernel ? kernel.status : 'none',
          code.filter(cell => cell.promptNode && cell.promptNode.textContent.includes('*')).length];
}"""

# What every output of every code cell is: error outputs (with their text) and widget views, from
# the notebook model (independent of Lab's windowing, which may not have rendered far-off cells).
OUTPUTS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errors = [], views = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const output = outputs.get(i).toJSON();
      if (output.output_type === 'error') errors.push(`cell ${index}: ${output.ename}: ${output.evalue}`);
      if (output.data && output.data['application/vnd.jupyter.widget-view+json']) views.push(index);
    }
  });
  return {errors, views};
}"""

# Scroll to each cell that holds a widget view (Lab renders only cells near the window) and wait
# until Lab has drawn the view and every figure in it: per cell, what it found.
VIEWS_DRAWN = """async (indices) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const blank = canvas => {
    if (!canvas.width) return true;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4 * 97) if (data[i] < 250 || data[i + 1] < 250) return false;
    return true;
  };
  const found = [];
  for (const index of indices) {
    const cell = panel.content.widgets[index];
    await panel.content.scrollToCell(cell, 'start');
    let state = null;
    for (let waited = 0; waited < 30000; waited += 250) {
      const node = cell.node;
      const canvases = Array.from(node.querySelectorAll('.jupyter-matplotlib-canvas-div canvas'));
      state = {cell: index, rendered: node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
               errors: (node.innerText.match(/Error displaying widget|model not found/gi) || []).length,
               canvases: canvases.length, blank: canvases.filter(blank).length};
      if (state.errors || (state.rendered && !state.blank)) break;
      await new Promise(resolve => setTimeout(resolve, 250));
    }
    found.push(state);
  }
  return found;
}"""


class LabServer:
    """``jupyter lab`` in a subprocess on 127.0.0.1 with a token, on a copy of the lessons."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = None
        self.log_path = workdir / "lab.log"

    def start(self, timeout: float = 90.0) -> "LabServer":
        notebooks = self.workdir / "notebooks"
        shutil.copytree(NOTEBOOK_DIR, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        home = self.workdir / "home"  # no developer's ~/.jupyter settings or workspaces leak in
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
               "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_PLATFORM_DIRS": "1"}
        args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={notebooks}",
                "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={OVERRIDES_DIR}",
                f"--LabApp.user_settings_dir={home / 'user-settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")  # JupyterLab refuses to start as root without it (FIELD-NOTES)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + f"api/status?token={TOKEN}", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{self.log()}")

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url + f"api/{path}", method=method,
                                         headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process, timeout=20)
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture(scope="module")
def lab():
    workdir = Path(tempfile.mkdtemp(prefix="mtlviz-lab-"))
    server = LabServer(workdir).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def open_lesson(lab, browser, lesson):
    """Open ``lesson`` in Lab, wait for its kernel, run all cells, wait until every cell has run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    watcher = PageWatcher(page)
    page.goto(lab.url + f"lab/tree/{lesson}?reset&token={TOKEN}", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.isReady"
                           " && window.jupyterapp.shell.currentWidget.context.isReady", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"() => {{ const p = ({PROGRESS})(); return p && p[0] > 0 && p[1] === p[0]"
                           f" && p[2] === 'idle' && p[3] === 0; }}", timeout=CELL_TIMEOUT_MS, polling=500)
    page.wait_for_timeout(1500)  # the widget views' first paint after the last cell
    return page, watcher


def close_lesson(lab, page):
    """Shut the lesson's kernel down (as File > Close and Shut Down would) and close the tab."""
    for session in lab.api("sessions"):
        lab.api(f"sessions/{session['id']}", method="DELETE")
    page.close()


def screenshot_first_view(page, views, name):
    """Scroll the lesson's first widget view (its dashboard) to the top and save the window."""
    ARTIFACTS.mkdir(exist_ok=True)
    if views:
        page.evaluate("""async index => { const panel = window.jupyterapp.shell.currentWidget;
                         await panel.content.scrollToCell(panel.content.widgets[index], 'start'); }""", views[0])
        page.wait_for_timeout(700)
    page.screenshot(path=str(ARTIFACTS / name))


MOVED_LESSON = "03_maml_inner_and_outer_loop.ipynb"
_FIRST_CANVAS = ("() => window.jupyterapp.shell.currentWidget.node"
                 ".querySelector('.jupyter-matplotlib-canvas-div canvas').toDataURL()")


def test_every_lesson_runs_in_jupyterlab_with_its_figures_and_widgets_drawn(lab, browser):
    """If this fails, a student who opens a lesson in JupyterLab (not the Voila dashboard) and presses
    Run All meets a traceback, an "Error displaying widget" box, a blank figure, a console error, a
    request to the internet, or the news pop-up; the lesson that failed is named."""
    problems, timings = {}, {}
    for lesson in LESSONS:
        started = time.monotonic()
        page, watcher = open_lesson(lab, browser, lesson)
        outputs = page.evaluate(OUTPUTS)
        views = page.evaluate(VIEWS_DRAWN, outputs["views"])
        news = page.get_by_text("official Jupyter news").count()
        screenshot_first_view(page, outputs["views"], f"lab_{Path(lesson).stem}.png")
        found = []
        if outputs["errors"]:
            found.append(f"error outputs: {outputs['errors']}")
        if not outputs["views"]:
            found.append("no widget view at all (the dashboard cell showed nothing)")
        for view in views:
            if view["errors"]:
                found.append(f"cell {view['cell']}: 'Error displaying widget' or 'model not found'")
            elif not view["rendered"]:
                found.append(f"cell {view['cell']}: widget view sent, not rendered within 30 s")
            elif view["blank"]:
                found.append(f"cell {view['cell']}: {view['blank']} of {view['canvases']} figures blank")
        if news:
            found.append("the Jupyter news pop-up is shown")
        if watcher.console_errors:
            found.append(f"console errors: {watcher.console_errors}")
        if watcher.external_requests:
            found.append(f"requests left 127.0.0.1: {watcher.external_requests}")
        if found:
            problems[lesson] = found
        close_lesson(lab, page)
        timings[lesson] = round(time.monotonic() - started, 1)
    print("seconds per lesson in JupyterLab:", timings)
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)
    assert lab.api("kernels") == [], "a lesson's kernel was left running"


def test_moving_a_slider_in_jupyterlab_redraws_the_figure(lab, browser):
    """If this fails, a student in JupyterLab moves lesson 03's α slider and the plot stays frozen
    (the kernel-to-page path of ipywidgets/ipympl in Lab is broken), or the move raises an error."""
    page, watcher = open_lesson(lab, browser, MOVED_LESSON)
    views = page.evaluate(OUTPUTS)["views"]
    assert page.evaluate(VIEWS_DRAWN, views[:1])[0]["rendered"]
    page.wait_for_function(CANVAS_DRAWN, timeout=30_000)
    before = page.evaluate(_FIRST_CANVAS)
    handle = page.locator(".widget-hslider", has_text="α (inner lr)").first.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    status_before = page.locator(".mtlviz-status").first.inner_text()
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function(f"() => ({_FIRST_CANVAS})() !== {before!r}", timeout=30_000)
    # Five steps of 0.1 on the log10 scale take α from 0.01 to 10^-1.5 = 0.0316.
    page.wait_for_function("() => document.querySelector('.mtlviz-status').innerText.includes('α = 0.03162')",
                           timeout=30_000)
    assert page.locator(".mtlviz-status").first.inner_text() != status_before
    page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab_03_after_alpha_moved.png"))
    assert page.evaluate(OUTPUTS)["errors"] == []
    assert watcher.console_errors == [] and watcher.external_requests == [], (watcher.console_errors,
                                                                              watcher.external_requests)
    close_lesson(lab, page)
