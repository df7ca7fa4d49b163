"""Regenerate lesson 09's meta-trained ANIL models: ``python -m mtlviz.pretrained.train_anil``.

Meta-trains :class:`mtlviz.meta.anil.ANILClassifier` (the glyph MAML's network and settings: 4 conv
blocks of 32 filters, 20-pixel images, 5-way K-shot episodes with 5 query images per class, one
second-order inner step of α = 0.4 on the head only, meta-batch 8, Adam β = 1e-3, 3 head steps at
test) on the pool of ``train_glyphs`` (20 seeded drawings of each of the 912 background
characters), for the shipped MAML's outer steps (``STEPS``: 2,000 at 1-shot, 1,000 at 5-shot):

- ``glyph_anil_{1,5}shot.pt``: from a random θ, as Raghu et al. (2020) train ANIL;
- ``glyph_anil_transfer_{1,5}shot.pt``: from the conv blocks of lesson 06's pretrained network
  (``glyph_finetune.pt``, trained on all 912 classes at once) and a zero head: pretrain, then
  meta-train, the recipe of meta-transfer learning (Sun et al. 2019) without its scaling-and-
  shifting parameters.

Deterministic (fixed seeds, one torch thread). ``--starts``, ``--shots`` and ``--steps`` select.
"""
from __future__ import annotations

import sys

from ..meta.anil import ANILClassifier
from . import ANIL_FILES, load_glyph_finetune
from .train_glyphs import IMAGE_SIZE, MAML_STEPS, train_main

#: Outer steps of each shipped ANIL model, per K: the shipped MAML's.
STEPS = MAML_STEPS
#: (start, K) -> the weights file it writes
FILES = ANIL_FILES
STARTS = ("random", "pretrained")


def anil(start: str = "random", n_outer_steps=None, k_shot: int = 1) -> ANILClassifier:
    """The shipped ``k_shot`` configuration, untrained; ``start="pretrained"`` warm-starts it from
    lesson 06's pretrained backbone."""
    if (start, k_shot) not in FILES:
        raise ValueError(f"(start, k_shot) must be one of {sorted(FILES)}; got {(start, k_shot)!r}")
    estimator = ANILClassifier(k_shot=k_shot, image_size=IMAGE_SIZE, n_outer_steps=n_outer_steps or STEPS[k_shot],
                               random_state=0)
    if start == "pretrained":
        estimator.warm_start(load_glyph_finetune().backbone_)
    return estimator


def main(argv=None) -> int:
    jobs = {(start, k): (f"ANIL {k}-shot from {start} θ", file_name,
                         lambda steps, start=start, k=k: anil(start, steps, k))
            for (start, k), file_name in FILES.items()}
    return train_main(__doc__, jobs, STARTS, argv, flag="--starts", default_steps=STEPS, every=100)


if __name__ == "__main__":
    sys.exit(main())
