"""Few-shot sinusoid regression with the shipped weights, next to Finn et al. (2017).

Run from the repository root::

    python benchmarks/sinusoid_eval.py                          # the shipped weights
    python benchmarks/sinusoid_eval.py --weights-dir /tmp/wtest  # weights written with --out-dir

Loads the meta-learned MAML θ, first-order MAML's and Reptile's (lesson 09, ``python -m
mtlviz.pretrained.train_first_order``) and the pretrained baseline θ (one network trained by plain
regression on all tasks pooled), draws fresh test tasks from the paper's sinusoid family with a
seed no training run uses, adapts each model to each task by 1…10 steps of SGD with α = 0.01 on
the task's K support points, and reports the MSE on 100 query points of the same task after 1, 5
and 10 steps: mean ± 95% interval (mtlviz.evaluation.mean_ci95: t · std / √n over tasks). Both models see the same tasks.
The output ends in a Markdown table that can be pasted into a results file.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

# Evaluate the checkout this script sits in, whatever the current directory or installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz import SinusoidTasks, WeightsError  # noqa: E402
from mtlviz.evaluation import summarise_loss_curve  # noqa: E402
from mtlviz.pretrained import load_sinusoid, weights_path  # noqa: E402

#: Reported steps (columns) and the paper's query MSE after them, K = 5, α = 0.01.
STEPS = (1, 5, 10)
PAPER = {"maml": (0.67, 0.38, 0.35), "joint": (2.41, 2.23, 2.19)}
#: The rows, in order; FOMAML and Reptile have no sinusoid table in their papers.
KINDS = ("maml", "fomaml", "reptile", "joint")
PAPER_K = 5
PAPER_INNER_LR = 0.01
NAMES = {"maml": "MAML", "fomaml": "first-order MAML", "reptile": "Reptile", "joint": "pretrained baseline"}
#: Outer steps of the shortest full recipe (train_sinusoid's and train_first_order's defaults;
#: the shipped MAML and baseline used 70,000 / 20,000); fewer means a short test run.
FULL_STEPS = {"maml": 15_000, "fomaml": 15_000, "reptile": 3_000, "joint": 5_000}
#: Seeds used by ``python -m mtlviz.pretrained.train_sinusoid`` (MAML 0, baseline 1).
TRAINING_SEEDS = (0, 1)
N_QUERY = 100
REGENERATE = "python -m mtlviz.pretrained.train_sinusoid"
REGENERATE_FIRST_ORDER = "python -m mtlviz.pretrained.train_first_order"


def load_models(weights_dir):
    """Both estimators, or exit with status 1 and the command that makes the missing files."""
    paths = {kind: weights_path(kind) if weights_dir is None else Path(weights_dir) / weights_path(kind).name
             for kind in KINDS}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    # train_sinusoid does not create --out-dir itself (torch.save fails after training), hence mkdir.
    commands = [REGENERATE, REGENERATE_FIRST_ORDER]
    if weights_dir is not None:
        commands = [f"mkdir -p {weights_dir}"] + [f"{c} --out-dir {weights_dir}" for c in commands]
    command = " && ".join(commands)
    if missing:
        sys.exit("error: weights file(s) missing: " + ", ".join(missing) + "\n"
                 f"Regenerate them with:  {command}\n"
                 "(about 65 s and 2 minutes on 2 idle CPU cores; add --steps for a shorter, weaker run)")
    try:
        return paths, {kind: load_sinusoid(kind, path=path) for kind, path in paths.items()}
    except WeightsError as error:
        sys.exit(f"error: {error}\nRegenerate them with:  {command}")


def describe(kind: str, estimator) -> str:
    """A short account of how a weights file was trained, from its stored hyperparameters."""
    if kind == "joint":  # JointTraining trains with no inner step; n_inner_steps only sets adapt's default
        objective = "plain regression on the pooled tasks"
    else:
        objective = f"{estimator.n_inner_steps} inner step(s) of α = {estimator.inner_lr:g}"
    return (f"{type(estimator).__name__}: {estimator.n_outer_steps} outer steps, {objective}, "
            f"meta-batch {estimator.meta_batch_size}, K = {estimator.k_shot}, random_state {estimator.random_state}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=600, help="test tasks (default 600)")
    parser.add_argument("--k", type=int, default=PAPER_K, help=f"support points per task, K (default {PAPER_K})")
    parser.add_argument("--seed", type=int, default=2026,
                        help="seed of the test tasks (default 2026; training uses 0 and 1)")
    parser.add_argument("--inner-lr", type=float, default=PAPER_INNER_LR,
                        help=f"α, the fine-tuning step (default {PAPER_INNER_LR}, the paper's)")
    parser.add_argument("--weights-dir", default=None,
                        help="folder holding sinusoid_maml.pt and sinusoid_joint.pt "
                             "(default: the shipped weights in mtlviz/pretrained)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args(argv)
    if args.tasks < 2:
        parser.error(f"--tasks must be at least 2 (for an interval); got {args.tasks}")
    if args.k < 1:
        parser.error(f"--k must be at least 1; got {args.k}")
    if not 0.0 <= args.inner_lr <= 10.0:  # the range mtlviz.functional accepts
        parser.error(f"--inner-lr must be in [0, 10]; got {args.inner_lr:g}")
    if args.seed in TRAINING_SEEDS:
        print(f"warning: seed {args.seed} is also a training seed; the test tasks may repeat training tasks",
              file=sys.stderr)

    torch.set_num_threads(args.threads)
    paths, models = load_models(args.weights_dir)
    batch = SinusoidTasks().sample_batch(args.tasks, args.k, N_QUERY, args.seed)

    print(f"{args.tasks} test tasks (seed {args.seed}), K = {args.k} support and {N_QUERY} query points each, "
          f"fine-tuned by SGD with α = {args.inner_lr:g}; query MSE, mean ± 95% interval over tasks")
    for kind, path in paths.items():
        print(f"  {NAMES[kind]}: {path}  ({describe(kind, models[kind])})")
    short = [NAMES[kind] for kind, model in models.items() if model.n_outer_steps < FULL_STEPS[kind]]
    if short:
        print(f"  note: {' and '.join(short)} trained for fewer steps than the full recipe "
              f"({', '.join(f'{NAMES[k]} {v}' for k, v in FULL_STEPS.items())}); not comparable to the paper")
    print()

    comparable = args.k == PAPER_K and args.inner_lr == PAPER_INNER_LR
    header = ["model", "source"] + [f"{s} step{'s' if s > 1 else ''}" for s in STEPS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for kind, estimator in models.items():
        curve = estimator.query_loss_curve(batch, inner_lr=args.inner_lr, n_inner_steps=max(STEPS))  # (N, 11)
        summary = summarise_loss_curve(curve, STEPS)  # diverged tasks counted, not averaged in
        cells = [f"{mean:.3f} ± {half_width:.3f}" for mean, half_width in zip(summary.means, summary.half_widths)]
        if summary.diverged:
            print(f"warning: {NAMES[kind]}: {summary.describe_divergence()}")
        lines.append(f"| {NAMES[kind]} | mtlviz, K = {args.k} | " + " | ".join(cells) + " |")
        paper = [f"{v:.2f}" for v in PAPER[kind]] if comparable and kind in PAPER else ["n/a"] * len(STEPS)
        if kind in PAPER:
            lines.append(f"| {NAMES[kind]} | Finn et al. 2017, K = {PAPER_K} | " + " | ".join(paper) + " |")
    print("\n".join(lines))
    print()
    if not comparable:
        print(f"The paper's figures are for K = {PAPER_K} and α = {PAPER_INNER_LR}; they are not shown for other settings.")
    print("Finn et al. 2017: 'Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks', ICML, "
          "sinusoid regression, K = 5.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
