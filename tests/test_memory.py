"""What one dashboard kernel costs: no compiler stack at start-up, freed memory given back.

A class of 30 runs 30 kernels on one machine, so every MB and CPU second a lesson's start-up
costs is paid 30 times (``benchmarks/kernel_footprint.py`` prints the figures). Each test runs a
fresh Python so that what the test suite already imported cannot hide what a kernel loads.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mtlviz._memory import _malloc_trim

PYTHON_TIMEOUT_S = 300


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh one-thread interpreter; it prints one JSON object last."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=PYTHON_TIMEOUT_S, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                                                           "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_lesson03_dashboard_start_does_not_load_torchs_compiler():
    """If this fails, every lesson-03 kernel loads torch._dynamo (~2 s of CPU and ~70 MB each):
    thirty students opening the lesson wait a minute longer on a 2-core machine."""
    loaded = run_python("""
        import json, sys
        from mtlviz import SinusoidTasks
        from mtlviz.pretrained import load_sinusoid
        from mtlviz.widgets import InnerOuterDashboard
        maml, baseline = load_sinusoid("maml"), load_sinusoid("joint")
        x, y = SinusoidTasks().sample_points(amplitude=3.0, phase=0.5, n_points=5, random_state=1)
        maml.adapt(x, y, inner_lr=0.01, n_inner_steps=10)
        dashboard = InnerOuterDashboard(maml, baseline, random_state=0)
        dashboard.n_inner_steps = 7  # a slider move redraws with a new adaptation
        print(json.dumps({m: m in sys.modules for m in ("torch._dynamo", "torch._inductor")}))
    """)
    assert loaded == {"torch._dynamo": False, "torch._inductor": False}


FRAGMENT = """
    import torch
    keep = []
    torch.empty(8 * 2**20, dtype=torch.uint8).fill_(1)  # freeing an 8 MB block raises glibc's mmap threshold
    for i in range(300):  # 300 x 1 MB on the heap, each pinned below a small tensor that stays
        big = torch.empty(2**20, dtype=torch.uint8).fill_(1)
        keep.append(torch.ones(8))
        del big
"""

RSS_MB = "int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) // 1024"


@pytest.mark.skipif(_malloc_trim() is None, reason="needs glibc's malloc_trim")
@pytest.mark.parametrize("with_mtlviz", [False, True])
def test_a_cell_that_fragments_the_heap_leaves_little_behind_in_a_dashboard_kernel(with_mtlviz):
    """If this fails, a dashboard kernel keeps the memory its busiest cell freed (lesson 06 held
    1.5 GB for 46 MB of tensors): a class of 30 would need three times the memory it uses. The
    served kernels' start-up (mtlviz.serve.kernel.setup, run by the serve's IPython startup file)
    installs the trim; importing mtlviz.widgets does not."""
    grown = run_python(f"""
        import json
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_cell("import torch" + ("; from mtlviz.serve.kernel import setup; setup()" if {with_mtlviz} else ""))
        before = {RSS_MB}
        shell.run_cell({FRAGMENT!r})
        print(json.dumps({{"grown_mb": {RSS_MB} - before}}))
    """)["grown_mb"]
    if with_mtlviz:
        assert grown < 60, f"the kernel still holds {grown} MB after the cell freed ~300 MB"
    else:  # the control: without the trim, glibc keeps the freed megabytes (else this test shows nothing)
        assert grown > 200, f"only {grown} MB kept without mtlviz: the fragmenting cell no longer fragments"


def test_importing_the_widgets_changes_nothing_in_the_kernel():
    """Importing mtlviz.widgets must not register IPython hooks (issue 18): a JupyterLab user's
    kernel is theirs; the served kernels get their set-up from the serve's start-up file."""
    found = run_python("""
        import json
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        before = len(shell.events.callbacks["post_run_cell"])
        import mtlviz.widgets
        print(json.dumps({"added": len(shell.events.callbacks["post_run_cell"]) - before}))
    """)
    assert found == {"added": 0}


def test_a_presenter_kernel_draws_light_on_dark_and_a_default_one_does_not():
    """If this fails, the projector shows white figures on the dark presenter page (or a light
    page gets dark figures): the served kernel's start-up reads the theme the server was given."""
    for theme, dark in [("presenter", True), ("default", False)]:
        code = f"""
            import json, os
            os.environ["MTLVIZ_THEME"] = {theme!r}
            from IPython.core.interactiveshell import InteractiveShell
            shell = InteractiveShell.instance()
            from mtlviz.serve.kernel import setup
            setup()
            from matplotlib.colors import to_rgb
            from mtlviz.widgets._canvas import interactive_figure
            figure, _ = interactive_figure(2.0, 2.0)
            print(json.dumps({{"dark": max(to_rgb(figure.get_facecolor())) < 0.2}}))
        """
        assert run_python(code) == {"dark": dark}, theme


def test_a_served_kernel_skips_garbage_collection_when_it_exits():
    """If this fails, every served kernel spends about a CPU-second collecting torch's objects as
    it exits (measured in a Voila session of lesson 03): 30 students closing their tabs take half
    a minute of the 2 cores from those still working. What makes the exit cheap: the objects are
    frozen before IPython's exit handlers and the interpreter's clean-up run."""
    code = """
        import atexit, gc, json
        atexit.register(lambda: print(json.dumps({"frozen_at_exit": gc.get_freeze_count()}), flush=True))
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()  # registers IPython's own exit handlers, as in a kernel
        from mtlviz.serve.kernel import setup
        setup()  # as the kernel's startup file runs it, before the lesson's first cell
        shell.run_cell("import torch")
        gc.unfreeze()  # (frozen after the first cell: the next test) what is alive now must be frozen at exit
        print(json.dumps({"frozen_before_exit": gc.get_freeze_count()}), flush=True)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=PYTHON_TIMEOUT_S, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [json.loads(line) for line in result.stdout.split("\n") if line.startswith("{")]
    assert printed[0] == {"frozen_before_exit": 0}
    assert printed[-1]["frozen_at_exit"] > 100_000  # torch's objects, frozen before exit's collections


def test_a_served_kernel_does_not_collect_garbage_while_its_first_cell_imports():
    """If this fails, every served kernel runs Python's garbage collector about 500 times over
    the growing heap while its first cell imports torch and the package (0.13-0.27 CPU-s per
    kernel, paid by every student at the start of a class); or, worse, collection never
    comes back on and a long lesson's cyclic garbage (matplotlib figures) is never freed."""
    code = """
        import gc, json, weakref
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        from mtlviz.serve.kernel import setup
        setup()  # as the kernel's startup file runs it, before the lesson's first cell
        before = {"collecting_before_first_cell": gc.isenabled(), "frozen_before_first_cell": gc.get_freeze_count()}
        shell.run_cell("import gc, torch, mtlviz; collecting = gc.isenabled()")
        after = {"collecting_in_first_cell": shell.user_ns["collecting"], "collecting_after": gc.isenabled(),
                 "frozen_after_first_cell": gc.get_freeze_count()}
        class Node: pass
        node = Node(); node.me = node; alive = weakref.ref(node); del node  # a cycle made after the first cell
        gc.collect()
        print(json.dumps({**before, **after, "cycle_freed_later": alive() is None}), flush=True)
    """
    printed = run_python(code)
    assert printed["collecting_before_first_cell"] is False and printed["frozen_before_first_cell"] == 0
    assert printed["collecting_in_first_cell"] is False
    assert printed["collecting_after"] is True
    assert printed["frozen_after_first_cell"] > 100_000  # torch's objects: later full collections skip them
    assert printed["cycle_freed_later"] is True


@pytest.mark.skipif(_malloc_trim() is None, reason="needs glibc's malloc_trim and mallopt")
@pytest.mark.parametrize("served", [False, True])
def test_a_served_kernel_reuses_its_heap_from_one_slider_move_to_the_next(served):
    """If this fails, every slider move of a served dashboard faults its frame-sized arrays in
    afresh: about 900 page faults a move on lesson 05 in one kernel, 600-2,100 with 30 students'
    kernels, where a move's kernel CPU went from about 35 to 54-62 ms (RESULTS.md). What makes
    moves reuse their pages: after the first cell, glibc keeps the heap's free top between trims
    and takes blocks of a few MB from the heap (mtlviz._memory.hold_heap_between_trims)."""
    found = run_python(f"""
        import json, resource
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        if {served}:
            from mtlviz.serve.kernel import setup
            setup()
        shell.run_cell("import numpy")  # the lesson's first cell
        import numpy as np
        def move():  # what a move allocates and frees, outside any cell as a widget's handler runs
            frames = [np.ones(2**20, np.float32) for _ in range(3)]
            del frames
        move(); move()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            move()
        print(json.dumps({{"faults_per_move": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20}}))
    """)["faults_per_move"]
    if served:
        assert found < 20, f"{found:.0f} page faults a move: the heap is handed back and regrown every move"
    else:  # the control: glibc's default does hand it back (else this test shows nothing)
        assert found > 500, f"only {found:.0f} faults a move without the served set-up: the pattern no longer regrows"
