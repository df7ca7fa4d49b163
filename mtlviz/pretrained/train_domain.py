"""Regenerate lesson 07's two-moons fits: ``python -m mtlviz.pretrained.train_domain``.

Trains :class:`~mtlviz.transfer.domain.DomainAdaptationClassifier` with each method (source only, Deep
CORAL, DANN; the estimator's defaults: 2-32-4 features, 400 full-batch Adam steps) on
``rotated_moons(angle, random_state=0)`` for every target rotation 0°, 10°, …, 90°, with
``random_state=0`` for the weights, and writes the 30 small networks to
``mtlviz/pretrained/two_moons_da.pt`` (about 140 KB). The lesson's angle slider only redraws
these; its "Train live" button runs the same fit in the kernel. Deterministic on a given torch
build: one thread, fixed seeds (a live fit with seed 0 gives the same weights). Takes about
35 s of CPU time on one core.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..transfer.domain import METHODS, DomainAdaptationClassifier, network_state
from ..data.moons import rotated_moons
from . import TWO_MOONS_DA_KIND, two_moons_da_path

#: Target rotations (degrees) of the shipped fits.
ANGLES = tuple(range(0, 91, 10))


def train_all(angles=ANGLES, seed: int = 0, n_steps: int = 400) -> dict:
    """Fit every method at every rotation; return the dict that is saved (see the module doc)."""
    models = {}
    for angle in angles:
        problem = rotated_moons(angle, random_state=seed)
        for method in METHODS:
            model = DomainAdaptationClassifier(method, n_steps=n_steps, random_state=seed)
            model.fit(problem.x_source, problem.y_source, problem.x_target)
            models[f"{method}@{angle}"] = network_state(model)
    params = {key: value for key, value in DomainAdaptationClassifier(n_steps=n_steps).get_params().items()
              if key not in ("method", "random_state", "trade_off")}
    return {"kind": TWO_MOONS_DA_KIND, "angles": list(angles), "seed": seed, "params": params,
            "models": models, "torch_version": str(torch.__version__)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="file to write (default: the package's two_moons_da.pt)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the lesson's live fits run on one thread too: same weights
    started = time.perf_counter()
    state = train_all()
    path = two_moons_da_path() if args.out is None else Path(args.out)
    torch.save(state, path)
    print(f"wrote {len(state['models'])} networks to {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
