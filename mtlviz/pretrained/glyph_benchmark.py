"""The rows of ``benchmarks/glyph_fewshot_eval.py``: every few-shot method of lessons 05, 08 and 09
as a scorer of 5-way glyph episodes, built from the shipped weights.

Each builder returns ``{key: BenchmarkRow}``; a row's ``scorer`` has ``episode_accuracy(batch)``,
so :func:`mtlviz.evaluation.evaluate_episodes` scores every row on the same episodes. Rates that
the methods need are tuned on episodes of the *background* (training) scripts, never the test
ones. The benchmark script prints the rows; :func:`mtlviz.pretrained.figures.metalstm_fewshot`
ships lesson 05's (``python -m mtlviz.pretrained.figures metalstm_fewshot``).
"""
from __future__ import annotations

from typing import Dict, NamedTuple

import torch

from .._base import DivergenceError, WeightsError
from . import load_glyph_finetune, load_glyph_maml, load_glyph_metalstm, load_nearest_centroid, load_protonet

__all__ = ["BenchmarkRow", "SGDFromStart", "meta_lstm_rows", "finetune_rows", "anil_rows", "metric_rows",
           "untrained_like", "benchmark_rows", "TEST_SEED", "N_QUERY", "FINETUNE_GRID", "FINETUNE_STEPS"]

#: Seed of the test episodes (training runs use seed 0), and query images per class.
TEST_SEED = 2026
N_QUERY = 15
#: The fine-tuning rows' rate grid (tuned on 20 background episodes) and steps per episode.
FINETUNE_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
FINETUNE_STEPS = 5


class BenchmarkRow(NamedTuple):
    label: str       # as the benchmark prints it
    scorer: object   # anything with episode_accuracy(batch) -> (T,) accuracies
    settings: dict   # what the label states: steps, the tuned rate and the tuning table


class SGDFromStart:
    """Plain SGD with a fixed rate ``lr`` from a Meta-LSTM's learned start c_0, as many steps as the
    Meta-LSTM takes (lesson 05: what its learned update rule adds over its own start)."""

    def __init__(self, meta_lstm, lr: float):
        self.meta_lstm, self.lr = meta_lstm, lr

    def episode_accuracy(self, batch) -> torch.Tensor:
        """Query accuracy of each episode after the steps, ``(T,)`` (the last column of
        :func:`mtlviz.evaluation.sgd_accuracy_curve`, without scoring the steps before it); an
        adaptation that diverged raises :class:`~mtlviz.DivergenceError`."""
        from torch.func import vmap

        from .. import functional as Fn
        from ..nets import accuracy, cross_entropy

        m = self.meta_lstm
        start = {name: p.detach() for name, p in m.initial_params_.items()}

        def one_episode(xs, ys, xq, yq):
            *_, adapted = Fn.adapt_steps(m.model_, start, xs, ys, self.lr, m.n_inner_steps, True, cross_entropy)
            logits = Fn.forward(m.model_, adapted, xq)
            return accuracy(logits, yq), torch.isfinite(logits).all()

        with torch.enable_grad():
            scores, finite = vmap(one_episode)(*batch.data)
        if not bool(finite.all()):
            raise DivergenceError(f"SGD from c_0 with lr = {self.lr:g} diverged in {int((~finite).sum())} of "
                                  f"{len(finite)} episodes (NaN or infinite logits); use a smaller lr")
        return scores.detach()


class _AfterLastStep:
    """A fine-tuning estimator's ``episode_accuracy`` that scores the query set only before and after
    the last step (``accuracy_curve(every=n)``): the same numbers, fewer forward passes."""

    def __init__(self, estimator):
        self.estimator = estimator

    def episode_accuracy(self, batch) -> torch.Tensor:
        return self.estimator.accuracy_curve(batch, every=self.estimator.n_inner_steps)[:, -1]


def _background(image_size: int = 20):
    from ..data.glyphs import GlyphTasks

    return GlyphTasks("background", image_size=image_size)


def meta_lstm_rows(k_shot: int, background=None) -> Dict[str, BenchmarkRow]:
    """The shipped K-shot Meta-LSTM (5 or 8 learned updates), and plain SGD from its start c_0 with
    the same number of steps and the rate :func:`mtlviz.meta.metalstm.tune_sgd_lr` picks on 20
    background episodes (seed 0; lesson 05's ``sgd_tuning`` figure runs the same search)."""
    from ..meta.metalstm import tune_sgd_lr

    meta_lstm = load_glyph_metalstm(k_shot)
    background = _background(meta_lstm.image_size) if background is None else background
    lr, tuning = tune_sgd_lr(meta_lstm, background, n_episodes=20, random_state=0)
    steps = meta_lstm.n_inner_steps
    return {"meta_lstm": BenchmarkRow(f"Meta-LSTM ({steps} learned updates)", meta_lstm, {"n_steps": steps}),
            "sgd_from_start": BenchmarkRow(f"SGD from Meta-LSTM's c_0 ({steps} steps, tuned α = {lr:g})",
                                           SGDFromStart(meta_lstm, lr),
                                           {"n_steps": steps, "lr": lr, "tuning": [[a, acc] for a, acc in tuning.items()]})}


def finetune_rows(k_shot: int, background=None, grid=FINETUNE_GRID) -> Dict[str, BenchmarkRow]:
    """Lesson 06's backbone, pretrained on all 912 background classes, with a new zero 5-way head
    trained :data:`FINETUNE_STEPS` SGD steps per episode: all layers ("fine_tune") or the head only
    ("feature_extraction"), each at the rate of ``grid`` that scores best on 20 background
    episodes (seed 0)."""
    background = _background() if background is None else background
    tuning_episodes = background.sample_episodes(20, 5, k_shot, 5, random_state=0)
    rows = {}
    for strategy, name in (("fine_tune", "fine-tuning, all layers"), ("feature_extraction", "feature extraction")):
        candidates = {lr: load_glyph_finetune(strategy=strategy, k_shot=k_shot, inner_lr=lr, n_inner_steps=FINETUNE_STEPS)
                      for lr in grid}
        tuning = {lr: float(candidates[lr].score(tuning_episodes)) for lr in grid}
        best = max(grid, key=lambda lr: tuning[lr])
        rows[strategy] = BenchmarkRow(
            f"{name} (pretrained on 912 classes, {FINETUNE_STEPS} steps, tuned lr = {best:g})",
            _AfterLastStep(candidates[best]),
            {"n_steps": FINETUNE_STEPS, "lr": best, "tuning": [[lr, acc] for lr, acc in tuning.items()]})
    return rows


def anil_rows(maml) -> Dict[str, BenchmarkRow]:
    """Lesson 09: only the head adapts (ANIL at test time, Raghu et al. 2020), 3 steps of MAML's α,
    from MAML's θ and from lesson 06's pretrained backbone with a new zero head (no tuning)."""
    from ..meta.anil import HeadAdapter

    rows = {"anil_3": BenchmarkRow(f"ANIL on MAML's θ (head only, 3 steps, α = {maml.inner_lr:g})",
                                   HeadAdapter.from_maml(maml, n_inner_steps=3), {"n_steps": 3, "lr": maml.inner_lr})}
    backbone = load_glyph_finetune().backbone_
    rows["pretrained_head_3"] = BenchmarkRow(
        f"pretrained backbone, new head only (3 steps, α = {maml.inner_lr:g})",
        HeadAdapter.from_backbone(maml.model_, backbone, inner_lr=maml.inner_lr, n_inner_steps=3),
        {"n_steps": 3, "lr": maml.inner_lr})
    return rows


def metric_rows(k_shot: int) -> Dict[str, BenchmarkRow]:
    """Lesson 08: the K-shot ProtoNet (and at 5-shot the 1-shot one), and nearest centroid on lesson
    06's frozen pretrained backbone, Euclidean and cosine; no training per episode."""
    rows = {"protonet": BenchmarkRow(f"ProtoNet ({k_shot}-shot model, 20-way training)", load_protonet(k_shot), {})}
    if k_shot != 1:
        rows["protonet_1shot_model"] = BenchmarkRow("ProtoNet (1-shot model, 20-way training)", load_protonet(1), {})
    for distance in ("euclidean", "cosine"):
        rows[f"nearest_centroid_{distance}"] = BenchmarkRow(
            f"nearest centroid, {distance} (fine-tuning row's backbone, frozen)", load_nearest_centroid(distance), {})
    return rows


def untrained_like(maml):
    """MAML's architecture and test-time adaptation from a freshly initialised θ (what meta-learning adds)."""
    from ..meta.fewshot import MAMLClassifier

    fresh = MAMLClassifier(**{**maml.get_params(), "n_outer_steps": 0, "random_state": 0})
    for _ in fresh.fit_iter(_background(maml.image_size)):
        pass
    return fresh


def benchmark_rows(k_shot: int, untrained: bool = False):
    """Every row of the benchmark for ``k_shot``, in its order: ``({key: BenchmarkRow}, skipped)``,
    where ``skipped`` lists one message per group of rows whose weights file is missing or bad
    (the rows are left out, the others still scored). The MAML file is required."""
    from ..meta.fewshot import PixelNearestNeighbour

    maml = load_glyph_maml(k_shot)
    background = _background(maml.image_size)
    rows = {"maml": BenchmarkRow(f"MAML ({maml.n_test_inner_steps} steps, α = {maml.inner_lr:g})", maml,
                                 {"n_steps": maml.n_test_inner_steps, "lr": maml.inner_lr})}
    skipped = []
    for what, build in (("Meta-LSTM", lambda: meta_lstm_rows(k_shot, background)),
                        ("fine-tuning", lambda: finetune_rows(k_shot, background)),
                        ("ANIL and pretrained-head", lambda: anil_rows(maml)),
                        ("ProtoNet and nearest-centroid", lambda: metric_rows(k_shot))):
        try:
            rows.update(build())
        except WeightsError as error:
            skipped.append(f"skipped the {what} rows: {error}")
    if untrained:
        rows["untrained"] = BenchmarkRow("MAML's net, untrained θ, same steps", untrained_like(maml), {})
    rows["pixel_nn"] = BenchmarkRow("pixel nearest neighbour", PixelNearestNeighbour(), {})
    return rows, skipped
