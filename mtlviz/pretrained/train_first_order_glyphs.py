"""Regenerate lesson 09's first-order glyph models: ``python -m mtlviz.pretrained.train_first_order_glyphs``.

5-way 1-shot and 5-shot, on the pool of ``train_glyphs`` (20 seeded drawings of each of the 912
background characters), the shipped MAML's network and test-time adaptation (3 steps of α = 0.4),
and the shipped MAML's outer steps (``STEPS``: 2,000 at 1-shot, 1,000 at 5-shot), so that the
methods are compared after the same training:

- ``glyph_fomaml_{1,5}shot.pt``: :class:`~mtlviz.meta.fewshot.MAMLClassifier` with
  ``first_order=True`` (MAML's settings otherwise: 1 inner step of α = 0.4, meta-batch 8, Adam
  β = 1e-3);
- ``glyph_reptile_{1,5}shot.pt``: :class:`~mtlviz.meta.reptile.ReptileClassifier`, 5 SGD steps of
  α = 0.4 on all images of each episode (K support + 5 query per class), meta-batch 8, ε = 1
  annealed linearly to 0 (Nichol et al. 2018's Omniglot schedule; their inner optimiser is Adam).

Deterministic (fixed seeds, one torch thread). ``--kinds``, ``--shots`` and ``--steps`` select.
"""
from __future__ import annotations

import sys

from ..meta.fewshot import MAMLClassifier
from ..meta.reptile import ReptileClassifier
from .train_glyphs import IMAGE_SIZE, MAML_STEPS, train_main

#: Outer steps of each model, per K: the shipped MAML's.
STEPS = MAML_STEPS
KINDS = ("fomaml", "reptile")


def weights_file(kind: str, k_shot: int) -> str:
    """The file name of the shipped ``kind`` model at ``k_shot``."""
    return f"glyph_{kind}_{k_shot}shot.pt"


def first_order_glyph_model(kind: str, n_outer_steps=None, k_shot: int = 1):
    """The shipped ``k_shot`` configuration of ``kind`` ("fomaml" or "reptile"), untrained."""
    if k_shot not in STEPS:
        raise ValueError(f"k_shot must be one of {sorted(STEPS)}; got {k_shot!r}")
    steps = n_outer_steps or STEPS[k_shot]
    if kind == "fomaml":
        return MAMLClassifier(k_shot=k_shot, image_size=IMAGE_SIZE, first_order=True, n_outer_steps=steps,
                              random_state=0)
    if kind == "reptile":
        return ReptileClassifier(k_shot=k_shot, image_size=IMAGE_SIZE, inner_lr=0.4, outer_lr=1.0, n_inner_steps=5,
                                 n_outer_steps=steps, random_state=0)
    raise ValueError(f"kind must be one of {list(KINDS)}; got {kind!r}")


def main(argv=None) -> int:
    jobs = {(kind, k): (f"{kind} {k}-shot glyphs", weights_file(kind, k),
                        lambda steps, kind=kind, k=k: first_order_glyph_model(kind, steps, k))
            for k in STEPS for kind in KINDS}
    return train_main(__doc__, jobs, KINDS, argv, default_steps=STEPS, every=100)


if __name__ == "__main__":
    sys.exit(main())
