"""Maintainers' helper: execute lessons in place and strip noisy metadata.

    python tools/nbtool.py execute notebooks/03_maml_inner_and_outer_loop.ipynb

Runs every cell in a fresh kernel (from the notebook's folder), stores the outputs that nbval
compares, drops execution timestamps and widget state, and writes the notebook back.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def clean(nb) -> None:
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4


def execute(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    clean(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    if command != "execute" or not paths:
        sys.exit(__doc__)
    for p in paths:
        execute(Path(p))
        print(f"executed {p}")
