"""What every dashboard kernel of ``python -m mtlviz.serve`` sets up as it starts.

The server writes an IPython directory whose startup file calls :func:`setup` (the kernels find
it through ``IPYTHONDIR``, which they inherit). Nothing here happens on ``import mtlviz``:

- a start slot before the lesson's first cell, and a lower priority for a pre-warmed pool kernel
  under ``--refill nice`` (:mod:`mtlviz.serve.startup_queue`);
- freed memory returned to the system after every cell (:func:`mtlviz._memory.trim_after_each_cell`):
  without it, lesson 06's kernel kept 1.5 GB for 46 MB of tensors;
- the served theme's figure style: ``--theme presenter`` sets ``MTLVIZ_THEME=presenter``, and the
  kernel draws its figures light on dark (:func:`mtlviz.plotting.use_theme`) to match the page;
- no garbage collection at exit: the objects alive then are frozen (``gc.freeze``) before
  IPython's exit handlers and the interpreter's own clean-up collect them. A kernel with torch
  loaded spent about 1.1 CPU-s leaving, 0.14 with this (profiled in a Voila session of lesson 03,
  RESULTS.md): CPU that 30 closing tabs take from the students still working. Its memory goes
  back to the system with the process either way.
"""
from __future__ import annotations

import atexit
import gc
import os
from pathlib import Path

__all__ = ["THEME_ENV", "STARTUP_FILE", "setup", "write_ipython_dir"]

THEME_ENV = "MTLVIZ_THEME"

STARTUP_FILE = """\
# Written by python -m mtlviz.serve: set up each dashboard kernel (start slot, memory, theme).
from mtlviz.serve.kernel import setup
setup()
"""


def setup() -> None:
    """Called once by each served kernel's startup file."""
    from .._memory import trim_after_each_cell
    from .startup_queue import install_from_environment

    install_from_environment()
    trim_after_each_cell()
    # Run last-registered-first: before IPython's handlers (registered when its shell started).
    atexit.register(gc.freeze)
    theme = os.environ.get(THEME_ENV, "default")
    if theme != "default":
        from ..plotting import use_theme

        use_theme(theme)


def write_ipython_dir(into: Path) -> Path:
    """An IPython directory whose default profile runs :data:`STARTUP_FILE` when a kernel starts."""
    startup = Path(into) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-mtlviz-kernel.py").write_text(STARTUP_FILE)
    return Path(into)
