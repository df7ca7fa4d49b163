"""A lesson's opening cells load nothing heavy (issue 19): no compiler stack, no scikit-learn, no scipy.

Each lesson's code cells run, in order, in a fresh one-thread IPython shell (what a Voila kernel
runs when a student opens the page); afterwards none of the heavy optional modules may be loaded.
A class of 30 pays every one of them 30 times: torch._dynamo alone is ~1.2 CPU-s and ~70 MB per
kernel, scikit-learn and scipy about a second more (``benchmarks/kernel_footprint.py``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEAVY = ("torch._dynamo", "torch._inductor", "sklearn", "scipy")
#: Lessons whose opening cells still load a heavy module, and why (strict: fixing one fails here
#: until it is taken off the list).
KNOWN: dict = {}  # lesson stem -> why it still imports a heavy module (strict xfail); none today


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_opening_cells_load_no_heavy_module(lesson, request):
    """If this fails, every student's kernel of this lesson imports the named modules at page open:
    seconds of CPU each, paid 30 times by a class on one machine."""
    if lesson.stem in KNOWN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN[lesson.stem], strict=True))
    cells = ["".join(c["source"]) for c in json.loads(lesson.read_text())["cells"] if c["cell_type"] == "code"]
    code = textwrap.dedent(f"""
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for source in {cells!r}:
            result = shell.run_cell(source)
            if not result.success:
                raise SystemExit(f"cell failed: {{result.error_in_exec or result.error_before_exec!r}}")
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                            cwd=lesson.parent, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                                                    "MPLBACKEND": "agg", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"{lesson.stem} loads {loaded} at start-up"


def test_a_dashboard_import_loads_only_its_own_module():
    """If this fails, ``from mtlviz.widgets import EpisodeViewer`` (lesson 01's first cell) imports
    every lesson's dashboard and the estimators behind them: ~0.07 CPU-s more in every kernel at
    page open (``benchmarks/kernel_footprint.py``), for modules the lesson never uses."""
    code = textwrap.dedent("""
        import json, sys
        from mtlviz.widgets import EpisodeViewer
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("mtlviz.widgets."))))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={"OMP_NUM_THREADS": "1", "MPLBACKEND": "agg", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "mtlviz.widgets.episode_dashboard" in loaded
    assert not [m for m in loaded if m.endswith("_dashboard") and m != "mtlviz.widgets.episode_dashboard"], loaded


def test_every_public_dashboard_name_resolves():
    """If this fails, a lesson's ``from mtlviz.widgets import X`` raises ImportError at page open:
    the lazy table of :mod:`mtlviz.widgets` lost or misspelt a dashboard."""
    import mtlviz.widgets as dashboards

    assert sorted(dashboards.__all__) == sorted(dashboards._LAZY)
    for name in dashboards.__all__:
        assert getattr(dashboards, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchDashboard'"):
        dashboards.NoSuchDashboard
