"""Regenerate lesson 06's curves: ``python -m mtlviz.pretrained.train_transfer_curves``.

Trains, for the three targets of :mod:`mtlviz.transfer.curves` (new glyph scripts, the same
in negative, handwritten digits), every K in 1, 2, 5, 10, 20, 50 labelled images per class and
every setting (from scratch; fine-tuning with 0–3 frozen conv blocks; feature extraction), on
the same 10-way episodes per K (12 at K = 1, 6 at K = 2, 3 from K = 5 on), 100 full-batch
gradient steps of lr 0.1, each scored on 30 held-out images per class; writes ``transfer_curves.json`` beside this file. Deterministic (fixed seeds,
one torch thread); about half an hour per target on one core (``--targets digits`` runs one).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..transfer.curves import SHOTS, TARGETS, TransferCurves
from . import WEIGHTS_DIR, load_glyph_finetune


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--shots", type=int, nargs="+", default=list(SHOTS))
    parser.add_argument("--out", default=None, help="file to write (default: the package's transfer_curves.json)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other targets already in --out (to run the targets in separate processes)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else WEIGHTS_DIR / "transfer_curves.json"
    torch.set_num_threads(1)
    started = time.perf_counter()

    def progress(message):
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    curves = TransferCurves.compute(backbone=load_glyph_finetune(), targets=tuple(args.targets), shots=tuple(args.shots), progress=progress)
    if args.merge and out.exists():
        previous = TransferCurves.load(out)
        curves = TransferCurves({**previous.accuracies, **curves.accuracies}, curves.settings)
    curves.save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
