"""Lesson figures that cost more than a few hundred milliseconds, computed once and shipped.

A lesson's opening cells run in every student's kernel when the page opens; a multi-episode
comparison or a learning-rate search there makes a class of 30 wait minutes. So the lessons read
these numbers from ``lesson_figures.json`` (plain JSON beside this file: safe to read, easy to
diff), regenerated, deterministically, by::

    python -m mtlviz.pretrained.figures              # every figure (over an hour on one thread: the
                                                     # 600-episode tables take 7-50 minutes each)
    python -m mtlviz.pretrained.figures sgd_tuning   # one of them

The tests recompute every figure, in full where that is cheap and otherwise on a reduced
configuration (the first 50 of 600 episodes, part of a search), and compare it with the file, so a
code change cannot leave a stale number in a lesson. One exception to "deterministically":
``meta_cost``'s times and memory peaks are measurements of the machine that ran it (its graph bytes
are exact and are recomputed).
Each function below is the computation a lesson used to run at start-up, with the same settings.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional

from .._base import WeightsError
from . import WEIGHTS_DIR, load_glyph_finetune, load_glyph_maml, load_glyph_metalstm

__all__ = ["FIGURES", "FIGURES_COMMAND", "figures_path", "load_figure", "sgd_tuning", "fewshot_first_look",
           "metalstm_fewshot", "metalstm_table",
           "seed_corrected_training", "block_changes", "digits_shift", "navigation_adaptation",
           "batch_norm_transduction",
           "batch_norm_means", "batch_norm_table", "metric_fewshot", "cross_domain_fewshot", "cross_domain_table",
           "in_domain_score",
           "first_order_sinusoid", "feature_reuse", "meta_trained_anil",
           "first_order_glyphs"]

FIGURES_COMMAND = "python -m mtlviz.pretrained.figures"
#: The default SGD grid of lesson 05 (:func:`mtlviz.meta.metalstm.tune_sgd_lr`).
SGD_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def figures_path() -> Path:
    return WEIGHTS_DIR / "lesson_figures.json"


def _scored_row(scorer, tasks, k_shot: int, n_episodes: int, n_check: int, *, n_query: int = 15,
                random_state: int = 2026, **extra) -> Dict[str, object]:
    """One row of a shipped N-way table: ``scorer`` on ``n_episodes`` episodes of ``tasks`` (``n_query``
    queries per class, seed ``random_state``), evaluated in chunks of ``n_check`` so that the first
    chunk is what the tests recompute: ``{**extra, "mean", "ci95", "n_episodes", "first_50"}``."""
    from ..evaluation import evaluate_episodes

    score = evaluate_episodes(scorer, tasks, k_shot=k_shot, n_query=n_query, n_episodes=n_episodes,
                              random_state=random_state, chunk=n_check)
    return {**extra, "mean": score.mean, "ci95": score.ci95, "n_episodes": n_episodes,
            "first_50": float(score.accuracies[:n_check].mean())}


# -- lesson 01 -----------------------------------------------------------------------------------

def fewshot_first_look(n_episodes: int = 40) -> Dict[str, object]:
    """Lesson 01: the shipped 1-shot glyph MAML's query accuracy after 0…3 steps, and pixel
    nearest neighbour's, on ``n_episodes`` 5-way 1-shot episodes of new characters (seed 1)."""
    from ..data.glyphs import GlyphTasks
    from ..meta.fewshot import PixelNearestNeighbour

    maml = load_glyph_maml(k_shot=1)
    episodes = GlyphTasks("evaluation", image_size=maml.image_size).sample_episodes(
        n_tasks=n_episodes, n_way=5, k_shot=1, n_query=5, random_state=1)
    return {"n_episodes": n_episodes,
            "maml_accuracy_by_step": [float(a) for a in maml.accuracy_curve(episodes).mean(0)],
            "pixel_nn_accuracy": float(PixelNearestNeighbour().episode_accuracy(episodes).mean())}


def batch_norm_transduction(n_episodes: int = 100, n_transfer_episodes: int = 10,
                            n_checked=None) -> Dict[str, object]:
    """Lessons 01, 05, 06: query accuracy per episode under each batch-norm choice of
    :data:`mtlviz.nets.NORMALISATIONS` (:func:`mtlviz.evaluation.normalisation_accuracy`) for the
    shipped 1- and 5-shot glyph MAML and Meta-LSTM (``n_episodes`` 5-way episodes of new
    characters, 5 query images per class, seed 1) and lesson 06's feature extraction (the frozen
    pretrained backbone, ``n_transfer_episodes`` 10-way 5-shot digits episodes, 30 test images per
    class, seed 0): ``{row: {"n_way", "k_shot", normalisation: [accuracy per episode]}}``.
    ``n_checked`` evaluates only the first episodes of each row (what the test recomputes)."""
    from ..data.glyphs import GlyphTasks
    from ..evaluation import normalisation_accuracy
    from ..transfer.curves import N_WAY, target_tasks, transfer_learner

    def row(estimator, episodes, n_way, k_shot):
        if n_checked is not None:
            episodes = type(episodes)(*(t[:n_checked] for t in episodes))
        scores = normalisation_accuracy(estimator, episodes)
        return {"n_way": n_way, "k_shot": k_shot, **{name: [float(a) for a in v] for name, v in scores.items()}}

    result = {}
    for k_shot in (1, 5):
        for name, estimator in (("MAML", load_glyph_maml(k_shot=k_shot)), ("Meta-LSTM", load_glyph_metalstm(k_shot))):
            episodes = GlyphTasks("evaluation", image_size=estimator.image_size).sample_episodes(
                n_tasks=n_episodes, n_way=5, k_shot=k_shot, n_query=5, random_state=1)
            result[f"{name} {k_shot}-shot"] = row(estimator, episodes, 5, k_shot)
    digits = target_tasks("digits").sample_episodes(n_transfer_episodes, N_WAY, 5, 30, random_state=0)
    result["feature extraction 5-shot digits"] = row(transfer_learner(4, load_glyph_finetune()), digits, N_WAY, 5)
    return result


def batch_norm_means(row: str, figure=None) -> Dict[str, float]:
    """``{normalisation: mean accuracy}`` of one row of :func:`batch_norm_transduction`'s shipped
    figure (what lesson 01's dashboard draws for comparison)."""
    from ..evaluation import mean_ci95
    from ..nets import NORMALISATIONS

    figure = load_figure("batch_norm_transduction") if figure is None else figure
    if row not in figure:
        raise ValueError(f"row must be one of {sorted(figure)}; got {row!r}")
    return {name: mean_ci95(figure[row][name])[0] for name in NORMALISATIONS}


def _points(gaps, digits: int) -> str:
    """'0.5 to 2.0 points below' / '0.2 points below' / '1.0 points above' for differences in points."""
    low, high = min(gaps), max(gaps)
    if f"{max(abs(low), abs(high)):.{digits}f}" == f"{0:.{digits}f}":
        return "the same as"
    if low < 0 < high:
        return f"between {abs(low):.{digits}f} points above and {high:.{digits}f} points below"
    word = "below" if high > 0 else "above"
    low, high = sorted((abs(low), abs(high)))
    span = f"{low:.{digits}f}" if f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{low:.{digits}f} to {high:.{digits}f}"
    return f"{span} points {word}"


def batch_norm_table(rows, figure=None) -> str:
    """Markdown: the shipped :func:`batch_norm_transduction` ``rows`` as mean ± 95% interval per
    normalisation, then one sentence measuring what the transductive setting adds (the largest
    gap to the support-set statistics) and what predicting each image alone costs."""
    from ..evaluation import mean_ci95
    from ..nets import NORMALISATIONS

    figure = load_figure("batch_norm_transduction") if figure is None else figure
    headers = {"query set": "query set together (transductive)", "support set": "support-set statistics",
               "one image": "each image alone"}
    lines = ["| model, episodes | " + " | ".join(headers[name] for name in NORMALISATIONS) + " |",
             "|---|" + "---|" * len(NORMALISATIONS)]
    gaps, drops = [], []
    for row in rows:
        if row not in figure:
            raise ValueError(f"rows must be among {sorted(figure)}; got {row!r}")
        values = figure[row]
        stats = {name: mean_ci95(values[name]) for name in NORMALISATIONS}
        cells = [f"{100 * m:.1f}% ± {100 * h:.1f}" for m, h in stats.values()]
        lines.append(f"| {row} ({values['n_way']}-way, {len(values['query set'])} episodes) | " + " | ".join(cells) + " |")
        gaps.append(100 * (stats["query set"][0] - stats["support set"][0]))
        drops.append(100 * (stats["query set"][0] - stats["one image"][0]))
    summary = (f"Normalising each query image with the support set's statistics (not transductive) scores "
               f"{_points(gaps, 1)} the transductive setting; predicting each image alone scores "
               f"{_points(drops, 0)} it.")
    return "\n".join(lines) + "\n\n" + summary


# -- lesson 04 -----------------------------------------------------------------------------------

def seed_corrected_training() -> Dict[str, float]:
    """Lesson 04: :func:`mtlviz.meta.seed.corrected_training`, 300 outer steps: ``{"step": loss}``."""
    from ..meta.seed import corrected_training

    return {str(step): loss for step, loss in corrected_training().items()}


# -- lesson 05 -----------------------------------------------------------------------------------

def sgd_tuning(shots=(1, 5), grid=SGD_GRID, n_episodes: int = 20) -> Dict[str, object]:
    """Lesson 05: the SGD baseline's learning rate, tuned per K on ``n_episodes`` episodes of the
    *training* characters (:func:`mtlviz.meta.metalstm.tune_sgd_lr`, seed 0), from the shipped
    Meta-LSTM's start c_0 with its number of steps: ``{"K": {"grid", "accuracy", "best"}}``."""
    from ..data.glyphs import GlyphTasks
    from ..meta.metalstm import tune_sgd_lr

    result = {}
    for k_shot in shots:
        model = load_glyph_metalstm(k_shot)
        best, table = tune_sgd_lr(model, GlyphTasks("background", image_size=model.image_size), grid=grid,
                                  n_episodes=n_episodes, random_state=0)
        result[str(k_shot)] = {"grid": list(table), "accuracy": list(table.values()), "best": best,
                               "n_episodes": n_episodes, "n_steps": model.n_inner_steps}
    return result

#: Lesson 05's 600-episode table: the rows no other figure holds (its MAML and pixel nearest-neighbour
#: rows are :func:`metric_fewshot`'s, on the same episodes), and the episodes of its checked first chunk.
METALSTM_ROWS = ("meta_lstm", "sgd_from_start", "fine_tune", "feature_extraction")
METALSTM_CHECK_EPISODES = 50


def metalstm_fewshot(n_episodes: int = 600, shots=(1, 5), rows=None) -> Dict[str, object]:
    """Lesson 05: 5-way accuracy (mean, 95% half-width, mean of the first 50 episodes) on the
    ``n_episodes`` test episodes of ``benchmarks/glyph_fewshot_eval.py`` (the evaluation glyphs, 15
    queries per class, seed 2026) of the shipped K-shot Meta-LSTM, plain SGD from its start c_0
    (rate tuned on background episodes), and fine-tuning / feature extraction of lesson 06's
    pretrained backbone (5 steps, rate tuned on background episodes), built by
    :mod:`mtlviz.pretrained.glyph_benchmark`: ``{"K": {row: {"mean", "ci95", "first_50",
    "n_episodes", "n_steps", ["lr", "tuning"]}}}``. ``rows`` limits the rows scored (of
    :data:`METALSTM_ROWS`; the rates are tuned regardless)."""
    from ..data.glyphs import GlyphTasks
    from .glyph_benchmark import N_QUERY, TEST_SEED, finetune_rows, meta_lstm_rows

    result = {}
    for k_shot in shots:
        background = GlyphTasks("background", image_size=20)
        candidates = {**meta_lstm_rows(k_shot, background), **finetune_rows(k_shot, background)}
        table = {}
        for name in METALSTM_ROWS:
            if rows is not None and name not in rows:
                continue
            table[name] = _scored_row(candidates[name].scorer, GlyphTasks("evaluation", image_size=20), k_shot,
                                      n_episodes, METALSTM_CHECK_EPISODES, n_query=N_QUERY, random_state=TEST_SEED,
                                      **candidates[name].settings)
        result[str(k_shot)] = table
    return result


def metalstm_table(figure=None, metric=None) -> str:
    """Lesson 05's Markdown table (and RESULTS.md's rows of it): per K, MAML and pixel nearest
    neighbour from :func:`metric_fewshot`'s figure and the rows of :func:`metalstm_fewshot`'s, as
    mean ± 95% half-width on the same 600 episodes."""
    figure = load_figure("metalstm_fewshot") if figure is None else figure
    metric = load_figure("metric_fewshot") if metric is None else metric
    lines = ["| 5-way | method | accuracy (mean ± 95%) |", "|---|---|---|"]
    for k_shot in ("1", "5"):
        maml, rows = load_glyph_maml(int(k_shot)), figure[k_shot]
        lstm, sgd, tune, extract = (rows[name] for name in METALSTM_ROWS)
        labels = [(f"MAML ({maml.n_test_inner_steps} steps, α = {maml.inner_lr:g})", metric[k_shot]["maml"]),
                  (f"Meta-LSTM ({lstm['n_steps']} learned updates)", lstm),
                  (f"SGD from Meta-LSTM's $c_0$ ({sgd['n_steps']} steps, tuned α = {sgd['lr']:g})", sgd),
                  (f"fine-tuning, all layers (pretrained on the 912 background classes, {tune['n_steps']} steps, "
                   f"tuned lr = {tune['lr']:g})", tune),
                  (f"feature extraction (same backbone frozen, new head, {extract['n_steps']} steps, "
                   f"tuned lr = {extract['lr']:g})", extract),
                  ("pixel nearest neighbour (no learning)", metric[k_shot]["pixel_nn"])]
        lines += [f"| {k_shot}-shot | {label} | {100 * row['mean']:.1f}% ± {100 * row['ci95']:.1f}% |"
                  for label, row in labels]
    return "\n".join(lines)


def metalstm_episode(k_shot: int = 1, random_state: int = 0, n_query: int = 5) -> Dict[str, object]:
    """Lesson 05: the episode its dashboard opens on, already compared
    (:func:`mtlviz.meta.metalstm.compare_on_episode` of the shipped K-shot Meta-LSTM and MAML and
    SGD at the shipped :func:`sgd_tuning` rate, on episode ``random_state`` of the evaluation
    glyphs with ``n_query`` queries per class): ``{"k_shot", "random_state", "n_query",
    "comparison": comparison_to_dict(...)}``. Adapting the three learners costs about 0.4 CPU-s,
    which every kernel opening the lesson paid before this was shipped (issue 19)."""
    from ..data.glyphs import GlyphTasks
    from ..meta.metalstm import compare_on_episode, comparison_to_dict

    meta_lstm, maml = load_glyph_metalstm(k_shot), load_glyph_maml(k_shot)
    episode = GlyphTasks("evaluation", image_size=meta_lstm.image_size).sample_episodes(
        1, meta_lstm.n_way, k_shot, n_query, random_state=random_state)
    sgd_lr = load_figure("sgd_tuning")[str(k_shot)]["best"]
    comparison = compare_on_episode(meta_lstm, maml, sgd_lr, *(t[0] for t in episode.data))
    return {"k_shot": k_shot, "random_state": random_state, "n_query": n_query,
            "comparison": comparison_to_dict(comparison)}


# -- lesson 06 -----------------------------------------------------------------------------------

def block_changes(settings=(4, 2, 0)) -> Dict[str, list]:
    """Lesson 06: after training on one 10-way 5-shot digits episode (seed 0), the largest change
    of any weight in each conv block, per setting (frozen blocks): ``{"setting": [per block]}``."""
    from ..transfer.curves import N_BLOCKS, N_WAY, target_tasks, transfer_learner

    episode = target_tasks("digits").sample_episodes(1, N_WAY, 5, 5, random_state=0)
    backbone = load_glyph_finetune()
    result = {}
    for setting in settings:
        learner = transfer_learner(setting, backbone)
        adapted = learner.adapt(episode.x_support[0], episode.y_support[0])
        result[str(setting)] = [max(float((adapted[name] - learner.backbone_[name]).abs().max())
                                    for name in learner.backbone_ if name.split(".")[1] == str(block))
                                for block in range(N_BLOCKS)]
    return result


# -- lesson 07 -----------------------------------------------------------------------------------

def digits_shift(random_state: int = 0) -> Dict[str, list]:
    """Lesson 07: source only, Deep CORAL and DANN (64 hidden units, 16 features, 300 steps) on
    the blurred noisy digits of :func:`mtlviz.data.shifts.shifted_digits`, one seed:
    ``{method: [accuracy on the clean source digits, on the shifted target test digits]}``."""
    from ..data.shifts import shifted_digits
    from ..transfer.domain import METHODS, DomainAdaptationClassifier

    digits = shifted_digits(random_state=random_state)
    result = {}
    for method in METHODS:
        model = DomainAdaptationClassifier(method, hidden=64, n_features=16, n_steps=300, random_state=random_state)
        model.fit(digits.x_source, digits.y_source, digits.x_target)
        result[method] = [model.score(digits.x_source, digits.y_source), model.score(digits.x_test, digits.y_test)]
    return result


#: Lesson 07's tables over seeds (benchmarks/two_moons_da.py and digits_da.py at their defaults).
DOMAIN_SEEDS = tuple(range(10))
MOONS_ANGLES = (0, 30, 50, 70)
#: (label, method, trade-off) rows of the digits table; None takes the estimator's default.
DIGITS_SETTINGS = (("source only", "source_only", None), ("Deep CORAL (w = 300)", "coral", None),
                   ("DANN (λ_max = 1)", "dann", None), ("DANN (λ_max = 0.3)", "dann", 0.3))
_MOONS_NAMES = {"source_only": "source only", "coral": "Deep CORAL", "dann": "DANN"}


def domain_seeds(seeds=DOMAIN_SEEDS, angles=MOONS_ANGLES) -> Dict[str, dict]:
    """Lesson 07: target test accuracy of each seed (its own data and initial weights), for the rotated
    two moons ``{"moons": {method: {angle: [per seed]}}}`` and the blurred noisy digits
    ``{"digits": {label: [per seed]}}`` (the computations of benchmarks/two_moons_da.py and digits_da.py)."""
    from ..data.moons import rotated_moons
    from ..data.shifts import shifted_digits
    from ..transfer.domain import METHODS, DomainAdaptationClassifier

    moons = {method: {str(angle): [] for angle in angles} for method in METHODS}
    digits = {label: [] for label, _, _ in DIGITS_SETTINGS}
    for seed in seeds:
        for angle in angles:
            problem = rotated_moons(angle, random_state=seed)
            for method in METHODS:
                model = DomainAdaptationClassifier(method, random_state=seed)
                model.fit(problem.x_source, problem.y_source, problem.x_target)
                moons[method][str(angle)].append(model.score(problem.x_test, problem.y_test))
        problem = shifted_digits(random_state=seed)
        for label, method, trade_off in DIGITS_SETTINGS:
            model = DomainAdaptationClassifier(method, trade_off=trade_off, random_state=seed,
                                               hidden=64, n_features=16, n_steps=300)
            model.fit(problem.x_source, problem.y_source, problem.x_target)
            digits[label].append(model.score(problem.x_test, problem.y_test))
    return {"moons": moons, "digits": digits}


def _mean_std(values) -> str:
    import numpy as np

    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def moons_seed_table(figure=None) -> str:
    """Lesson 07's two-moons table over seeds, in Markdown (mean ± std with n − 1, per angle)."""
    moons = (figure or load_figure("domain_seeds"))["moons"]
    angles = sorted(next(iter(moons.values())), key=float)
    n_seeds = len(next(iter(next(iter(moons.values())).values())))
    lines = [f"| method ({n_seeds} seeds, mean ± std) | " + " | ".join(f"{a}°" for a in angles) + " |",
             "|---|" + "---|" * len(angles)]
    for method in sorted(moons, key=lambda m: list(_MOONS_NAMES).index(m) if m in _MOONS_NAMES else len(_MOONS_NAMES)):
        per_angle = moons[method]
        lines.append(f"| {_MOONS_NAMES.get(method, method)} | " + " | ".join(_mean_std(per_angle[a]) for a in angles) + " |")
    return "\n".join(lines)


def digits_seed_table(figure=None) -> str:
    """Lesson 07's digits table over seeds, in Markdown, with each method's gain over source only on the
    same seed (mean, smallest, largest), and the gains in points below it."""
    import numpy as np

    digits = (figure or load_figure("domain_seeds"))["digits"]
    baseline = np.asarray(digits["source only"], dtype=float)
    lines = [f"| method | target accuracy (mean ± std, {len(baseline)} seeds) | gain over source only, same seed: "
             "mean (min … max) |", "|---|---|---|"]
    points = []
    order = [label for label, _, _ in DIGITS_SETTINGS]
    for label in sorted(digits, key=lambda x: order.index(x) if x in order else len(order)):
        values = digits[label]
        gains = np.asarray(values, dtype=float) - baseline
        if label == "source only":
            lines.append(f"| {label} | {_mean_std(values)} | — |")
            continue
        lines.append(f"| {label} | {_mean_std(values)} | {gains.mean():+.3f} ({gains.min():+.3f} … {gains.max():+.3f}) |")
        points.append(f"{label}: {100 * gains.mean():+.1f} ({100 * gains.min():+.1f} … {100 * gains.max():+.1f}), "
                      f"better than source only on {int((gains > 0).sum())} of {len(gains)} seeds")
    return "\n".join(lines) + "\n\nGain in points: " + "; ".join(points) + "."


# -- lesson 10 -----------------------------------------------------------------------------------

def navigation_adaptation(n_goals: int = 100, n_steps: int = 3, random_state: int = 2017) -> Dict[str, object]:
    """Lesson 10 (after Finn et al. 2017, figure 4, top): the average return on ``n_goals`` fresh goals
    (seed ``random_state``, not among the training draws) before and after 1…``n_steps``
    policy-gradient steps of 20 rollouts each, for the shipped MAML and pretrained policies and a
    random initialisation (seed 0); per stage the mean over goals and its 95% half-width:
    ``{"maml": {"mean": [...], "ci95": [...]}, "pretrained": ..., "random": ..., "n_goals", ...}``."""
    from ..data.navigation import sample_goals
    from ..evaluation import mean_ci95
    from ..meta.rl import random_policy
    from . import load_navigation

    maml = load_navigation("maml")
    policies = {"maml": maml, "pretrained": load_navigation("pretrained"),
                "random": random_policy(0, hidden=maml.hidden, init_std=maml.init_std, inner_lr=maml.inner_lr)}
    goals = sample_goals(n_goals, random_state=random_state)
    result: Dict[str, object] = {"n_goals": n_goals, "n_steps": n_steps, "seed": random_state,
                                 "inner_lr": maml.inner_lr, "n_rollouts": maml.n_rollouts}
    for name, policy in policies.items():
        returns = policy.adapt(goals, n_steps=n_steps, random_state=random_state).returns  # (stages, goals)
        stats = [mean_ci95(stage) for stage in returns]
        result[name] = {"mean": [m for m, _ in stats], "ci95": [h for _, h in stats]}
    return result


# -- lesson 08 -----------------------------------------------------------------------------------

#: Episodes per chunk of :func:`mtlviz.evaluation.evaluate_episodes`: the first chunk of a 600-episode
#: evaluation is the same 50 episodes as a 50-episode one (what the test recomputes).
METRIC_CHECK_EPISODES = 50


def metric_fewshot(n_episodes: int = 600, shots=(1, 5), rows=None) -> Dict[str, object]:
    """Lesson 08: 5-way accuracy (mean, 95% half-width, and the mean over the first 50 episodes)
    on ``n_episodes`` test episodes of the evaluation glyphs (15 queries per class, seed 2026: the
    episodes of ``benchmarks/glyph_fewshot_eval.py``) of the shipped ProtoNet (and, at 5-shot, the
    1-shot one), nearest centroid on lesson 06's frozen backbone (Euclidean and cosine), the shipped
    MAML and pixel nearest neighbour: ``{"K": {row: {"mean", "ci95", "first_50"}}}``. ``rows``
    limits the rows computed (names as in the result)."""
    from ..data.glyphs import GlyphTasks
    from ..meta.fewshot import PixelNearestNeighbour
    from . import load_glyph_anil, load_nearest_centroid, load_protonet

    result = {}
    for k_shot in shots:
        scorers = {"protonet": lambda: load_protonet(k_shot)}
        if k_shot != 1:
            scorers["protonet_1shot_model"] = lambda: load_protonet(1)
        scorers.update({"nearest_centroid_euclidean": lambda: load_nearest_centroid("euclidean"),
                        "nearest_centroid_cosine": lambda: load_nearest_centroid("cosine"),
                        "maml": lambda: load_glyph_maml(k_shot), "pixel_nn": PixelNearestNeighbour})
        table = {}
        for name, make in scorers.items():
            if rows is not None and name not in rows:
                continue
            table[name] = _scored_row(make(), GlyphTasks("evaluation", image_size=20), k_shot, n_episodes,
                                      METRIC_CHECK_EPISODES)
        result[str(k_shot)] = table
    return result


#: The rows of :func:`cross_domain_fewshot` (the glyph-trained models of lessons 03-08 and the floor).
CROSS_DOMAIN_ROWS = ("maml", "fomaml", "reptile", "anil", "anil_transfer", "metalstm", "protonet", "fine_tuning",
                     "nearest_centroid_euclidean", "nearest_centroid_cosine", "pixel_nn")
#: Where each row's in-domain score (the same 600 glyph episodes) is: figure and row name.
_IN_DOMAIN = {"maml": ("metric_fewshot", "maml"), "fomaml": ("first_order_glyphs", "fomaml"),
              "reptile": ("first_order_glyphs", "reptile"), "anil": ("meta_trained_anil", "anil_meta_trained"),
              "anil_transfer": ("meta_trained_anil", "anil_meta_transfer"), "metalstm": ("metalstm_fewshot", "meta_lstm"),
              "protonet": ("metric_fewshot", "protonet"), "fine_tuning": ("metalstm_fewshot", "fine_tune"),
              "nearest_centroid_euclidean": ("metric_fewshot", "nearest_centroid_euclidean"),
              "nearest_centroid_cosine": ("metric_fewshot", "nearest_centroid_cosine"),
              "pixel_nn": ("metric_fewshot", "pixel_nn")}
#: The fine-tuning row's learning-rate grid, tuned on 20 background-glyph episodes (as in
#: ``benchmarks/glyph_fewshot_eval.py``): nothing is tuned on the digits.
FINETUNE_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


def _cross_domain_scorers(k_shot: int) -> Dict[str, Callable[[], object]]:
    from ..data.glyphs import GlyphTasks
    from ..meta.fewshot import PixelNearestNeighbour
    from . import load_glyph_anil, load_nearest_centroid, load_protonet

    def fine_tuning():
        candidates = {lr: load_glyph_finetune(strategy="fine_tune", k_shot=k_shot, inner_lr=lr, n_inner_steps=5)
                      for lr in FINETUNE_GRID}
        tuning = GlyphTasks("background", image_size=20).sample_episodes(20, 5, k_shot, 5, random_state=0)
        return candidates[max(FINETUNE_GRID, key=lambda lr: candidates[lr].score(tuning))]

    return {"maml": lambda: load_glyph_maml(k_shot), "fomaml": lambda: _first_order_glyph_model("fomaml", k_shot),
            "reptile": lambda: _first_order_glyph_model("reptile", k_shot),
            "anil": lambda: load_glyph_anil("random", k_shot=k_shot),
            "anil_transfer": lambda: load_glyph_anil("pretrained", k_shot=k_shot),
            "metalstm": lambda: load_glyph_metalstm(k_shot),
            "protonet": lambda: load_protonet(k_shot), "fine_tuning": fine_tuning,
            "nearest_centroid_euclidean": lambda: load_nearest_centroid("euclidean"),
            "nearest_centroid_cosine": lambda: load_nearest_centroid("cosine"), "pixel_nn": PixelNearestNeighbour}


def cross_domain_fewshot(n_episodes: int = 600, shots=(1, 5), rows=None) -> Dict[str, object]:
    """Lesson 08 (issue 15 item 5, after Chen et al. 2019's cross-domain test): every glyph-trained
    model of :data:`CROSS_DOMAIN_ROWS` (the shipped K-shot MAML, first-order MAML and Reptile with their
    3 steps, ANIL meta-trained from a random θ and from the pretrained backbone with their 3 head
    steps, Meta-LSTM with its
    learned updates, the K-shot ProtoNet, fine-tuning all layers of lesson 06's pretrained network
    for 5 steps with the rate tuned on background glyphs, nearest centroid on its frozen backbone)
    and pixel nearest neighbour, on ``n_episodes`` 5-way K-shot episodes of scikit-learn's digits
    (upscaled bilinearly to the glyphs' 20×20, grey levels in [0, 1] with the ink bright, as the
    glyphs; 15 queries per class, seed 2026). Batch norm: the support set and the query set are
    each normalised with their own statistics (transductive, as in MAML's evaluation).
    ``{"digits": {"K": {row: {"mean", "ci95", "first_50", "n_episodes"}}}}``; ``rows`` limits the
    rows computed. The in-domain scores are :func:`metric_fewshot`'s and :func:`metalstm_fewshot`'s."""
    from ..data.glyphs import DigitsTasks

    tasks, per_k = DigitsTasks(image_size=20), {}
    for k_shot in shots:
        table = {}
        for name, make in _cross_domain_scorers(k_shot).items():
            if rows is not None and name not in rows:
                continue
            table[name] = _scored_row(make(), tasks, k_shot, n_episodes, METRIC_CHECK_EPISODES)
        per_k[str(k_shot)] = table
    return {"digits": per_k}


CROSS_DOMAIN_LABELS = {"maml": "MAML (3 steps)", "fomaml": "first-order MAML (3 steps)",
                       "reptile": "Reptile (3 steps)", "anil": "ANIL meta-trained (3 head steps)",
                       "anil_transfer": "meta-transfer ANIL (3 head steps)", "metalstm": "Meta-LSTM (learned updates)",
                       "protonet": "ProtoNet (K-shot model)", "fine_tuning": "fine-tuning, all layers (5 steps)",
                       "nearest_centroid_euclidean": "nearest centroid, Euclidean",
                       "nearest_centroid_cosine": "nearest centroid, cosine", "pixel_nn": "pixel nearest neighbour"}


def in_domain_score(row: str, k_shot: str):
    """The in-domain score (new glyphs, the same 600 episodes) of a :data:`CROSS_DOMAIN_ROWS` row,
    or ``None`` when the figure holding it does not ship."""
    figure, name = _IN_DOMAIN[row]
    try:
        return load_figure(figure)[k_shot][name]
    except (WeightsError, ValueError, KeyError):
        return None


def cross_domain_table(figure=None) -> str:
    """The Markdown table of lesson 08 and RESULTS.md: per row and K, 5-way accuracy (mean ± 95%)
    on new glyphs (in domain) and on the digits (cross-domain), and the drop in points."""
    figure = load_figure("cross_domain_fewshot") if figure is None else figure
    lines = ["| model (trained on glyphs) | K | glyphs (in domain) | digits (cross-domain) | drop (points) |",
             "|---|---|---|---|---|"]
    for name in CROSS_DOMAIN_ROWS:
        for k_shot in ("1", "5"):
            digits, glyphs = figure["digits"][k_shot][name], in_domain_score(name, k_shot)
            in_domain = "—" if glyphs is None else f"{100 * glyphs['mean']:.1f}% ± {100 * glyphs['ci95']:.1f}"
            drop = "—" if glyphs is None else f"{100 * (glyphs['mean'] - digits['mean']):.1f}"
            lines.append(f"| {CROSS_DOMAIN_LABELS[name]} | {k_shot} | {in_domain} "
                         f"| {100 * digits['mean']:.1f}% ± {100 * digits['ci95']:.1f} | {drop} |")
    return "\n".join(lines)


# -- lesson 09 -----------------------------------------------------------------------------------

#: Lesson 09's sinusoid evaluation: train_sinusoid's 600 test tasks (seed 2026, K = 5, 100 query points).
FIRST_ORDER_KINDS = ("maml", "fomaml", "reptile", "joint")


def first_order_sinusoid(n_tasks: int = 600, n_steps: int = 10) -> Dict[str, object]:
    """Lesson 09: query MSE of the shipped sinusoid MAML, first-order MAML, Reptile and pretrained
    baseline after 0…``n_steps`` SGD steps of α = 0.01 on K = 5 support points, on ``n_tasks``
    fresh tasks (seed 2026, 100 query points; the tasks of ``benchmarks/sinusoid_eval.py``):
    ``{kind: {"mean": [per step], "ci95": [per step]}, "n_tasks": n}``."""
    from ..data.tasks import SinusoidTasks
    from ..evaluation import mean_ci95
    from . import load_sinusoid

    batch = SinusoidTasks().sample_batch(n_tasks, 5, 100, 2026)
    result: Dict[str, object] = {"n_tasks": n_tasks, "k_shot": 5, "inner_lr": 0.01}
    for kind in FIRST_ORDER_KINDS:
        curve = load_sinusoid(kind).query_loss_curve(batch, inner_lr=0.01, n_inner_steps=n_steps)  # (N, n + 1)
        stats = [mean_ci95(curve[:, step].double().numpy()) for step in range(n_steps + 1)]
        result[kind] = {"mean": [m for m, _ in stats], "ci95": [h for _, h in stats]}
    return result


#: Episodes of :func:`feature_reuse`'s layer measurements, and of its checked first chunk.
FEATURE_REUSE_CHECK_EPISODES = 50


def feature_reuse(n_episodes: int = 600, n_layer_episodes: int = 50, shots=(1, 5), rows=None) -> Dict[str, object]:
    """Lesson 09 (after Raghu et al. 2020): per K, for the shipped glyph MAML,

    - ``"layers"``: per layer the mean relative weight change and the mean linear CKA of the query
      representations before and after its 3 test-time steps (:func:`mtlviz.meta.anil.layer_changes`,
      ``n_layer_episodes`` 5-way episodes of new characters, 15 queries per class, seed 1);
    - ``"accuracy"``: 5-way accuracy (mean, 95% half-width, mean of the first 50 episodes) on the
      ``n_episodes`` test episodes of ``benchmarks/glyph_fewshot_eval.py`` (seed 2026) of MAML (3
      steps on every layer), ANIL on MAML's θ (3 and 10 head-only steps, α = 0.4, no training) and
      head-only adaptation from lesson 06's pretrained backbone with a zero head (3 steps,
      α = 0.4): ``rows`` limits them.
    """
    from ..data.glyphs import GlyphTasks
    from ..meta.anil import HeadAdapter, layer_changes

    backbone = load_glyph_finetune().backbone_
    result = {}
    for k_shot in shots:
        maml = load_glyph_maml(k_shot)
        tasks = GlyphTasks("evaluation", image_size=maml.image_size)
        episodes = tasks.sample_episodes(n_layer_episodes, 5, k_shot, 15, random_state=1)
        changes = layer_changes(maml.model_, maml.params_, episodes, inner_lr=maml.inner_lr,
                                n_inner_steps=maml.n_test_inner_steps)
        scorers = {"maml": lambda: maml,
                   "anil_3": lambda: HeadAdapter.from_maml(maml, n_inner_steps=3),
                   "anil_10": lambda: HeadAdapter.from_maml(maml, n_inner_steps=10),
                   "pretrained_head_3": lambda: HeadAdapter.from_backbone(maml.model_, backbone, inner_lr=maml.inner_lr,
                                                                          n_inner_steps=3)}
        table = {}
        for name, make in scorers.items():
            if rows is not None and name not in rows:
                continue
            table[name] = _scored_row(make(), tasks, k_shot, n_episodes, FEATURE_REUSE_CHECK_EPISODES)
        result[str(k_shot)] = {"layers": changes.means(), "n_layer_episodes": n_layer_episodes,
                               "inner_lr": maml.inner_lr, "n_inner_steps": maml.n_test_inner_steps, "accuracy": table}
    return result


#: The rows of :func:`meta_trained_anil`: start -> row name.
ANIL_ROWS = {"random": "anil_meta_trained", "pretrained": "anil_meta_transfer"}


def meta_trained_anil(n_episodes: int = 600, rows=None, shots=(1, 5)) -> Dict[str, object]:
    """Lesson 09 (issue 15 items 2 and 4): 5-way K-shot accuracy (mean, 95% half-width, mean of the
    first 50 episodes, outer steps trained) of the shipped meta-trained ANIL models (``python -m
    mtlviz.pretrained.train_anil``: from a random θ at K = 1 and 5, and at K = 1 from lesson 06's
    pretrained backbone, i.e. meta-transfer), 3 head steps of α = 0.4 at test, on the ``n_episodes``
    test episodes of :func:`feature_reuse` (seed 2026, 15 queries per class), whose MAML,
    ANIL-on-MAML's-θ and pretrained-head rows they are read beside. ``{"1" | "5": {row: {...}}}``."""
    from ..data.glyphs import GlyphTasks
    from . import load_glyph_anil
    from .train_anil import FILES

    result = {}
    for k_shot in shots:
        table = {}
        for start, name in ANIL_ROWS.items():
            if (start, k_shot) not in FILES or (rows is not None and name not in rows):
                continue
            model = load_glyph_anil(start, k_shot=k_shot)
            table[name] = _scored_row(model, GlyphTasks("evaluation", image_size=model.image_size), k_shot, n_episodes,
                                      FEATURE_REUSE_CHECK_EPISODES, n_outer_steps=model.n_outer_steps)
        result[str(k_shot)] = table
    return result


def _first_order_glyph_model(kind: str, k_shot: int):
    """The shipped glyph ``kind`` ("fomaml" or "reptile") model at ``k_shot``, loaded safely."""
    from ..meta.fewshot import MAMLClassifier
    from ..meta.reptile import ReptileClassifier
    from .train_first_order_glyphs import weights_file

    cls = {"fomaml": MAMLClassifier, "reptile": ReptileClassifier}[kind]
    return cls.load(WEIGHTS_DIR / weights_file(kind, k_shot),
                    regenerate_command="python -m mtlviz.pretrained.train_first_order_glyphs")


def first_order_glyphs(n_episodes: int = 600, rows=None, shots=(1, 5)) -> Dict[str, object]:
    """Lesson 09 (issue 15 item 3): 5-way K-shot accuracy (mean, 95% half-width, mean of the first
    50 episodes, outer steps trained) of the shipped first-order MAML and Reptile glyph models
    (``python -m mtlviz.pretrained.train_first_order_glyphs``; MAML's test-time adaptation, 3 steps
    of α = 0.4) on the 600 test episodes of :func:`feature_reuse` (seed 2026, 15 queries per class),
    read beside its MAML rows: ``{"1" | "5": {"fomaml" | "reptile": {...}}}``."""
    from ..data.glyphs import GlyphTasks

    result = {}
    for k_shot in shots:
        table = {}
        for name in ("fomaml", "reptile"):
            if rows is not None and name not in rows:
                continue
            model = _first_order_glyph_model(name, k_shot)
            table[name] = _scored_row(model, GlyphTasks("evaluation", image_size=20), k_shot, n_episodes,
                                      FEATURE_REUSE_CHECK_EPISODES, n_outer_steps=model.n_outer_steps)
        result[str(k_shot)] = table
    return result


def glyph_methods(k_shot: int) -> Dict[str, Optional[Dict[str, object]]]:
    """The four optimisation-based glyph meta-learners at ``k_shot`` (1 or 5), from the shipped
    figures, on the same 600 test episodes (those of :func:`feature_reuse`, seed 2026): MAML
    (:func:`feature_reuse`), first-order MAML and Reptile (:func:`first_order_glyphs`), ANIL
    meta-trained as ANIL (:func:`meta_trained_anil`). ``{method: {"mean", "ci95", "n_episodes",
    "n_outer_steps"} or None}``, None where the figure holds no row for this K."""
    key = str(k_shot)
    maml = dict(load_figure("feature_reuse")[key]["accuracy"]["maml"], n_outer_steps=load_glyph_maml(k_shot).n_outer_steps)
    first_order = load_figure("first_order_glyphs").get(key, {})
    anil = load_figure("meta_trained_anil").get(key, {})
    rows = {"maml": maml, "fomaml": first_order.get("fomaml"), "reptile": first_order.get("reptile"),
            "anil": anil.get("anil_meta_trained")}
    fields = ("mean", "ci95", "n_episodes", "n_outer_steps")
    return {method: None if row is None else {field: row[field] for field in fields} for method, row in rows.items()}


#: Labels of :func:`glyph_methods_table`'s rows.
GLYPH_METHOD_LABELS = {"maml": "MAML (second order)", "fomaml": "first-order MAML", "reptile": "Reptile",
                       "anil": "ANIL (meta-trained as ANIL)"}


def glyph_methods_table() -> str:
    """Lesson 09's and RESULTS.md's comparison (issue 15): MAML, first-order MAML, Reptile and ANIL
    on glyphs, 5-way 1- and 5-shot, mean ± 95% half-width on the same 600 episodes per K and the
    outer steps each model trained for (Markdown; "not shipped" where no model of that K ships)."""
    by_k = {k_shot: glyph_methods(k_shot) for k_shot in (1, 5)}
    lines = ["| method | 5-way 1-shot | outer steps | 5-way 5-shot | outer steps |", "|---|---|---|---|---|"]
    for method, label in GLYPH_METHOD_LABELS.items():
        cells = []
        for k_shot in (1, 5):
            row = by_k[k_shot][method]
            cells += (["not shipped", "–"] if row is None else
                      [f"{100 * row['mean']:.1f}% ± {100 * row['ci95']:.1f}%", f"{row['n_outer_steps']:,}"])
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: name -> the function that computes it (with the lesson's settings as defaults)
FIGURES: Dict[str, Callable[[], object]] = {"fewshot_first_look": fewshot_first_look,
                                            "seed_corrected_training": seed_corrected_training,
                                            "sgd_tuning": sgd_tuning, "metalstm_episode": metalstm_episode,
                                            "metalstm_fewshot": metalstm_fewshot,
                                            "block_changes": block_changes,
                                            "digits_shift": digits_shift,
                                            "domain_seeds": domain_seeds,
                                            "navigation_adaptation": navigation_adaptation,
                                            "batch_norm_transduction": batch_norm_transduction,
                                            "metric_fewshot": metric_fewshot,
                                            "cross_domain_fewshot": cross_domain_fewshot,
                                            "first_order_sinusoid": first_order_sinusoid,
                                            "feature_reuse": feature_reuse,
                                            "meta_trained_anil": meta_trained_anil,
                                            "first_order_glyphs": first_order_glyphs}


def _finite(value) -> bool:
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


#: (path, modification time, size) -> {figure name: its JSON text}: the file parsed once per change
#: (lesson 08 reads figures some 60 times at page open), each figure handed out as a fresh copy.
_FIGURE_TEXTS: Dict[tuple, Dict[str, str]] = {}


def _figure_texts(path: Path) -> Dict[str, str]:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _FIGURE_TEXTS:
        figures = json.loads(path.read_text())["figures"]
        _FIGURE_TEXTS.clear()  # one file at a time: a test's temporary copy must not pile up
        _FIGURE_TEXTS[key] = {name: json.dumps(value) for name, value in figures.items()}
    return _FIGURE_TEXTS[key]


def load_figure(name: str, path=None):
    """The shipped figure ``name`` (one of :data:`FIGURES`). A missing, corrupt or incomplete
    file raises :class:`~mtlviz.WeightsError` naming the command that regenerates it."""
    if name not in FIGURES:
        raise ValueError(f"name must be one of {sorted(FIGURES)}; got {name!r}")
    path = figures_path() if path is None else Path(path)
    hint = f"Regenerate it with: {FIGURES_COMMAND} {name}"
    try:
        value = json.loads(_figure_texts(path)[name])
    except FileNotFoundError as error:
        raise WeightsError(f"lesson figures file {path} is missing. {hint}") from error
    except (ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"lesson figures file {path} does not hold {name!r} ({error!r}). {hint}") from error
    if not _finite(value):
        raise WeightsError(f"lesson figures file {path} holds a non-finite number in {name!r}. {hint}")
    return value


# -- lesson 12 -----------------------------------------------------------------------------------

#: Inner-step counts of :func:`meta_cost`, and timing repeats per configuration and network.
META_COST_STEPS = (1, 2, 5, 10)
META_COST_REPEATS = {"sinusoid": 20, "glyphs": 3}


def meta_cost(nets=("sinusoid", "glyphs"), steps=META_COST_STEPS, fresh_process: bool = True) -> Dict[str, object]:
    """Lesson 12 (issues 15 and 16 part 3, seed §8.2): per network, :func:`mtlviz.meta.cost.measure`
    of second-order MAML, first-order MAML, Reptile and ANIL (and on glyphs Meta-LSTM, whose k is its
    number of learner updates) at 1, 2, 5 and 10 inner steps, ProtoNet once (no inner loop) and the
    plain forward+backward baseline: the peak bytes autograd's graph holds (exact, recomputed by the
    tests), the median time per meta-step and the real peak-memory rise, each configuration in a
    fresh one-thread process (about 13 minutes on a busy machine; times and peaks vary with the
    machine and its load, which is recorded before and after). ``fresh_process=False`` times in this
    process and skips the real peaks."""
    from ..meta.cost import measure

    return {net: measure(net, steps=steps, repeats=META_COST_REPEATS[net], fresh_process=fresh_process) for net in nets}


def meta_cost_accuracy() -> Dict[str, Dict[str, object]]:
    """What each method of :func:`meta_cost` reaches, from the shipped figures: on the sinusoid the
    query MSE after 1 and 10 steps on K = 5 points (:func:`first_order_sinusoid`, 600 tasks; no ANIL
    is trained on it), on glyphs the 5-way 1-shot accuracy over the same 600 episodes of MAML
    (:func:`feature_reuse`), first-order MAML and Reptile (:func:`first_order_glyphs`), ANIL
    meta-trained as ANIL (:func:`meta_trained_anil`), Meta-LSTM (:func:`metalstm_fewshot`) and
    ProtoNet (:func:`metric_fewshot`), each with the outer steps it was trained for and the episodes
    of each step (``n_way``-way: ProtoNet trains on 20-way episodes, as Snell et al. do).
    ``{net: {method: {...} or None}}``."""
    from . import load_protonet

    sinusoid = load_figure("first_order_sinusoid")
    maml = load_figure("feature_reuse")["1"]["accuracy"]["maml"]
    first_order = load_figure("first_order_glyphs")["1"]
    anil = load_figure("meta_trained_anil")["1"]
    models = {"maml": load_glyph_maml(1), "metalstm": load_glyph_metalstm(1), "protonet": load_protonet(1)}

    def row(stats, steps, model=None):
        episodes = {} if model is None else {"meta_batch_size": model.meta_batch_size, "n_way": model.n_way}
        return {"accuracy": stats["mean"], "ci95": stats["ci95"], "n_outer_steps": steps, **episodes}

    return {"sinusoid": {method: ({"mse_1": sinusoid[method]["mean"][1], "mse_10": sinusoid[method]["mean"][10]}
                                  if method in sinusoid else None) for method in ("maml", "fomaml", "reptile", "anil")},
            "glyphs": {"maml": row(maml, models["maml"].n_outer_steps, models["maml"]),
                       "fomaml": row(first_order["fomaml"], first_order["fomaml"]["n_outer_steps"]),
                       "reptile": row(first_order["reptile"], first_order["reptile"]["n_outer_steps"]),
                       "anil": row(anil["anil_meta_trained"], anil["anil_meta_trained"]["n_outer_steps"]),
                       "metalstm": row(load_figure("metalstm_fewshot")["1"]["meta_lstm"], models["metalstm"].n_outer_steps,
                                       models["metalstm"]),
                       "protonet": row(load_figure("metric_fewshot")["1"]["protonet"], models["protonet"].n_outer_steps,
                                       models["protonet"])}}


FIGURES["meta_cost"] = meta_cost


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"figures to compute, of {sorted(FIGURES)} (default: all)")
    parser.add_argument("--out", default=None, help="file to write (default: the package's lesson_figures.json)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}; choose from {sorted(FIGURES)}")
    import torch

    torch.set_num_threads(1)  # the numbers of one-thread kernels, bit for bit
    out = Path(args.out) if args.out else figures_path()
    figures = json.loads(out.read_text())["figures"] if out.exists() else {}
    for name in args.names or sorted(FIGURES):
        started = time.perf_counter()
        figures[name] = FIGURES[name]()
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
    out.write_text(json.dumps({"command": FIGURES_COMMAND, "figures": figures}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
