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

The rows are built by :mod:`mtlviz.pretrained.glyph_benchmark` (this script only scores and prints
them); lesson 05's rows ship as the figure ``metalstm_fewshot`` (``python -m mtlviz.pretrained.figures
metalstm_fewshot``), lesson 08's as ``metric_fewshot``, lesson 09's as ``feature_reuse``. Files that are
missing are reported and their rows skipped.

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
from mtlviz.data.glyphs import GlyphTasks  # noqa: E402
from mtlviz.evaluation import evaluate_episodes  # noqa: E402
from mtlviz.pretrained.glyph_benchmark import N_QUERY, TEST_SEED, benchmark_rows  # noqa: E402

PAPER = {1: "98.7%", 5: "99.9%"}  # MAML on real Omniglot, 5-way (Finn et al. 2017, Table 1)
PROTONET_PAPER = {1: "98.8%", 5: "99.7%"}  # ProtoNets on real Omniglot, 5-way (Snell et al. 2017, Table 1)


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
    tasks = GlyphTasks("evaluation", image_size=20)
    print(f"{tasks!r}; {args.episodes} episodes per setting, 5-way, {N_QUERY} queries per class, seed {args.seed}")
    rows = []
    for k_shot in args.shots:
        try:
            scorers, skipped = benchmark_rows(k_shot, untrained=args.untrained)
        except WeightsError as error:
            print(error, file=sys.stderr)
            return 1
        for message in skipped:
            print(f"  {message}")
        scorers = {row.label: row.scorer for row in scorers.values()}
        if args.rows:
            scorers = {name: s for name, s in scorers.items() if any(word in name for word in args.rows)}
        for name, scorer in scorers.items():
            started = time.perf_counter()
            score = evaluate_episodes(scorer, tasks, k_shot=k_shot, n_query=N_QUERY, n_episodes=args.episodes,
                                      random_state=args.seed)
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
