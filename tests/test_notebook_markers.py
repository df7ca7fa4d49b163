"""The lessons' nbval markers: cell tags a student does not read, which nbval still honours."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests._lessons import LESSONS, NOTEBOOK_DIR

CHECK_TAG = "nbval-check-output"


@pytest.mark.parametrize("lesson", LESSONS)
def test_result_cells_are_tagged_not_commented(lesson):
    """If this fails, a student reads '# NBVAL_CHECK_OUTPUT' in a lesson's code (a test marker in
    the teaching text), or a lesson has no result nbval compares at all."""
    from nbval.plugin import metadata_tags

    notebook = nbformat.read(NOTEBOOK_DIR / lesson, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [cell.source[:60] for cell in code if "NBVAL_" in cell.source]
    tags = [tag for cell in code for tag in cell.metadata.get("tags", []) if tag.startswith("nbval")]
    assert CHECK_TAG in tags, f"{lesson}: no cell's output is compared"
    assert set(tags) <= set(metadata_tags), f"{lesson}: tags nbval does not know: {set(tags) - set(metadata_tags)}"


def _notebook(path: Path, printed: str, stored: str) -> None:
    cell = new_code_cell(f"print({printed!r})", metadata={"tags": [CHECK_TAG]}, execution_count=1,
                         outputs=[new_output("stream", name="stdout", text=stored + "\n")])
    notebook = new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(notebook, path)


def test_nbval_compares_a_tagged_cell_in_the_suites_mode(tmp_path):
    """If this fails, the tag is not honoured in the mode CI runs (--nbval-lax), and every lesson
    result would go unchecked while the suite stays green."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env"]
    _notebook(tmp_path / "same.ipynb", "0.66", "0.66")
    _notebook(tmp_path / "changed.ipynb", "0.66", "0.65")
    same = subprocess.run(command + [str(tmp_path / "same.ipynb")], cwd=tmp_path, capture_output=True, text=True)
    changed = subprocess.run(command + [str(tmp_path / "changed.ipynb")], cwd=tmp_path, capture_output=True, text=True)
    assert same.returncode == 0, same.stdout[-2000:]
    assert changed.returncode != 0 and "mismatch" in changed.stdout, changed.stdout[-2000:]
