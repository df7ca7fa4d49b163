"""Dashboards start their lessons a few at a time, in a class of many on a few cores.

Thirty kernels running their lesson's cells at once share two cores fairly, so every student
waits as long as the last one (measured: all 30 pages of lesson 03 drew between 5.5 and 6.5
minutes). With ``--start-slots N`` (default: twice the number of cores) a kernel takes one of N
machine-wide slots before its first cell runs and gives it back once it has been idle for
:data:`IDLE_RELEASE_S` after a cell: pages then draw one after another, the first within
seconds. The page (with Voila's spinner) is already on the student's screen while its kernel
waits, and Voila's heartbeats keep the connection open.

The slots are ``flock`` locks on files in one folder, so a kernel that dies gives its slot back
with it. Widget callbacks (slider moves) are comm messages, not cells: they never wait.

Runs inside each kernel, from the IPython startup file that ``python -m mtlviz.serve`` writes
(:mod:`mtlviz.serve.kernel`);
imports nothing heavy.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Optional

SLOTS_DIR_ENV = "MTLVIZ_START_SLOTS_DIR"
SLOTS_ENV = "MTLVIZ_START_SLOTS"
#: Set by the server (``--refill nice``) for pre-warmed pool kernels: raise the kernel's niceness by
#: this much as it starts, so a pool refill yields the cores to students' lessons.
NICE_ENV = "MTLVIZ_KERNEL_NICE"
#: A kernel that ran no cell for this long has finished starting its lesson.
IDLE_RELEASE_S = 1.0
POLL_S = 0.1

__all__ = ["StartSlots", "install", "install_from_environment", "lower_priority_from_environment"]


class StartSlots:
    """One kernel's hold on one of ``n_slots`` lock files in ``folder``."""

    def __init__(self, folder: Path, n_slots: int):
        if n_slots < 1:
            raise ValueError(f"n_slots must be at least 1; got {n_slots}")
        self.folder, self.n_slots = Path(folder), n_slots
        self._held: Optional[int] = None  # file descriptor of the slot we hold
        self._timer: Optional[threading.Timer] = None
        self._lock = threading.Lock()
        self.waited_s = 0.0

    @property
    def holding(self) -> bool:
        return self._held is not None

    def acquire(self) -> None:
        """Block until one slot is ours (returns at once if one already is)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._held is not None:
                return
        started = time.monotonic()
        while True:
            for index in range(self.n_slots):
                fd = os.open(self.folder / f"slot-{index}.lock", os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                with self._lock:
                    self._held = fd
                self.waited_s += time.monotonic() - started
                return
            time.sleep(POLL_S)

    def release(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            fd, self._held = self._held, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def release_when_idle(self, delay_s: float = IDLE_RELEASE_S) -> None:
        """Release after ``delay_s`` unless another cell starts first."""
        with self._lock:
            if self._held is None:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(delay_s, self.release)
            self._timer.daemon = True
            self._timer.start()


def install(shell, folder: Path, n_slots: int) -> StartSlots:
    """Make every cell ``shell`` runs wait for a slot, held until the kernel has gone idle."""
    slots = StartSlots(folder, n_slots)
    shell.events.register("pre_run_cell", lambda info=None: slots.acquire())
    shell.events.register("post_run_cell", lambda result=None: slots.release_when_idle())
    return slots


def lower_priority_from_environment() -> int:
    """Raise this process's niceness by ``$MTLVIZ_KERNEL_NICE`` (pool kernels under ``--refill
    nice``); returns the new niceness. Irreversible without privileges: the kernel keeps it after
    a student takes it."""
    step = os.environ.get(NICE_ENV)
    return os.nice(int(step)) if step else os.nice(0)


def install_from_environment() -> Optional[StartSlots]:
    """Called by the startup file in each kernel: lower its priority if asked, then install the
    slots the server's environment names."""
    lower_priority_from_environment()
    folder, n_slots = os.environ.get(SLOTS_DIR_ENV), os.environ.get(SLOTS_ENV)
    if not folder or not n_slots:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return install(shell, Path(folder), int(n_slots))
