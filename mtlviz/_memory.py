"""Give freed memory back to the operating system between cells and heavy dashboard actions.

glibc's ``malloc`` keeps memory that torch has freed: after a lesson's cells ran, a kernel can
hold two to three times the memory its live tensors need (lesson 06: 1.5 GB for 46 MB of
tensors), because a loop of steps leaves the heap fragmented and glibc only returns the top of
it. ``malloc_trim(0)`` returns every free page; it takes from well under a millisecond to ~0.1 s
(when a gigabyte comes back). A fixed ``MALLOC_MMAP_THRESHOLD_`` would avoid the growth too, but
it made lesson 06 ~60% slower to start (``benchmarks/kernel_footprint.py``), so: trim instead.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Optional

__all__ = ["hold_heap_between_trims", "release_free_memory", "trim_after_each_cell"]

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: Heap kept between explicit trims, and the size from which a block gets its own mapping (the
#: largest glibc takes on 64 bits).
HELD_HEAP_BYTES = 32 * 2**20


@functools.lru_cache(maxsize=None)
def _libc_function(name: str, argtypes: tuple, restype):
    """The C library's function ``name``, typed; None where it has none (glibc has
    ``malloc_trim`` and ``mallopt``; macOS, musl and Windows do not)."""
    try:
        function = getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = restype
    return function


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl, Windows)."""
    return _libc_function("malloc_trim", (ctypes.c_size_t,), ctypes.c_int)


def _mallopt():
    return _libc_function("mallopt", (ctypes.c_int, ctypes.c_int), ctypes.c_int)


def hold_heap_between_trims() -> bool:
    """Stop glibc from handing the heap's top back, and mapping big blocks afresh, at every free.

    By default glibc returns the top of the heap to the system whenever more than a few MB of it
    is free, and gives blocks above a (moving) threshold their own mapping, unmapped when freed.
    A dashboard's slider move allocates and frees frame-sized arrays (lesson 05: a few MB each),
    so every move grew the heap again: about 900 page faults a move in one kernel, 600-2,100
    with 30 students' kernels. With up to :data:`HELD_HEAP_BYTES` of free top kept, and blocks up
    to that size taken from the heap, a move reuses the pages of the last (no fault in the same
    kernel). The memory still goes back: :func:`release_free_memory` after every cell
    (:func:`trim_after_each_cell`) and after each heavy dashboard action trims regardless of
    these thresholds. Returns False where the C library has no ``mallopt`` (not glibc).
    """
    mallopt = _mallopt()
    if mallopt is None or _malloc_trim() is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HELD_HEAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, HELD_HEAP_BYTES))


def release_free_memory() -> bool:
    """Return the heap's free pages to the operating system; True if glibc released any."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


_registered_shell: Optional[object] = None


def trim_after_each_cell() -> bool:
    """In an IPython kernel (Voila's or JupyterLab's), release free memory after every cell.

    Registered once per kernel; outside IPython, or without glibc, nothing happens and False is
    returned. Called when :mod:`mtlviz.widgets` is imported, so every dashboard kernel has it.
    """
    global _registered_shell
    if _malloc_trim() is None:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if _registered_shell is not shell:
        shell.events.register("post_run_cell", _after_cell)
        _registered_shell = shell
    return True


def _after_cell(result=None) -> None:
    release_free_memory()
