"""Pre-warmed pools for ``--prewarm``: which lessons, how many dashboards each, and what they hold.

``--prewarm 03=30 05=10`` keeps 30 dashboards of lesson 03 and 10 of lesson 05 started and
drawn before anyone asks; ``--prewarm 5`` (the older form) means 5 of the first served lesson.
Lessons are named as ``--lessons`` names them (:func:`mtlviz.serve.select_lessons`).

The memory a pool holds is what its kernels share, counted once, plus its size times what one
more dashboard kernel of its lesson holds of its own after the lesson has drawn:

- forked from the fork server (the default): the pages it wrote to or allocated since the fork
  (:data:`FORKED_KERNEL_MB`); shared, the fork server itself (:data:`FORKED_SHARED_MB`);
- started on its own (``--fresh-kernels``): its anonymous memory (:data:`FRESH_KERNEL_MB`);
  shared, the libraries' pages mapped from files, torch's chiefly (:data:`FRESH_SHARED_MB`).

The figures come from ``python benchmarks/kernel_footprint.py [--forked]`` (one kernel per lesson,
one torch thread, as the server starts them) rather than from measuring again at every start,
which would run each pooled lesson once more before the teacher's server answers.
``tests/test_serve.py`` measures every lesson both ways and fails when the tables drift. A kernel
holds more once a student uses it (lesson 03 with 30 students moving its slider: 79 MB PSS per
forked kernel, 213 MB started on its own; RESULTS.md).

Imports nothing heavy: the command line uses it before Voila starts.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ["FRESH_KERNEL_MB", "FORKED_KERNEL_MB", "FRESH_SHARED_MB", "FORKED_SHARED_MB", "MAX_POOL", "PrewarmError", "available_mb", "parse_prewarm", "kernel_mb",
           "shared_mb", "pools_mb", "pool_memory_lines", "check_pools"]

# From kernel_footprint.py and kernel_footprint.py --forked, 2026-12-05: the measured figure plus
# 3 MB, rounded up to 10 MB (two runs differed by at most 1 MB). They leave out the shared
# libraries' file pages, so they do not move with the page cache or with how many kernels run
# (PSS does: the same bare kernel had 252 and 309 MB PSS in two venvs). The bare kernel (torch +
# matplotlib + ipywidgets + ipympl): 176 MB anonymous started on its own, 41 MB private forked.
#: What one more kernel started on its own holds, in MB: its anonymous memory after its lesson drew.
FRESH_KERNEL_MB: Dict[str, int] = {
    "00_start_here": 180,  # measured 167
    "01_few_shot_tasks": 210,  # 204
    "02_maml_formula_made_visible": 200,  # 197
    "03_maml_inner_and_outer_loop": 200,  # 195
    "04_seed_code_example_corrected": 210,  # 199
    "05_meta_lstm": 210,  # 199
    "06_fine_tuning_vs_feature_extraction": 210,  # 201
    "07_domain_adaptation": 210,  # 206
    "08_metric_based_meta_learning": 210,  # 198
    "09_first_order_and_feature_reuse": 210,  # 199
    "10_meta_rl_point_robot": 200,  # 196
    "11_how_many_tasks": 200,  # 194
    "12_what_meta_learning_costs": 200,  # 194
}
#: What one more kernel forked from the fork server holds, in MB: the pages it wrote to or
#: allocated since the fork, after its lesson drew (the rest it shares with the fork server).
FORKED_KERNEL_MB: Dict[str, int] = {
    "00_start_here": 50,  # measured 42
    "01_few_shot_tasks": 70,  # 62
    "02_maml_formula_made_visible": 70,  # 57
    "03_maml_inner_and_outer_loop": 60,  # 54
    "04_seed_code_example_corrected": 70,  # 59
    "05_meta_lstm": 70,  # 60
    "06_fine_tuning_vs_feature_extraction": 70,  # 62
    "07_domain_adaptation": 70,  # 66
    "08_metric_based_meta_learning": 70,  # 59
    "09_first_order_and_feature_reuse": 70,  # 59
    "10_meta_rl_point_robot": 70,  # 58
    "11_how_many_tasks": 60,  # 53
    "12_what_meta_learning_costs": 60,  # 54
}
#: Shared by all kernels started on their own, counted once: the libraries' pages mapped from
#: files, torch's chiefly (a lesson's kernel: RSS minus its anonymous memory, 100-115 MB in a venv
#: read back from disk, 131-201 MB in one just installed, whose files the page cache holds whole,
#: and up to 214 MB in a fresh clone's full test run). How many of those pages one process maps
#: follows the page cache, so this keeps a margin.
FRESH_SHARED_MB = 250
#: Shared by all forked kernels, counted once: the fork server (RSS 257 MB, 309 MB in a venv just
#: installed) and the file pages a lesson's kernels map beyond it (up to 32 MB, 67 MB).
FORKED_SHARED_MB = 380
#: Most dashboards one pool may keep ready (a typo such as 300 for 30 is refused, even with no cap).
MAX_POOL = 100
_ITEM = re.compile(r"^(?:(?P<lesson>[^=]+)=)?(?P<count>[^=]*)$")


class PrewarmError(ValueError):
    """A ``--prewarm`` the server refuses to start with; the message is one line for the teacher."""


def available_mb() -> float:
    """Memory the system can give new processes without swapping, in MB (psutil comes with ipykernel)."""
    import psutil

    return psutil.virtual_memory().available / 2**20


def kernel_mb(stem: str, forked: bool) -> int:
    """What one more dashboard kernel of lesson ``stem`` holds of its own, in MB, forked or started
    on its own; a notebook that was never measured (a teacher's own) is assumed as large as the
    largest lesson."""
    table = FORKED_KERNEL_MB if forked else FRESH_KERNEL_MB
    return table.get(stem, max(table.values()))


def shared_mb(forked: bool) -> int:
    """What all dashboard kernels share, counted once, in MB."""
    return FORKED_SHARED_MB if forked else FRESH_SHARED_MB


def pools_mb(pools: Dict[Path, int], forked: bool) -> int:
    """The memory the pools hold in all, in MB: what their kernels share plus each kernel's own."""
    return shared_mb(forked) + sum(count * kernel_mb(lesson.stem, forked) for lesson, count in pools.items())


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


def pool_memory_lines(pools: Dict[Path, int], forked: bool) -> List[str]:
    """One line per pool (N x one more kernel's MB) and a total with the shared part, for the teacher."""
    lines = []
    for lesson, count in pools.items():
        mb = kernel_mb(lesson.stem, forked)
        lines.append(f"{lesson.stem}: {count} x {mb} MB = {count * mb:,} MB"
                     + ("" if lesson.stem in FRESH_KERNEL_MB else " (never measured: assumed as large as the largest lesson)"))
    shared = ("the fork server, whose imports every forked kernel shares" if forked else
              "the libraries every kernel maps")
    lines.append(f"pre-warmed pools hold about {pools_mb(pools, forked):,} MB in all, with {shared_mb(forked)} MB "
                 f"for {shared}")
    return lines


def check_pools(pools: Dict[Path, int], *, max_kernels: int, available_mb: Optional[float],
                min_free_mb: int, forked: bool) -> None:
    """Raise :class:`PrewarmError` if the pools leave no place under the cap or cannot fit in memory.

    The pools together must stay below ``max_kernels`` (0: no cap), or a student opening an
    unpooled lesson would find the class full; their memory must fit in ``available_mb`` minus the
    ``min_free_mb`` the server keeps in reserve (it refuses to start kernels below that floor).
    ``forked``: the kernels are forked from the fork server (else each starts on its own).
    """
    total = sum(pools.values())
    if max_kernels and total >= max_kernels:
        raise PrewarmError(f"--prewarm keeps {total} dashboards ready, which leaves no place under --max-kernels "
                           f"{max_kernels}: make the pools smaller than {max_kernels} in all, or raise the cap")
    if available_mb is None:
        return
    need = pools_mb(pools, forked)
    room = available_mb - min_free_mb
    if need > room:
        biggest = max(pools, key=lambda lesson: pools[lesson] * kernel_mb(lesson.stem, forked))
        raise PrewarmError(
            f"--prewarm needs about {need:,} MB ({', '.join(f'{p.stem[:2]}: {n} x {kernel_mb(p.stem, forked)} MB' for p, n in pools.items())}"
            f", {shared_mb(forked)} MB shared) "
            f"but this machine has {available_mb:,.0f} MB available and keeps --min-free-mb {min_free_mb} free, "
            f"leaving {max(room, 0):,.0f} MB: make the pools smaller (the largest is {biggest.stem}'s)")
