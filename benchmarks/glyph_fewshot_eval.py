"""5-way few-shot accuracy on the glyph evaluation scripts, next to MAML's Omniglot numbers.

Run from the repository root::

    python benchmarks/glyph_fewshot_eval.py --shots 1   # 600 episodes per row, about 15 minutes
    python benchmarks/glyph_fewshot_eval.py --shots 5   # the same for 5-shot (run side by side)
    python benchmarks/glyph_fewshot_eval.py --episodes 100

Loads the shipped models (``python -m mtlviz.pretrained.train_glyphs`` with no flag, with
``--meta-lstm`` and with ``--finetune``: all trained on the 912 characters of the six background
scripts only) and scores them on fresh 5-way episodes of the 300 characters of the six
evaluation scripts (Armenian, Georgian, Tifinagh, N'Ko, Lao, Ogham), rendered with a seed no
training run uses, 15 query images per class. Every row of a K sees the same episodes. Rows:

- MAML: the K-shot model adapted with 3 inner steps of α = 0.4 (its test-time recipe);
- Meta-LSTM: the K-shot model, 5 (1-shot) or 8 (5-shot) learned updates;
- SGD from Meta-LSTM's learned start c_0, same number of steps, fixed rate tuned on background
  episodes (what the learned update rule adds over its own start);
- fine-tuning: a conv net pretrained on all 912 background classes at once, new 5-way head,
  all layers trained 5 steps on the support set (rate tuned on background episodes);
- feature extraction: the same, only the new head trained;
- ANIL on MAML's θ (lesson 09, Raghu et al. 2020): the K-shot MAML model with only its head
  adapted, 3 steps of its α (no training); and head-only adaptation from the pretrained backbone
  with a new zero head and the same 3 steps of α = 0.4 (no tuning);
- ProtoNet (``python -m mtlviz.pretrained.train_protonet``): the K-shot Prototypical Network,
  and at 5-shot also the 1-shot one (is one model enough?); no training per episode;
- nearest centroid (Chen et al. 2019's baseline): the fine-tuning row's pretrained backbone,
  frozen, each class the mean of its support features, Euclidean and cosine;
- with ``--untrained``, MAML's network and adaptation from an untrained θ (what meta-learning
  adds);
- pixel nearest neighbour (no learning at all: how hard the episodes are).

Files that are missing are reported and their rows skipped.

Accuracy is the mean over episodes ± the 95% interval (t · std / √n, mtlviz.evaluation.mean_ci95).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz import WeightsError  # noqa: E402
from mtlviz.meta.anil import HeadAdapter  # noqa: E402
from mtlviz.meta.fewshot import MAMLClassifier, PixelNearestNeighbour
from mtlviz.evaluation import evaluate_episodes
from mtlviz.data.glyphs import GlyphTasks  # noqa: E402
from mtlviz.meta.metalstm import tune_sgd_lr  # noqa: E402
from mtlviz.pretrained import (load_glyph_finetune, load_glyph_maml, load_glyph_metalstm,  # noqa: E402
                               load_nearest_centroid, load_protonet)

PAPER = {1: "98.7%", 5: "99.9%"}  # MAML on real Omniglot, 5-way (Finn et al. 2017, Table 1)
PROTONET_PAPER = {1: "98.8%", 5: "99.7%"}  # ProtoNets on real Omniglot, 5-way (Snell et al. 2017, Table 1)
TEST_SEED = 2026  # training uses seed 0


def untrained_like(maml: MAMLClassifier) -> MAMLClassifier:
    """The same architecture and test-time adaptation, from a freshly initialised θ."""
    fresh = MAMLClassifier(**{**maml.get_params(), "n_outer_steps": 0, "random_state": 0})
    for _ in fresh.fit_iter(GlyphTasks("background", image_size=maml.image_size)):
        pass
    return fresh


class _SGDFromStart:
    """Plain SGD with a fixed rate from a Meta-LSTM's learned start, as many steps as it takes."""

    def __init__(self, meta_lstm, lr):
        self.meta_lstm, self.lr = meta_lstm, lr

    def episode_accuracy(self, batch):
        from mtlviz.evaluation import sgd_accuracy_curve

        m = self.meta_lstm
        return sgd_accuracy_curve(m.model_, m.initial_params_, batch, inner_lr=self.lr, n_steps=m.n_inner_steps)[:, -1]


def _meta_lstm_rows(k_shot, background):
    try:
        meta_lstm = load_glyph_metalstm(k_shot)
    except WeightsError as error:
        print(f"  skipped Meta-LSTM rows: {error}")
        return {}
    lr, _ = tune_sgd_lr(meta_lstm, background, n_episodes=20, random_state=0)
    return {f"Meta-LSTM ({meta_lstm.n_inner_steps} learned updates)": meta_lstm,
            f"SGD from Meta-LSTM's c_0 ({meta_lstm.n_inner_steps} steps, tuned α = {lr:g})": _SGDFromStart(meta_lstm, lr)}


def _finetune_rows(k_shot, background, grid=(0.01, 0.03, 0.1, 0.3, 1.0)):
    rows = {}
    for strategy, name in [("fine_tune", "fine-tuning, all layers"), ("feature_extraction", "feature extraction")]:
        try:
            candidates = {lr: load_glyph_finetune(strategy=strategy, k_shot=k_shot, inner_lr=lr, n_inner_steps=5) for lr in grid}
        except WeightsError as error:
            print(f"  skipped fine-tuning rows: {error}")
            return {}
        tuning = background.sample_episodes(20, 5, k_shot, 5, random_state=0)
        best = max(grid, key=lambda lr: candidates[lr].score(tuning))
        rows[f"{name} (pretrained on 912 classes, 5 steps, tuned lr = {best:g})"] = candidates[best]
    return rows


def _metric_rows(k_shot):
    rows = {}
    try:
        rows[f"ProtoNet ({k_shot}-shot model, 20-way training)"] = load_protonet(k_shot)
        if k_shot != 1:
            rows["ProtoNet (1-shot model, 20-way training)"] = load_protonet(1)
    except WeightsError as error:
        print(f"  skipped ProtoNet rows: {error}")
    try:
        for distance in ("euclidean", "cosine"):
            rows[f"nearest centroid, {distance} (fine-tuning row's backbone, frozen)"] = load_nearest_centroid(distance)
    except WeightsError as error:
        print(f"  skipped nearest-centroid rows: {error}")
    return rows


def _anil_rows(maml):
    """Lesson 09: only the head adapts (ANIL at test time), from MAML's θ and from the pretrained backbone."""
    rows = {f"ANIL on MAML's θ (head only, 3 steps, α = {maml.inner_lr:g})": HeadAdapter.from_maml(maml, n_inner_steps=3)}
    try:
        backbone = load_glyph_finetune().backbone_
    except WeightsError as error:
        print(f"  skipped the pretrained-head row: {error}")
        return rows
    rows[f"pretrained backbone, new head only (3 steps, α = {maml.inner_lr:g})"] = HeadAdapter.from_backbone(
        maml.model_, backbone, inner_lr=maml.inner_lr, n_inner_steps=3)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=600, help="test episodes per setting (default 600)")
    parser.add_argument("--seed", type=int, default=TEST_SEED, help="seed of the test episodes")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5], choices=[1, 5], help="K values (default 1 5)")
    parser.add_argument("--untrained", action="store_true", help="add the untrained-θ row")
    parser.add_argument("--rows", nargs="+", default=None, metavar="WORD",
                        help="score only rows whose name contains one of these words, e.g. MAML fine-tuning "
                             "(to split a run over processes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread: two processes (--shots 1, --shots 5) use both cores
    try:
        models = {k: load_glyph_maml(k) for k in args.shots}
    except WeightsError as error:
        print(error, file=sys.stderr)
        return 1
    image_size = next(iter(models.values())).image_size
    tasks = GlyphTasks("evaluation", image_size=image_size)
    print(f"{tasks!r}; {args.episodes} episodes per setting, 5-way, 15 queries per class, seed {args.seed}")
    background = GlyphTasks("background", image_size=image_size)
    rows = []
    for k_shot, maml in models.items():
        scorers = {f"MAML ({maml.n_test_inner_steps} steps, α = {maml.inner_lr:g})": maml}
        scorers.update(_meta_lstm_rows(k_shot, background))
        scorers.update(_finetune_rows(k_shot, background))
        scorers.update(_anil_rows(maml))
        scorers.update(_metric_rows(k_shot))
        if args.untrained:
            scorers["MAML's net, untrained θ, same steps"] = untrained_like(maml)
        scorers["pixel nearest neighbour"] = PixelNearestNeighbour()
        if args.rows:
            scorers = {name: s for name, s in scorers.items() if any(word in name for word in args.rows)}
        for name, scorer in scorers.items():
            started = time.perf_counter()
            score = evaluate_episodes(scorer, tasks, k_shot=k_shot, n_episodes=args.episodes, random_state=args.seed)
            rows.append((k_shot, name, score))
            print(f"  {k_shot}-shot {name}: {score} ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print("| 5-way | method | accuracy (mean ± 95%) | the method on Omniglot (paper) |")
    print("|---|---|---|---|")
    for k_shot, name, score in rows:
        paper = PAPER[k_shot] if name.startswith("MAML") else PROTONET_PAPER[k_shot] if name.startswith("ProtoNet") else ""
        print(f"| {k_shot}-shot | {name} | {score} | {paper} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
