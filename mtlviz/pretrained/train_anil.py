"""Regenerate lesson 09's meta-trained ANIL models: ``python -m mtlviz.pretrained.train_anil``.

Meta-trains :class:`mtlviz.meta.anil.ANILClassifier` (the glyph MAML's network and settings: 4 conv
blocks of 32 filters, 20-pixel images, 5-way 1-shot episodes with 5 query images per class, one
second-order inner step of α = 0.4 on the head only, meta-batch 8, Adam β = 1e-3, 3 head steps at
test) on the pool of ``train_glyphs`` (20 seeded drawings of each of the 912 background
characters), twice:

- ``glyph_anil_1shot.pt``: from a random θ, as Raghu et al. (2020) train ANIL;
- ``glyph_anil_transfer_1shot.pt``: from the conv blocks of lesson 06's pretrained network
  (``glyph_finetune.pt``, trained on all 912 classes at once) and a zero head: pretrain, then
  meta-train, the recipe of meta-transfer learning (Sun et al. 2019) without its scaling-and-
  shifting parameters.

``STEPS`` outer steps each (fewer than the shipped MAML's 2,000: a few minutes of one thread
each). Deterministic (fixed seeds, one torch thread). ``--steps`` changes the count.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..meta.anil import ANILClassifier
from . import WEIGHTS_DIR, load_glyph_finetune
from .train_glyphs import IMAGE_SIZE, _fit_and_save, background_pool

#: Outer steps of each shipped ANIL model (the shipped 1-shot MAML had 2,000).
STEPS = 300
#: start -> the weights file it writes
FILES = {"random": "glyph_anil_1shot.pt", "pretrained": "glyph_anil_transfer_1shot.pt"}


def anil(start: str = "random", n_outer_steps=None) -> ANILClassifier:
    """The shipped 1-shot configuration, untrained; ``start="pretrained"`` warm-starts it from
    lesson 06's pretrained backbone."""
    if start not in FILES:
        raise ValueError(f"start must be one of {sorted(FILES)}; got {start!r}")
    estimator = ANILClassifier(k_shot=1, image_size=IMAGE_SIZE, n_outer_steps=n_outer_steps or STEPS, random_state=0)
    if start == "pretrained":
        estimator.warm_start(load_glyph_finetune().backbone_)
    return estimator


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", nargs="+", default=list(FILES), choices=list(FILES),
                        help="which models to train (default both)")
    parser.add_argument("--steps", type=int, default=None, help=f"outer steps per model (default {STEPS})")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    pool = background_pool()
    for start in args.starts:
        _fit_and_save(anil(start, args.steps), pool, f"ANIL 1-shot from {start} θ", out_dir / FILES[start], every=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
