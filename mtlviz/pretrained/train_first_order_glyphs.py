"""Regenerate lesson 09's first-order glyph models: ``python -m mtlviz.pretrained.train_first_order_glyphs``.

5-way 1-shot, on the pool of ``train_glyphs`` (20 seeded drawings of each of the 912 background
characters), the shipped MAML's network and test-time adaptation (3 steps of α = 0.4), ``STEPS``
outer steps each (the shipped MAML had 2,000; a few minutes of one thread each):

- ``glyph_fomaml_1shot.pt``: :class:`~mtlviz.meta.fewshot.MAMLClassifier` with ``first_order=True``
  (MAML's settings otherwise: 1 inner step of α = 0.4, meta-batch 8, Adam β = 1e-3);
- ``glyph_reptile_1shot.pt``: :class:`~mtlviz.meta.reptile.ReptileClassifier`, 5 SGD steps of
  α = 0.4 on all 10 images of each episode (1 support + 5 query per class), meta-batch 8, ε = 1
  annealed linearly to 0 (Nichol et al. 2018's Omniglot schedule; their inner optimiser is Adam).

Deterministic (fixed seeds, one torch thread).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..meta.fewshot import MAMLClassifier
from ..meta.reptile import ReptileClassifier
from . import WEIGHTS_DIR
from .train_glyphs import IMAGE_SIZE, _fit_and_save, background_pool

#: Outer steps of each model (the shipped 1-shot MAML had 2,000).
STEPS = 200
FILES = {"fomaml": "glyph_fomaml_1shot.pt", "reptile": "glyph_reptile_1shot.pt"}


def first_order_glyph_model(kind: str, n_outer_steps=None):
    """The shipped 1-shot configuration of ``kind`` ("fomaml" or "reptile"), untrained."""
    steps = n_outer_steps or STEPS
    if kind == "fomaml":
        return MAMLClassifier(k_shot=1, image_size=IMAGE_SIZE, first_order=True, n_outer_steps=steps, random_state=0)
    if kind == "reptile":
        return ReptileClassifier(k_shot=1, image_size=IMAGE_SIZE, inner_lr=0.4, outer_lr=1.0, n_inner_steps=5,
                                 n_outer_steps=steps, random_state=0)
    raise ValueError(f"kind must be one of {sorted(FILES)}; got {kind!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(FILES), choices=list(FILES))
    parser.add_argument("--steps", type=int, default=None, help=f"outer steps per model (default {STEPS})")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    pool = background_pool()
    for kind in args.kinds:
        _fit_and_save(first_order_glyph_model(kind, args.steps), pool, f"{kind} 1-shot glyphs", out_dir / FILES[kind],
                      every=50)
    return 0


if __name__ == "__main__":
    sys.exit(main())
