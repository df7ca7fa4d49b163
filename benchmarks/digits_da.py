"""Domain adaptation on images: clean digits → blurred, noisy digits (lesson 07, section 5).

Run from the repository root::

    python benchmarks/digits_da.py              # 10 seeds
    python benchmarks/digits_da.py --seeds 3

For each seed s, ``shifted_digits(random_state=s)`` splits scikit-learn's 1,797 digits (8×8)
into 600 clean labelled source images, 600 unlabelled target images under ``blur_and_noise``
(3×3 blur, noise σ = 0.15) and 597 target test images; each method trains
``DomainAdaptationClassifier(hidden=64, n_features=16, n_steps=300, random_state=s)`` (DANN also
with a smaller λ_max = 0.3) and is scored on the target test images. Each cell: target test
accuracy, mean ± standard deviation over seeds (n − 1), and the smallest and largest gain over
source only on the same seed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz.transfer.domain import DomainAdaptationClassifier
from mtlviz.data.shifts import shifted_digits

#: (label, method, trade_off) rows of the table; None takes the estimator's default.
SETTINGS = [("source only", "source_only", None), ("Deep CORAL (w = 300)", "coral", None),
            ("DANN (λ_max = 1)", "dann", None), ("DANN (λ_max = 0.3)", "dann", 0.3)]
NETWORK = dict(hidden=64, n_features=16, n_steps=300)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds (default 10)")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (for a standard deviation); got {args.seeds}")
    torch.set_num_threads(1)
    accuracies = {label: [] for label, _, _ in SETTINGS}
    seconds = []
    for seed in range(args.seeds):
        problem = shifted_digits(random_state=seed)
        for label, method, trade_off in SETTINGS:
            model = DomainAdaptationClassifier(method, trade_off=trade_off, random_state=seed, **NETWORK)
            started = time.perf_counter()
            model.fit(problem.x_source, problem.y_source, problem.x_target)
            seconds.append(time.perf_counter() - started)
            accuracies[label].append(model.score(problem.x_test, problem.y_test))
    baseline = np.array(accuracies["source only"])
    print(f"clean digits -> blurred, noisy digits; {args.seeds} seeds; network 64-64-16, 300 Adam steps; "
          f"mean {np.mean(seconds):.2f} s per fit (1 thread)")
    print("| method | target accuracy (mean ± std) | gain over source only (min … max) |")
    print("|---|---|---|")
    for label, values in accuracies.items():
        values = np.array(values)
        gains = values - baseline
        gain = "—" if label == "source only" else f"{gains.mean():+.3f} ({gains.min():+.3f} … {gains.max():+.3f})"
        print(f"| {label} | {values.mean():.3f} ± {values.std(ddof=1):.3f} | {gain} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
