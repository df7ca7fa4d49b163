"""Pre-warmed pools for ``--prewarm``: which lessons, how many dashboards each, and what they hold.

``--prewarm 03=30 05=10`` keeps 30 dashboards of lesson 03 and 10 of lesson 05 started and
drawn before anyone asks; ``--prewarm 5`` (the older form) means 5 of the first served lesson.
Lessons are named as ``--lessons`` names them (:func:`mtlviz.serve.select_lessons`).

The memory a pool holds is its size times one dashboard kernel's PSS after its lesson has drawn,
from :data:`KERNEL_PSS_MB`: measured by ``python benchmarks/kernel_footprint.py`` (one kernel per
lesson, one torch thread, as the server starts them) rather than measured again at every start,
which would run each pooled lesson once more (seconds to tens of seconds) before the teacher's
server answers. ``tests/test_serve.py`` measures every lesson as kernel_footprint does and fails
when the table drifts. With many kernels running, torch's shared libraries are split between
them, so the figure is an upper bound (a lesson-03 kernel among 30: about 280 MB PSS where one
alone had 360, RESULTS.md).

Imports nothing heavy: the command line uses it before Voila starts.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ["BARE_KERNEL_PSS_MB", "KERNEL_PSS_MB", "MAX_POOL", "PrewarmError", "available_mb", "parse_prewarm", "kernel_mb",
           "pool_memory_lines", "check_pools"]

#: PSS in MB of one dashboard kernel after its lesson's start-up cells ran (kernel_footprint.py --repeat 2,
#: 2026-12-03 14:20, quiet machine: the bare kernel's 215 MB plus the median PSS each lesson added, rounded up to 10 MB; the bare torch + matplotlib + ipywidgets + ipympl kernel: 190-215).
#: The bare kernel those figures include (torch + matplotlib + ipywidgets + ipympl, one of the
#: upper figures measured): a lesson's own cost is its entry minus this.
BARE_KERNEL_PSS_MB = 215
KERNEL_PSS_MB: Dict[str, int] = {
    "00_start_here": 240,  # +16 MB
    "01_few_shot_tasks": 280,  # +59 MB
    "02_maml_formula_made_visible": 260,  # +44 MB
    "03_maml_inner_and_outer_loop": 260,  # +37 MB
    "04_seed_code_example_corrected": 260,  # +36 MB
    "05_meta_lstm": 270,  # +53 MB
    "06_fine_tuning_vs_feature_extraction": 260,  # +43 MB
    "07_domain_adaptation": 280,  # +60 MB
    "08_metric_based_meta_learning": 270,  # +52 MB
    "09_first_order_and_feature_reuse": 270,  # +54 MB
    "10_meta_rl_point_robot": 260,  # +39 MB
    "11_how_many_tasks": 260,  # +36 MB
    "12_what_meta_learning_costs": 250,  # +34 MB
}
#: Most dashboards one pool may keep ready (a typo such as 300 for 30 is refused, even with no cap).
MAX_POOL = 100
_ITEM = re.compile(r"^(?:(?P<lesson>[^=]+)=)?(?P<count>[^=]*)$")


class PrewarmError(ValueError):
    """A ``--prewarm`` the server refuses to start with; the message is one line for the teacher."""


def available_mb() -> float:
    """Memory the system can give new processes without swapping, in MB (psutil comes with ipykernel)."""
    import psutil

    return psutil.virtual_memory().available / 2**20


def kernel_mb(stem: str) -> int:
    """One dashboard kernel of lesson ``stem`` in MB; a notebook that was never measured (a
    teacher's own) is assumed as large as the largest lesson."""
    return KERNEL_PSS_MB.get(stem, max(KERNEL_PSS_MB.values()))


def parse_prewarm(items: Sequence[str], served: Sequence[Path],
                  resolve: Callable[[str], Path]) -> Dict[Path, int]:
    """Pool size per served lesson from ``--prewarm`` items (``N`` or ``LESSON=N``).

    ``served`` are the lessons the server serves, first served first; ``resolve`` names one
    notebook as ``--lessons`` would (raising ``ValueError``). Raises :class:`PrewarmError` for a
    malformed item, a count that is not a whole number in [0, MAX_POOL], a lesson not served or
    named twice. Pools of 0 are left out.
    """
    pools: Dict[Path, int] = {}
    for item in items:
        match = _ITEM.match(item.strip())
        if not match or not match["count"].strip() or (match["lesson"] is not None and not match["lesson"].strip()):
            raise PrewarmError(f"--prewarm items are N (the first served lesson) or LESSON=N, e.g. --prewarm 03=30 "
                               f"05=10; got {item!r}")
        count_text = match["count"].strip()
        if not re.fullmatch(r"[+-]?\d+", count_text):
            raise PrewarmError(f"--prewarm {item!r}: the number of dashboards must be a whole number; "
                               f"got {count_text!r}")
        count = int(count_text)
        if not 0 <= count <= MAX_POOL:
            raise PrewarmError(f"--prewarm {item!r}: the number of dashboards must be in [0, {MAX_POOL}]; got {count}")
        if match["lesson"] is None:
            if len(count_text) > 1 and count_text.startswith("0"):  # "03": lesson 03, or 3 dashboards?
                raise PrewarmError(f"--prewarm {item!r} is ambiguous: write {item}=N for N dashboards of lesson "
                                   f"{item}, or {count} for {count} of the first served lesson")
            if not served:
                raise PrewarmError("--prewarm: no lesson is served")
            lesson = served[0]
        else:
            try:
                lesson = resolve(match["lesson"].strip())
            except ValueError as error:
                raise PrewarmError(str(error)) from None
            if lesson not in served:
                raise PrewarmError(f"--prewarm {item!r}: {lesson.stem} is not served (only "
                                   f"{', '.join(path.stem for path in served)}); add it to --lessons or "
                                   f"drop its pool")
        if lesson in pools:
            raise PrewarmError(f"--prewarm names {lesson.stem} twice ({item!r}); give each lesson one count")
        pools[lesson] = count
    return {lesson: count for lesson, count in pools.items() if count > 0}


def pool_memory_lines(pools: Dict[Path, int]) -> List[str]:
    """One line per pool and a total, for the teacher: N x one kernel's MB."""
    lines = []
    for lesson, count in pools.items():
        measured = lesson.stem in KERNEL_PSS_MB
        lines.append(f"{lesson.stem}: {count} x {kernel_mb(lesson.stem)} MB = {count * kernel_mb(lesson.stem):,} MB"
                     + ("" if measured else " (never measured: assumed as large as the largest lesson)"))
    total = sum(count * kernel_mb(lesson.stem) for lesson, count in pools.items())
    lines.append(f"pre-warmed pools hold about {total:,} MB in all")
    return lines


def check_pools(pools: Dict[Path, int], *, max_kernels: int, available_mb: Optional[float],
                min_free_mb: int) -> None:
    """Raise :class:`PrewarmError` if the pools leave no place under the cap or cannot fit in memory.

    The pools together must stay below ``max_kernels`` (0: no cap), or a student opening an
    unpooled lesson would find the class full; their memory must fit in ``available_mb`` minus the
    ``min_free_mb`` the server keeps in reserve (it refuses to start kernels below that floor).
    """
    total = sum(pools.values())
    if max_kernels and total >= max_kernels:
        raise PrewarmError(f"--prewarm keeps {total} dashboards ready, which leaves no place under --max-kernels "
                           f"{max_kernels}: make the pools smaller than {max_kernels} in all, or raise the cap")
    if available_mb is None:
        return
    need = sum(count * kernel_mb(lesson.stem) for lesson, count in pools.items())
    room = available_mb - min_free_mb
    if need > room:
        biggest = max(pools, key=lambda lesson: pools[lesson] * kernel_mb(lesson.stem))
        raise PrewarmError(
            f"--prewarm needs about {need:,} MB ({', '.join(f'{p.stem[:2]}: {n} x {kernel_mb(p.stem)} MB' for p, n in pools.items())}) "
            f"but this machine has {available_mb:,.0f} MB available and keeps --min-free-mb {min_free_mb} free, "
            f"leaving {max(room, 0):,.0f} MB: make the pools smaller (the largest is {biggest.stem}'s)")
