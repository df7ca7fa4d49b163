"""Regenerate lesson 10's point-robot policies: ``python -m mtlviz.pretrained.train_navigation``.

Trains two :class:`~mtlviz.meta.rl.NavigationPolicy` with the settings of :data:`SETTINGS`
(2-64-64-2 Gaussian MLP, α = 0.03, 20 goals x 20 rollouts of 100 steps per outer step, 300 steps
of Adam with β = 3e-3):

- ``navigation_maml.pt``: meta-trained with MAML (the return after one inner step);
- ``navigation_pretrained.pt``: one policy trained on all goals pooled, the same number of steps
  (the paper's "pretrained" baseline);

both about 20 KB. Deterministic on a given torch build (one thread, seed 0; ``tests/test_navigation.py``
retrains the first steps and compares them with the shipped training curve). Takes a few minutes
of CPU on one core, almost all of it MAML.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..meta.rl import NavigationPolicy
from . import navigation_path

#: The shipped policies' hyperparameters (besides ``mode``).
SETTINGS = dict(hidden=64, init_std=0.1, inner_lr=0.03, outer_lr=3e-3, n_outer_steps=300, meta_batch_size=20,
                n_rollouts=20, horizon=100, max_grad_norm=1.0, curvature=True, random_state=0)


def train(mode: str, **changes) -> NavigationPolicy:
    """The shipped policy of ``mode`` ("maml" or "pretrained"), trained from scratch; ``changes``
    override :data:`SETTINGS` (the tests train a few steps only)."""
    return NavigationPolicy(mode=mode, **{**SETTINGS, **changes}).fit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=None, help="folder to write to (default: the package's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # bit-identical with the tests' one-thread retraining
    for mode in ("maml", "pretrained"):
        started = time.perf_counter()
        policy = train(mode)
        path = navigation_path(mode) if args.out_dir is None else Path(args.out_dir) / navigation_path(mode).name
        policy.save(path)
        first, last = -sum(policy.history_[:20]) / 20, -sum(policy.history_[-20:]) / 20
        print(f"{mode}: average training return {first:.1f} (first 20 steps) -> {last:.1f} (last 20), "
              f"wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
