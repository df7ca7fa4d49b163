"""Regenerate the shipped sinusoid weights: ``python -m mtlviz.pretrained.train_sinusoid``.

MAML follows Finn et al. (2017): 1-40-40-1 ReLU, α = 0.01 with one inner step, meta-batch 25,
Adam β = 1e-3, 70,000 outer steps; training tasks have K = 5 support and 10 query points. The
baseline is the same network trained by plain regression on all tasks (``JointTraining``).
Deterministic: fixed seeds and two threads. Takes 15 to 30 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..maml import MAML
from ..tasks import SinusoidTasks
from ..transfer import JointTraining
from . import weights_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=70_000, help="outer steps for MAML (default 70000)")
    parser.add_argument("--joint-steps", type=int, default=20_000, help="steps for the baseline (default 20000)")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)  # fail now, not after 30 minutes of training
    torch.set_num_threads(2)
    tasks = SinusoidTasks()
    common = dict(inner_lr=0.01, outer_lr=1e-3, n_inner_steps=1, meta_batch_size=25, k_shot=5, k_query=10)
    jobs = [("maml", MAML(n_outer_steps=args.steps, random_state=0, **common)),
            ("joint", JointTraining(n_outer_steps=args.joint_steps, random_state=1, **common))]
    for kind, estimator in jobs:
        started = time.perf_counter()
        for record in estimator.fit_iter(tasks):
            if record["step"] % 5000 == 0:
                recent = sum(estimator.history_[-1000:]) / len(estimator.history_[-1000:])
                print(f"{kind}: step {record['step']}, mean loss of last 1000 steps {recent:.3f}", flush=True)
        path = weights_path(kind)
        if args.out_dir:
            path = Path(args.out_dir) / path.name
        estimator.save(path)
        print(f"{kind}: wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
