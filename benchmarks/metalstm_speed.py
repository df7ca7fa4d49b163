"""Meta-training speed and peak memory: Meta-LSTM beside MAML, on the same glyph episodes.

Run from the repository root on an otherwise idle machine::

    python benchmarks/metalstm_speed.py            # about 2 minutes
    python benchmarks/metalstm_speed.py --steps 5  # smoke run

Both learners are the same conv net (4 blocks of 32 filters, 20-pixel images, 28,485
parameters), trained on the same pool of background-script drawings and the same sequence of
5-way episodes (15 query images per class), one torch thread. For each setting the script runs
a few untimed warm-up steps, then times ``--steps`` meta-updates of ``fit_iter`` and reports
episodes per second (meta-updates per second × episodes per update) and the peak resident
memory above the level before the estimator was built (model, optimiser state and the working
set of a meta-update), sampled every 2 ms by a thread (an approximation: short spikes between
samples are missed; freed memory is trimmed between rows).

Rows: MAML second order, 1 inner step, with one episode per update and with its default
meta-batch of 8; first-order MAML with 5 steps; Meta-LSTM with 5 (1-shot) and 8 (5-shot)
learned updates, one episode per update, as in the paper.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz.meta.fewshot import MAMLClassifier  # noqa: E402
from mtlviz.data.glyphs import GlyphTasks  # noqa: E402
from mtlviz.meta.metalstm import MetaLSTM  # noqa: E402


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so each row starts level
    except OSError:
        pass


def measure(estimator, pool, n_steps: int, n_warmup: int = 3):
    """(seconds per meta-update, peak extra RSS in MiB) over ``n_steps`` timed updates."""
    _release_memory()
    baseline, peak, running = _rss(), [0], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    iterator = estimator.fit_iter(pool)
    for _ in range(n_warmup):
        next(iterator)
    started = time.perf_counter()
    for _ in range(n_steps):
        next(iterator)
    seconds = (time.perf_counter() - started) / n_steps
    running[0] = False
    sampler.join()
    return seconds, max(0, peak[0] - baseline) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed meta-updates per row (default 20)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    if load > 1.5:
        print(f"warning: load average {load:.1f}; timings on a busy machine are slower and noisier")
    pool = GlyphTasks("background", image_size=20).pool(20, random_state=0)
    print("| 5-way | learner | episodes per update | ms per update | episodes / s | peak extra memory |")
    print("|---|---|---|---|---|---|")
    for k_shot in (1, 5):
        rows = [
            ("MAML, 2nd order, 1 step", MAMLClassifier(k_shot=k_shot, n_query=15, meta_batch_size=1,
                                                         n_outer_steps=10**6, random_state=0)),
            ("MAML, 2nd order, 1 step", MAMLClassifier(k_shot=k_shot, n_query=15, meta_batch_size=8,
                                                         n_outer_steps=10**6, random_state=0)),
            ("first-order MAML, 5 steps", MAMLClassifier(k_shot=k_shot, n_query=15, meta_batch_size=1, n_inner_steps=5,
                                                           first_order=True, n_outer_steps=10**6, random_state=0)),
            (f"Meta-LSTM, {5 if k_shot == 1 else 8} updates",
             MetaLSTM(k_shot=k_shot, n_query=15, n_inner_steps=5 if k_shot == 1 else 8, n_outer_steps=10**6,
                      random_state=0)),
        ]
        for name, estimator in rows:
            seconds, memory = measure(estimator, pool, args.steps)
            per_update = estimator.meta_batch_size
            print(f"| {k_shot}-shot | {name} | {per_update} | {1000 * seconds:.0f} | {per_update / seconds:.1f} | "
                  f"{memory:.0f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
