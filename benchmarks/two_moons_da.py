"""Domain adaptation on rotated two moons: source only, Deep CORAL and DANN, next to ADAPT.

Run from the repository root::

    python benchmarks/two_moons_da.py                 # 10 seeds, rotations 0°, 30°, 50°, 70°
    python benchmarks/two_moons_da.py --seeds 5 --rotations 30

For every rotation θ and seed s it draws a labelled source sample (``two_moons``, rotation 0),
an unlabelled target sample of the same size (the moons rotated by θ about their centre) and a
separate labelled target test sample, trains ``DomainAdaptationClassifier`` with each method
from the same initial weights (``random_state=s``), and scores it on the target test sample.
Read the table: each cell is the target test accuracy, mean ± standard deviation over seeds
(the spread between seeds is part of the result: adversarial and covariance-matching training
land on different solutions from different starts); *s / fit* is the mean wall time of one
``fit`` (after one untimed warm-up fit). Source only shows what the classifier loses to the
shift; CORAL and DANN should recover part of it at moderate rotations. At 0° there is nothing to
adapt to, and adaptation should cost little; past about 60° the rotated moons resemble the source
moons with the labels swapped, and matching the two feature distributions can align the wrong
moon (accuracy below 0.5).

The reference figures are from ADAPT's two-moons example (rotation 30°): source only 0.84,
DANN 0.94. Its setup differs (100 points, noise 0.05, its own networks, accuracy on the
training target points), so compare the size of the gain rather than the numbers themselves.
The output ends in a Markdown table that can be pasted into a results file.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

# Evaluate the checkout this script sits in, whatever the current directory or installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz.transfer.domain import METHODS, DomainAdaptationClassifier
from mtlviz.data.moons import rotated_moons, two_moons

NAMES = {"source_only": "source only", "coral": "Deep CORAL", "dann": "DANN"}
#: ADAPT's two-moons example, rotation 30°: target accuracy.
ADAPT_REFERENCE = {"rotation": 30, "source_only": 0.84, "dann": 0.94}
ROTATIONS = (0, 30, 50, 70)


def evaluate(method: str, rotation: float, seed: int, args) -> tuple:
    """Target test accuracy and fit seconds of one method, rotation and seed."""
    problem = rotated_moons(rotation, n_samples=args.n_samples, n_test=args.n_test, noise=args.noise,
                            random_state=seed)
    params = {} if args.steps is None else {"n_steps": args.steps}
    model = DomainAdaptationClassifier(method, random_state=seed, **params)
    started = time.perf_counter()
    model.fit(problem.x_source, problem.y_source, problem.x_target)
    seconds = time.perf_counter() - started
    return model.score(problem.x_test, problem.y_test), seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per cell (default 10)")
    parser.add_argument("--rotations", type=float, nargs="+", default=list(ROTATIONS),
                        help="target rotations in degrees, in [0, 180] (default 0 30 50 70)")
    parser.add_argument("--n-samples", type=int, default=300,
                        help="points per domain for training (default 300)")
    parser.add_argument("--n-test", type=int, default=1000, help="target test points (default 1000)")
    parser.add_argument("--noise", type=float, default=0.1, help="make_moons noise (default 0.1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="Adam steps per fit (default: the estimator's, 400)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (for a standard deviation); got {args.seeds}")
    if any(not 0 <= r <= 180 for r in args.rotations):
        parser.error(f"--rotations must lie in [0, 180]; got {args.rotations}")
    if args.n_samples < 2 or args.n_test < 2:
        parser.error("--n-samples and --n-test must be at least 2")
    if not 0 <= args.noise <= 1:
        parser.error(f"--noise must be in [0, 1]; got {args.noise:g}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be at least 1; got {args.steps}")

    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    defaults = DomainAdaptationClassifier()
    steps = defaults.n_steps if args.steps is None else args.steps
    print(f"torch {torch.__version__}, Python {platform.python_version()}, {torch.get_num_threads()} thread(s) "
          f"of {os.cpu_count()} CPUs, load average {load:.1f}")
    if load > (os.cpu_count() or 1) - 0.5:
        print("  note: the machine is busy; the s / fit column is slower than on an idle machine")
    print(f"two moons, noise {args.noise:g}: {args.n_samples} labelled source + {args.n_samples} unlabelled target "
          f"points for training, {args.n_test} target points for testing; seeds 0…{args.seeds - 1}")
    print(f"network 2-{defaults.hidden}-{defaults.n_features} features, Adam lr {defaults.lr:g}, "
          f"{steps} full-batch steps; trade-off CORAL {DomainAdaptationClassifier.DEFAULT_TRADE_OFF['coral']:g}, "
          f"DANN λ_max {DomainAdaptationClassifier.DEFAULT_TRADE_OFF['dann']:g} (γ = {defaults.gamma:g})")
    print(f"reference, ADAPT two-moons example at {ADAPT_REFERENCE['rotation']}°: source only "
          f"{ADAPT_REFERENCE['source_only']:.2f}, DANN {ADAPT_REFERENCE['dann']:.2f} "
          "(a different setup: see this script's docstring)")
    print()

    # The first torch.optim.Adam of a process imports torch._dynamo (2-3 s); keep it out of the timings.
    x_warm, y_warm = two_moons(20, random_state=0)
    DomainAdaptationClassifier(n_steps=1).fit(x_warm, y_warm, x_warm)

    header = ["method"] + [f"{r:g}°" for r in args.rotations] + ["s / fit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for method in METHODS:
        cells, seconds = [], []
        for rotation in args.rotations:
            results = [evaluate(method, rotation, seed, args) for seed in range(args.seeds)]
            accuracies = np.array([accuracy for accuracy, _ in results])
            seconds += [s for _, s in results]
            cells.append(f"{accuracies.mean():.3f} ± {accuracies.std(ddof=1):.3f}")
        lines.append(f"| {NAMES[method]} | " + " | ".join(cells) + f" | {np.mean(seconds):.2f} |")
    print("\n".join(lines))
    print()
    print("Target test accuracy, mean ± std over seeds (std with n − 1). ADAPT: de Mathelin et al., "
          "'ADAPT: Awesome Domain Adaptation Python Toolbox', arXiv:2107.03049, two-moons example.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
