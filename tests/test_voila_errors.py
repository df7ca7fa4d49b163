"""A lesson with a failing cell still opens, and says in one line what failed (issue 19's "a
missing or corrupt artefact shows a one-line message naming the command that regenerates it; the
rest of the lesson still opens"). A real server (python -m mtlviz.serve) renders a real notebook."""
from __future__ import annotations

import html
import json
import sys
import urllib.request

import nbformat
import pytest

from tests.harness import VoilaServer

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lessons")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 90 · A lesson whose shipped figure is missing"),
        nbformat.v4.new_code_cell('from mtlviz.pretrained.figures import load_figure\n'
                                  'load_figure("sgd_tuning", "/nonexistent/lesson_figures.json")'),
        nbformat.v4.new_code_cell('print("the rest of the lesson " + "still runs")'),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "90_missing_figure.ipynb")
    with VoilaServer(notebook_dir=folder, extra_args=["--start-slots=0"]) as running:
        yield running


def test_a_missing_artefact_is_one_line_naming_its_command_and_the_lesson_goes_on(server):
    """If this fails, a student opening a lesson whose shipped file is missing sees a page that
    stops at that cell with advice for the server's admin (Voila's default), not what to run."""
    page = html.unescape(server.open_dashboard("voila/render/90_missing_figure.ipynb").html)
    assert "WeightsError: lesson figures file /nonexistent/lesson_figures.json is missing. Regenerate it with: " \
           "python -m mtlviz.pretrained.figures sgd_tuning" in page
    assert "the rest of the lesson still runs" in page, "the page stopped at the failing cell"
    assert "Traceback" not in page and "--show_tracebacks" not in page


def test_a_lesson_whose_kernel_dies_while_starting_ends_with_one_line_not_a_spinner(tmp_path, monkeypatch):
    """If this fails, a student whose kernel died before the lesson was drawn (in a class, a port
    taken by another socket; a machine out of memory) watches Voila's spinner turn for good:
    Voila loses the error and keeps the page open with heartbeats."""
    spec = tmp_path / "jupyter" / "kernels" / "mtlviz-dies"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "{connection_file}"],
        "display_name": "a kernel that dies at once", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("never runs")')])
    notebook.metadata["kernelspec"] = {"name": "mtlviz-dies", "display_name": "dies", "language": "python"}
    nbformat.write(notebook, lessons / "91_kernel_dies.ipynb")
    with VoilaServer(notebook_dir=lessons, extra_args=["--start-slots=0"]) as running:
        with urllib.request.urlopen(running.page_url("voila/render/91_kernel_dies.ipynb"), timeout=120) as response:
            page = html.unescape(response.read().decode())  # a page left spinning would time out here
    assert "This lesson stopped before it was drawn (RuntimeError: Kernel died before replying to kernel_info). " \
           "Reload the page to start it again." in page
    assert page.rstrip().endswith("</html>"), "the page was not ended"
    assert "Traceback" not in page


def test_a_voila_without_the_patched_internals_is_refused_naming_the_pin(monkeypatch):
    """If this fails, a newer Voila that renamed what mtlviz.serve patches would start anyway and
    silently lose the kernel cap, the XSRF fix or these one-line errors (issue 17 item 4)."""
    from mtlviz.serve import app

    app.check_voila_internals()  # the installed, locked Voila has everything
    monkeypatch.setattr(app, "VOILA_INTERNALS", app.VOILA_INTERNALS + [(app.VoilaExecutor, "renamed_in_voila_0_6")])
    with pytest.raises(RuntimeError, match=r"needs Voila 0\.5\.13's internals \(VoilaExecutor\.renamed_in_voila_0_6 "
                                           r"missing.*requirements/lock\.txt"):
        app.check_voila_internals()
