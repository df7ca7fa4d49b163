"""Train the sinusoid MAML and its baseline in under a minute: ``python -m mtlviz.pretrained.train_sinusoid``.

MAML after Finn et al. (2017): 1-40-40-1 ReLU network, α = 0.01, meta-batch 25, K = 5 support
points per training task. What differs from the paper, to train in under a minute on 2 CPU cores
and to land at the paper's quality from any seed:

- two inner steps in training, and each training task scored by the mean of its query losses
  after steps 1 and 2 (MAML++'s multi-step loss: Antoniou, Edwards & Storkey, "How to train
  your MAML", ICLR 2019) instead of after the last step only. Trained on the paper's objective
  (one step, scored after it; ``--one-step``), this short run met the paper's three figures from
  only some seeds: 4 of 5 with the compiled forward of 2026-12-02, 2 of 5 with today's, where
  one test task in 600 could diverge at step 10 or a few spike at step 5 (RESULTS.md). The
  multi-step loss met them from all five, with no task diverging;
- the meta-gradient is compiled (``MAML(compile=True)``), and 15,000 Adam steps with β = 3e-3
  decayed along a cosine instead of 70,000 steps at β = 1e-3. K = 10 query points per training
  task, as the paper's; the one-step recipe (``COMMON``, which FOMAML and lesson 11's pools
  share) uses 25, a less noisy meta-gradient for almost the same cost per step.

The baseline is the same network trained by plain regression on all tasks pooled
(``JointTraining``, 5,000 steps, eager: its objective has no inner step, so compiling it would
cost more than it saves). The shipped ``sinusoid_maml.pt`` and ``sinusoid_joint.pt`` came from
the paper's longer recipe (70,000 steps, commit 421eabb; RESULTS.md) and are kept because they
are better; this command writes into the package unless given ``--out-dir``.

It ends by printing the wall time and both models' query MSE on 600 fresh tasks (seed 2026,
K = 5 support and 100 query points, 1 / 5 / 10 SGD steps of α = 0.01), mean ± 95% interval,
beside the paper's figures and whether each is met; a task whose loss diverges is counted and
named, not averaged in (``benchmarks/sinusoid_eval.py`` evaluates shipped weights the same way). Deterministic for a
given torch build: fixed seeds, two threads.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..meta.maml import MAML
from ..data.tasks import SinusoidTasks
from ..meta.maml import JointTraining
from ..evaluation import CurveSummary, summarise_loss_curve
from . import weights_path

#: The evaluation of Finn et al. (2017), Table 2 (K = 5): query MSE after 1, 5 and 10 steps.
EVAL_STEPS = (1, 5, 10)
PAPER_MSE = {"maml": (0.67, 0.38, 0.35), "joint": (2.41, 2.23, 2.19)}
EVAL_TASKS, EVAL_K, EVAL_QUERY, EVAL_SEED = 600, 5, 100, 2026
COMMON = dict(inner_lr=0.01, n_inner_steps=1, meta_batch_size=25, k_shot=5, k_query=25, outer_lr=3e-3,
              outer_lr_schedule="cosine")


#: What the default (the multi-step loss; ``--one-step`` drops it) changes in the one-step recipe, COMMON.
MULTI_STEP = dict(n_inner_steps=2, multi_step_loss=True, k_query=10)


def estimators(maml_steps: int = 15_000, joint_steps: int = 5_000, *, compile: bool = True,
               multi_step_loss: bool = True, seed: int = 0):
    """The two unfitted estimators of the recipe, by kind ("maml", "joint"); MAML's seed is
    ``seed``, the baseline's ``seed + 1``. ``multi_step_loss=False``: MAML on the paper's
    one-step objective (``COMMON`` alone, the recipe FOMAML shares)."""
    maml_settings = {**COMMON, **(MULTI_STEP if multi_step_loss else {})}
    return {"maml": MAML(n_outer_steps=maml_steps, random_state=seed, compile=compile, **maml_settings),
            "joint": JointTraining(n_outer_steps=joint_steps, random_state=seed + 1, **COMMON)}


def query_mse(estimator, batch) -> CurveSummary:
    """Query MSE over ``batch``'s tasks after each of :data:`EVAL_STEPS` inner steps: mean ± 95%
    interval over the tasks that did not diverge, and which did (counted, never averaged in)."""
    curve = estimator.query_loss_curve(batch, inner_lr=0.01, n_inner_steps=max(EVAL_STEPS))  # (N, 11)
    return summarise_loss_curve(curve, EVAL_STEPS)


def report(kind: str, summary: CurveSummary, paper=None) -> str:
    """The evaluation lines of one model: its figures (beside the paper's, and whether each is met),
    then a line flagging diverged tasks if any."""
    ours = " / ".join(f"{m:.3f} ± {h:.3f}" for m, h in zip(summary.means, summary.half_widths))
    line = f"  {kind:7s} {ours}"
    if paper is not None:
        met = ["met" if m <= p else "above" for m, p in zip(summary.means, paper)]
        line += f"   (Finn et al. 2017: {' / '.join(f'{v:.2f}' for v in paper)}; {' / '.join(met)})"
    if summary.diverged:
        line += f"\n          warning: {summary.describe_divergence()}"
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15_000, help="outer steps for MAML (default 15000)")
    parser.add_argument("--joint-steps", type=int, default=5_000, help="steps for the baseline (default 5000)")
    parser.add_argument("--no-compile", action="store_true",
                        help="train MAML eagerly (same recipe, about 2.5x slower; for platforms where compiling fails)")
    parser.add_argument("--one-step", action="store_true",
                        help="train MAML on the paper's objective (one inner step, the query loss after it, "
                             "25 query points per task) instead of the multi-step loss: faster per step, but it "
                             "met the paper from only some seeds (RESULTS.md)")
    parser.add_argument("--seed", type=int, default=0, help="MAML's seed; the baseline's is seed + 1 (default 0)")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    for name in ("steps", "joint_steps"):
        if not 1 <= getattr(args, name) <= 10_000_000:
            parser.error(f"--{name.replace('_', '-')} must be in [1, 10000000]; got {getattr(args, name)}")
    if not 0 <= args.seed <= 2**31 - 2:
        parser.error(f"--seed must be in [0, {2**31 - 2}]; got {args.seed}")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)  # fail now, not after training
    started = time.perf_counter()
    torch.set_num_threads(2)
    tasks = SinusoidTasks()
    fitted = {}
    for kind, estimator in estimators(args.steps, args.joint_steps, compile=not args.no_compile,
                                      multi_step_loss=not args.one_step, seed=args.seed).items():
        began = time.perf_counter()
        for record in estimator.fit_iter(tasks):
            if record["step"] == 1 or record["step"] % 5000 == 0:
                recent = estimator.history_[-1000:]
                print(f"{kind}: step {record['step']}, mean loss of the last {len(recent)} steps "
                      f"{sum(recent) / len(recent):.3f} ({time.perf_counter() - began:.0f} s)", flush=True)
        path = weights_path(kind)
        if args.out_dir:
            path = Path(args.out_dir) / path.name
        estimator.save(path)
        fitted[kind] = estimator
        print(f"{kind}: wrote {path} after {time.perf_counter() - began:.1f} s", flush=True)
    trained = time.perf_counter() - started

    batch = tasks.sample_batch(EVAL_TASKS, EVAL_K, EVAL_QUERY, EVAL_SEED)
    print(f"\ntrained in {trained:.1f} s wall on {torch.get_num_threads()} threads (compile included)")
    print(f"query MSE on {EVAL_TASKS} fresh tasks (seed {EVAL_SEED}), K = {EVAL_K}, after "
          + " / ".join(map(str, EVAL_STEPS)) + " steps of α = 0.01 (mean ± 95% interval over tasks):")
    for kind, estimator in fitted.items():
        print(report(kind, query_mse(estimator, batch), PAPER_MSE[kind]))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
