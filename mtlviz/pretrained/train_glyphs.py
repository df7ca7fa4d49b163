"""Regenerate the glyph few-shot weights: ``python -m mtlviz.pretrained.train_glyphs`` (MAML).

Meta-trains :class:`mtlviz.meta.fewshot.MAMLClassifier` (4 conv blocks of 32 filters, 20-pixel
images, second-order MAML, 1 inner step of α = 0.4 in training, meta-batch 8, Adam 1e-3) on a
pool of 20 drawings of each of the 912 background-script characters, once for 5-way 1-shot and
once for 5-way 5-shot episodes (5 query images per class), for 2,000 outer steps (1-shot) and
1,000 (5-shot, an easier problem whose steps cost more). The
evaluation scripts are never seen. Deterministic (fixed seeds, one torch thread: two threads
collapse when anything else runs on a 2-core machine); about 15 minutes each on an idle
machine, and they can run side by side (``--shots 1`` and ``--shots 5``).
``benchmarks/glyph_fewshot_eval.py`` scores the result on 600 test episodes.

``--meta-lstm`` trains :class:`mtlviz.meta.metalstm.MetaLSTM` instead (same learner and pool; 5
learner updates per 1-shot episode, 8 per 5-shot episode, meta-batch 1, Adam 1e-3, clip 0.25,
1,000 meta-updates),
writing ``glyph_metalstm_{1,5}shot.pt``; ``--finetune`` pretrains the
:class:`mtlviz.transfer.finetune.FineTuneClassifier` backbone on all 912 background classes (10 epochs),
writing ``glyph_finetune.pt``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..meta.fewshot import MAMLClassifier
from ..data.glyphs import GlyphTasks
from . import WEIGHTS_DIR

IMAGE_SIZE = 20
POOL_DRAWINGS = 20
#: Outer steps of the shipped MAML models, per K; the other glyph meta-learners train as long.
MAML_STEPS = {1: 2000, 5: 1000}


def background_pool():
    """The training data: 20 seeded drawings of every background character, 20 pixels."""
    return GlyphTasks("background", image_size=IMAGE_SIZE).pool(POOL_DRAWINGS, random_state=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="outer steps per model (default: MAML 2000 for 1-shot, 1000 for 5-shot; Meta-LSTM 1000)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5], help="K values to train (default 1 5)")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    parser.add_argument("--meta-lstm", action="store_true", help="train Meta-LSTM instead of MAML")
    parser.add_argument("--finetune", action="store_true", help="pretrain the fine-tuning baseline instead")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    pool = background_pool()
    if args.finetune:
        from ..transfer.finetune import FineTuneClassifier

        estimator = FineTuneClassifier(image_size=IMAGE_SIZE, pretrain_epochs=10, random_state=0)
        _fit_and_save(estimator, pool, "fine-tuning baseline (pretraining)", out_dir / "glyph_finetune.pt", every=500)
        return 0
    for k_shot in args.shots:
        if args.meta_lstm:
            from ..meta.metalstm import MetaLSTM

            estimator = MetaLSTM(k_shot=k_shot, image_size=IMAGE_SIZE, n_inner_steps=5 if k_shot == 1 else 8,
                                 n_outer_steps=args.steps or 1000, random_state=0)
            _fit_and_save(estimator, pool, f"Meta-LSTM {k_shot}-shot", out_dir / f"glyph_metalstm_{k_shot}shot.pt")
        else:
            estimator = MAMLClassifier(k_shot=k_shot, image_size=IMAGE_SIZE, random_state=0,
                                       n_outer_steps=args.steps or MAML_STEPS[k_shot])
            _fit_and_save(estimator, pool, f"MAML {k_shot}-shot", out_dir / f"glyph_maml_{k_shot}shot.pt")
    return 0


def _fit_and_save(estimator, pool, label: str, path: Path, every: int = 250) -> None:
    """Train ``estimator`` on ``pool``, printing the mean loss of every ``every`` steps; save it."""
    started = time.perf_counter()
    for record in estimator.fit_iter(pool):
        if record["step"] % every == 0:
            recent = estimator.history_[-every:]
            print(f"{label} step {record['step']}: loss {sum(recent) / len(recent):.3f} ({record['seconds']:.0f} s)",
                  flush=True)
    estimator.save(path)
    print(f"{label}: wrote {path} in {time.perf_counter() - started:.0f} s", flush=True)


def train_main(doc: str, jobs: dict, names, argv=None, *, flag: str = "--kinds", default_steps=None,
               every: int = 250) -> int:
    """The command line of the glyph training scripts: train and save the chosen ``jobs``.

    ``jobs`` maps ``(name, k_shot)`` to ``(label, file name, make)``, where ``make(n_outer_steps)``
    returns the untrained estimator (``n_outer_steps=None``: its shipped length). ``flag`` selects
    names (default all of ``names``), ``--shots`` the K values, ``--steps`` overrides the length,
    ``--out-dir`` the folder (default: the package).
    """
    shots = sorted({k for _, k in jobs})
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if len(names) > 1:
        parser.add_argument(flag, dest="names", nargs="+", default=list(names), choices=list(names),
                            help="which models to train (default all)")
    parser.add_argument("--shots", type=int, nargs="+", default=shots, choices=shots, help="K values (default all)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"outer steps per model (default {default_steps})" if default_steps else "outer steps")
    parser.add_argument("--out-dir", default=None, help="where to write the .pt files (default: the package)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    pool = background_pool()
    chosen = getattr(args, "names", list(names))
    for k_shot in args.shots:
        for name in chosen:
            if (name, k_shot) in jobs:
                label, file_name, make = jobs[name, k_shot]
                _fit_and_save(make(args.steps), pool, label, out_dir / file_name, every=every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
