"""Does the curvature term matter for MAML on the point robot? (lesson 10, section 3)

    python benchmarks/navigation_curvature.py                # 200 outer steps each, ~4 min on one core
    python benchmarks/navigation_curvature.py --steps 60     # quicker

Trains MAML with the shipped settings (:data:`mtlviz.pretrained.train_navigation.SETTINGS`) but
``n_outer_steps=--steps``, once with ProMP's ratio form of the inner loss (``curvature=True``, as
shipped) and once with the plain REINFORCE loss (``curvature=False``, as the paper's code), and
prints the average return before and after 1, 2, 3 steps on 40 fresh goals (seed 123), beside the
shipped pretrained policy measured the same way in the same run.
"""
from __future__ import annotations

import argparse
import time

import torch

from mtlviz.data.navigation import sample_goals
from mtlviz.pretrained import load_navigation
from mtlviz.pretrained.train_navigation import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="outer steps per MAML run (default 200)")
    parser.add_argument("--goals", type=int, default=40, help="fresh goals to evaluate on (default 40)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    goals = sample_goals(args.goals, random_state=123)
    rows = {"pretrained (shipped)": load_navigation("pretrained")}
    for curvature in (True, False):
        started = time.perf_counter()
        rows[f"MAML, curvature={curvature}"] = train("maml", n_outer_steps=args.steps, curvature=curvature)
        print(f"trained MAML curvature={curvature}: {time.perf_counter() - started:.0f} s", flush=True)
    print(f"average return on {args.goals} fresh goals (seed 123), before -> after 1, 2, 3 steps")
    for name, policy in rows.items():
        returns = policy.adapt(goals, n_steps=3, random_state=0).returns.mean(1)
        print(f"{name:>24}: " + "  ".join(f"{r:7.1f}" for r in returns))


if __name__ == "__main__":
    main()
