"""What every dashboard kernel of ``python -m mtlviz.serve`` sets up as it starts.

The server writes an IPython directory whose startup file calls :func:`setup` (the kernels find
it through ``IPYTHONDIR``, which they inherit). Nothing here happens on ``import mtlviz``:

- a start slot before the lesson's first cell, and a lower priority for a pre-warmed pool kernel
  under ``--refill nice`` (:mod:`mtlviz.serve.startup_queue`);
- freed memory returned to the system after every cell (:func:`mtlviz._memory.trim_after_each_cell`):
  without it, lesson 06's kernel kept 1.5 GB for 46 MB of tensors;
- the served theme's figure style: ``--theme presenter`` sets ``MTLVIZ_THEME=presenter``, and the
  kernel draws its figures light on dark (:func:`mtlviz.plotting.use_theme`) to match the page;
- no garbage collection while the lesson's first cell imports torch and the package: Python's
  collector would run about 500 times over the growing heap (0.27 CPU-s of a ~2.2 CPU-s import in
  a plain interpreter; a served lesson-03 kernel 2.21 -> 2.08 CPU-s by the time its page is
  rendered, same PSS, RESULTS.md). After that cell the objects alive are frozen
  (``gc.freeze``: later full collections skip torch's modules) and collection resumes. The price:
  the cyclic garbage the imports leave (about 9,400 objects, 1.2 MB) is never freed;
- a heap that keeps its free top between trims, once the first cell has run: a slider move
  reuses the last move's pages instead of faulting fresh ones in (about 900 faults a move on
  lesson 05; :func:`mtlviz._memory.hold_heap_between_trims`);
- in a pre-warmed pool's kernel (the server sets ``MTLVIZ_DRAW_WHEN_IDLE=1``), the lesson's
  figures drawn once its cells have run, before any browser asks for them
  (:func:`draw_figures_when_idle`): a student taking the dashboard gets a figure already drawn;
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

__all__ = ["DRAW_WHEN_IDLE_ENV", "IDLE_BEFORE_DRAWING_S", "THEME_ENV", "STARTUP_FILE", "collect_after_the_first_cell",
           "draw_figures_when_idle", "setup", "write_ipython_dir"]

THEME_ENV = "MTLVIZ_THEME"
#: Set to "1" by the server for a pre-warmed pool's kernels (mtlviz.serve.app.PoolRefills).
DRAW_WHEN_IDLE_ENV = "MTLVIZ_DRAW_WHEN_IDLE"
#: Seconds without a new cell after which a pool kernel draws its figures: Voila sends the next
#: cell within milliseconds of the last one's reply, so this passes once the lesson has run (if
#: it passes between two cells of a busy server, the figures made so far are drawn then, and a
#: figure a later cell changes is drawn again). Short, so that the figures are drawn by the time
#: the server hands the dashboard out: at 0.5 s a student opening it at once (a benchmark does)
#: met the kernel still drawing.
IDLE_BEFORE_DRAWING_S = 0.1

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
    collect_after_the_first_cell()
    # Run last-registered-first: before IPython's handlers (registered when its shell started).
    atexit.register(gc.freeze)
    theme = os.environ.get(THEME_ENV, "default")
    if theme != "default":
        from ..plotting import use_theme

        use_theme(theme)
    if os.environ.get(DRAW_WHEN_IDLE_ENV) == "1":
        draw_figures_when_idle()


def draw_figures_when_idle(idle_s: float = IDLE_BEFORE_DRAWING_S) -> None:
    """Once no cell has run for ``idle_s`` seconds, draw every interactive figure that is not
    drawn yet (:func:`mtlviz.widgets._canvas.draw_figures_not_yet_drawn`).

    A pre-warmed pool runs its lesson with no browser attached, so its figures were never drawn:
    the first draw (0.3-0.5 CPU-s for lesson 03's two figures) waited for the student who took
    the dashboard, and a class taking 30 at once waited for 30 such draws. Drawn here, they cost
    that before the class, while the pool fills. Outside IPython this does nothing.
    """
    import asyncio

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    pending = []

    def cancel(*_) -> None:
        while pending:
            pending.pop().cancel()

    def draw() -> None:
        pending.clear()
        from ..widgets._canvas import draw_figures_not_yet_drawn

        draw_figures_not_yet_drawn()

    def after_cell(result=None) -> None:
        cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a shell with no event loop (not a kernel): nothing waits for idle
            return
        pending.append(loop.call_later(idle_s, draw))

    shell.events.register("pre_run_cell", cancel)
    shell.events.register("post_run_cell", after_cell)


def collect_after_the_first_cell() -> None:
    """Switch garbage collection off until the first cell has run, then freeze and switch it on,
    and keep the heap's free top between trims (:func:`mtlviz._memory.hold_heap_between_trims`).

    Outside IPython (no shell to tell when a cell has run) this does nothing.
    """
    from IPython import get_ipython

    from .._memory import hold_heap_between_trims

    shell = get_ipython()
    if shell is None or not gc.isenabled():
        return

    def after_first_cell(result=None) -> None:
        shell.events.unregister("post_run_cell", after_first_cell)
        gc.freeze()  # the imported modules: later full collections no longer walk them
        gc.enable()
        hold_heap_between_trims()  # after the imports, whose start-up this does not slow

    gc.disable()
    shell.events.register("post_run_cell", after_first_cell)


def write_ipython_dir(into: Path) -> Path:
    """An IPython directory whose default profile runs :data:`STARTUP_FILE` when a kernel starts."""
    startup = Path(into) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-mtlviz-kernel.py").write_text(STARTUP_FILE)
    return Path(into)
