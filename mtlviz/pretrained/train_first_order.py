"""Regenerate the shipped first-order sinusoid weights: ``python -m mtlviz.pretrained.train_first_order``.

Writes ``sinusoid_fomaml.pt`` (:class:`~mtlviz.meta.reptile.FOMAML`) and ``sinusoid_reptile.pt``
(:class:`~mtlviz.meta.reptile.Reptile`), about 12 KB each, for lesson 09.

- FOMAML: exactly the one-step MAML recipe of :mod:`mtlviz.pretrained.train_sinusoid`
  (``--one-step``: α = 0.01, one inner step, meta-batch 25, K = 5 support and 25 query points,
  15,000 compiled Adam steps with β = 3e-3 on a cosine), only first order. Seed 0, as MAML's, so the two start from the same θ₀.
- Reptile: the same network, α = 0.01 (the evaluation's α), ``REPTILE_STEPS`` inner steps on all
  30 points of each task, meta-batch 25, ε = 1 decayed along a cosine, ``REPTILE_OUTER`` outer
  steps, seed 0. Nichol et al. (2018) train their sinusoid Reptile with one task per step, a tanh
  network, α = 0.02 and 32 inner steps; with this ReLU network larger α or more steps diverged
  here during training.

It ends by printing both models' query MSE on the 600 test tasks of ``train_sinusoid`` (seed
2026, K = 5, 1 / 5 / 10 SGD steps of α = 0.01); ``benchmarks/sinusoid_eval.py`` prints them with
95% intervals beside MAML and the pretrained baseline. Deterministic for a given torch build
(fixed seeds; FOMAML on two threads through the compiled code the shipped file was made with,
:func:`~mtlviz.functional.shipped_files_code`; Reptile on one thread). ``--only reptile`` retrains one of them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from .. import functional as Fn
from ..data.tasks import SinusoidTasks
from ..meta.reptile import FOMAML, Reptile
from . import weights_path
from .train_sinusoid import COMMON, EVAL_K, EVAL_QUERY, EVAL_SEED, EVAL_STEPS, EVAL_TASKS, query_mse, report

REPTILE_STEPS = 5
REPTILE_OUTER = 3_000
THREADS = {"fomaml": 2, "reptile": 1}


def estimators(fomaml_steps: int = 15_000, reptile_steps: int = REPTILE_OUTER, *, compile: bool = True):
    """The two unfitted estimators of the recipe, by kind ("fomaml", "reptile")."""
    reptile = Reptile(inner_lr=0.01, n_inner_steps=REPTILE_STEPS, outer_lr=1.0, outer_lr_schedule="cosine",
                      meta_batch_size=25, k_shot=5, k_query=25, n_outer_steps=reptile_steps, random_state=0)
    return {"fomaml": FOMAML(n_outer_steps=fomaml_steps, random_state=0, compile=compile, **COMMON),
            "reptile": reptile}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15_000, help="outer steps for FOMAML (default 15000)")
    parser.add_argument("--reptile-steps", type=int, default=REPTILE_OUTER,
                        help=f"outer steps for Reptile (default {REPTILE_OUTER})")
    parser.add_argument("--no-compile", action="store_true", help="train FOMAML eagerly (slower, same recipe)")
    parser.add_argument("--only", choices=("fomaml", "reptile"), default=None, help="train one of the two models")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    for name in ("steps", "reptile_steps"):
        if not 1 <= getattr(args, name) <= 10_000_000:
            parser.error(f"--{name.replace('_', '-')} must be in [1, 10000000]; got {getattr(args, name)}")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tasks = SinusoidTasks()
    fitted = {}
    for kind, estimator in estimators(args.steps, args.reptile_steps, compile=not args.no_compile).items():
        if args.only not in (None, kind):
            continue
        # FOMAML's compiled meta-batch uses two threads; Reptile's 25 tiny per-task loops gain nothing from a second.
        torch.set_num_threads(THREADS[kind])
        began = time.perf_counter()
        every = max(estimator.n_outer_steps // 3, 1)
        with Fn.shipped_files_code():  # the compiled code the shipped file was made with: the same bits
            for record in estimator.fit_iter(tasks):
                if record["step"] == 1 or record["step"] % every == 0:
                    recent = estimator.history_[-500:]
                    print(f"{kind}: step {record['step']}, mean loss of the last {len(recent)} steps "
                          f"{sum(recent) / len(recent):.3f} ({time.perf_counter() - began:.0f} s)", flush=True)
        path = weights_path(kind) if not args.out_dir else Path(args.out_dir) / weights_path(kind).name
        estimator.save(path)
        fitted[kind] = estimator
        print(f"{kind}: wrote {path} after {time.perf_counter() - began:.1f} s", flush=True)
    batch = tasks.sample_batch(EVAL_TASKS, EVAL_K, EVAL_QUERY, EVAL_SEED)
    print(f"\nquery MSE on {EVAL_TASKS} fresh tasks (seed {EVAL_SEED}), K = {EVAL_K}, after "
          + " / ".join(map(str, EVAL_STEPS)) + " steps of α = 0.01:")
    for kind, estimator in fitted.items():
        print(report(kind, query_mse(estimator, batch)))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
