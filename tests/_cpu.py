"""Recomputed figures against shipped ones, on the CPU they were made on and on another.

The shipped artefacts (weights, lesson figures) were computed on machines whose vector unit torch
reports as AVX2 (the project's machines until 2026-12-03: AMD EPYC). There, recomputing one gives
back its numbers bit for bit, and the tests demand exactly that. Machines of the same kind can
come with another CPU: on an Intel Xeon with AVX-512 (2026-12-04) torch, oneDNN and MKL pick
kernels that sum in another order, and a few hundred training steps turn that rounding into
differences in the third or second significant digit (RESULTS.md). Capping the kernels at AVX2
(``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``, ``MKL_CBWR``) did not give the shipped bits back.
So on another CPU a recomputed figure must agree within a tolerance each test states (several
times what was measured there), and everything that is not rounding (the structure, the exact
zeros of a frozen block, the lesson's readings) is still checked exactly.

``CPU_REPORT=1 pytest -s ...`` prints, for every comparison, the largest difference measured on
this machine: what each test's tolerance was set from.
"""
from __future__ import annotations

import builtins
import math
import os

import torch

abs_ = builtins.abs  # the builtin, which assert_recomputed's ``abs`` argument shadows

#: torch.backends.cpu.get_cpu_capability() of the machines the shipped artefacts were computed on.
ARTEFACT_CPU_CAPABILITY = "AVX2"


def on_artefact_cpu() -> bool:
    """True where recomputing a shipped artefact gives back its numbers bit for bit."""
    return torch.backends.cpu.get_cpu_capability() == ARTEFACT_CPU_CAPABILITY


def _leaves(value, path=""):
    if isinstance(value, dict):
        yield path, ("dict", tuple(sorted(value)))
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}/{key}")
    elif isinstance(value, (list, tuple)):
        yield path, ("list", len(value))
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def assert_recomputed(again, shipped, *, rel: float = 0.0, abs: float = 0.0,  # noqa: A002
                      other_cpu_rel: float = 0.0, other_cpu_abs: float = 0.0, what: str = "") -> None:
    """``again`` (nested dicts and lists of numbers) has ``shipped``'s structure and numbers: within
    ``rel`` / ``abs`` (default: exactly) on the artefacts' CPU, within ``other_cpu_rel`` /
    ``other_cpu_abs`` on another."""
    if not on_artefact_cpu():
        rel, abs = max(rel, other_cpu_rel), max(abs, other_cpu_abs)  # noqa: A001
    new, old = list(_leaves(again)), list(_leaves(shipped))
    assert [path for path, _ in new] == [path for path, _ in old], f"{what}: another structure"
    if os.environ.get("CPU_REPORT"):
        pairs = [(a, b) for (_, a), (_, b) in zip(new, old) if isinstance(a, (int, float)) and not isinstance(a, bool)]
        print(f"\nCPU_REPORT {what}: max abs {max((abs_(a - b) for a, b in pairs), default=0):.3g}, "
              f"max rel {max((abs_(a - b) / max(abs_(b), 1e-12) for a, b in pairs), default=0):.3g}")
    for (path, a), (_, b) in zip(new, old):
        if isinstance(a, (tuple, str, bool)) or a is None or isinstance(b, (tuple, str, bool)) or b is None:
            assert a == b, f"{what}{path}: {a!r} != {b!r}"
        else:
            assert math.isclose(a, b, rel_tol=rel, abs_tol=abs), \
                f"{what}{path}: {a!r} recomputed, {b!r} shipped (allowed: rel {rel}, abs {abs})"
