"""Regenerate lesson 08's Prototypical Networks: ``python -m mtlviz.pretrained.train_protonet``.

Meta-trains :class:`mtlviz.meta.protonet.PrototypicalNetwork` (the 4 conv blocks of 32 filters of
the other glyph models, no head: a 32-dimensional embedding of 20-pixel images) on the same pool
as ``train_glyphs`` (20 seeded drawings of each of the 912 background characters), with
Snell et al.'s recipe of training on more classes per episode than at test: 20-way episodes with
K support images (K = 1 and K = 5, one model each, matching the test shot as Snell et al. do)
and 5 query images per class, one episode per Adam step (β = 1e-3), 3,000 steps (1-shot) and
2,000 (5-shot). Deterministic (fixed seeds, one torch thread); about 3.5 and 4 minutes on an
idle core. Writes ``protonet_{1,5}shot.pt`` (about 120 KB each);
``benchmarks/glyph_fewshot_eval.py`` scores them on the 600 test episodes of the other models.
"""
from __future__ import annotations

import sys

from ..meta.protonet import PrototypicalNetwork
from .train_glyphs import IMAGE_SIZE, train_main

#: Classes per training episode (Snell et al. 2017 train Omniglot with 60; our ConvNet check allows 20).
TRAIN_WAY = 20
STEPS = {1: 3000, 5: 2000}


def protonet(k_shot: int, n_outer_steps=None) -> PrototypicalNetwork:
    """The shipped configuration for ``k_shot`` (1 or 5), untrained."""
    return PrototypicalNetwork(n_way=TRAIN_WAY, k_shot=k_shot, n_query=5, image_size=IMAGE_SIZE, outer_lr=1e-3,
                               meta_batch_size=1, n_outer_steps=n_outer_steps or STEPS[k_shot], random_state=0)


def main(argv=None) -> int:
    jobs = {("protonet", k): (f"ProtoNet {k}-shot", f"protonet_{k}shot.pt", lambda steps, k=k: protonet(k, steps))
            for k in STEPS}
    return train_main(__doc__, jobs, ("protonet",), argv, default_steps=STEPS)


if __name__ == "__main__":
    sys.exit(main())
