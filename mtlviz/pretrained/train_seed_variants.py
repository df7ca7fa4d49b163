"""Regenerate the weights of lesson 04: ``python -m mtlviz.pretrained.train_seed_variants``.

Trains MAML on the sinusoids four times, from the same initial θ and with the same settings,
differing only in the seed's two learning bugs (see ``mtlviz.meta.seed.VARIANTS``): 3,000 outer
steps each; then a fifth time, the one-task variant for 25x the steps (75,000: as many tasks
seen as the corrected recipe, ``mtlviz.meta.seed.EQUAL_TASKS``). Deterministic (fixed seeds, two
threads); about 4 minutes on 2 CPU cores. ``--only NAME`` trains one variant.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..meta.seed import ALL_VARIANTS, variant_estimator, variant_tasks
from . import WEIGHTS_DIR


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="outer steps per variant (default 3000)")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    parser.add_argument("--only", action="append", choices=sorted(ALL_VARIANTS), default=None,
                        help="train only this variant (repeatable; default: all five)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.only or ALL_VARIANTS:
        started = time.perf_counter()
        estimator = variant_estimator(name, n_outer_steps=args.steps, random_state=0).fit(variant_tasks(name))
        path = out_dir / f"seed_{name}.pt"
        estimator.save(path)
        print(f"{name}: wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
