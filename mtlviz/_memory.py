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

__all__ = ["release_free_memory", "trim_after_each_cell"]


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


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
