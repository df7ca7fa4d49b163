"""Scoring: one mean ± 95% interval, and the few-shot scores the papers report.

- :func:`mean_ci95`: the mean of per-episode (or per-task) scores and the half-width of its 95%
  interval, t-based (Student's t with n − 1 degrees of freedom; 1.96 · std / √n is its large-n
  limit, which the few-shot papers quote);
- :func:`evaluate_episodes` / :class:`EpisodeScore`: accuracy over many fresh N-way K-shot
  episodes;
- :func:`sgd_accuracy_curve`: query accuracy after 0…n plain gradient steps on each episode's
  support set (MAML's test-time adaptation, the SGD baseline of Meta-LSTM);
- :func:`score_steps` / :class:`StepScores`: losses and predictions of one episode step by step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
import torch
from torch.func import vmap

from . import functional as Fn
from ._validation import check_int, check_random_state, check_real
from .data.glyphs import EpisodeBatch
from .nets import accuracy, cross_entropy

__all__ = ["mean_ci95", "EpisodeScore", "evaluate_episodes", "sgd_accuracy_curve", "StepScores", "score_steps"]


def _t95(degrees_of_freedom: int) -> float:
    """The 97.5% quantile of Student's t (half-width factor of a 95% interval)."""
    from scipy.stats import t  # scipy comes with scikit-learn; imported only when an interval is asked for

    return float(t.ppf(0.975, degrees_of_freedom))


def mean_ci95(values: Sequence[float]) -> Tuple[float, float]:
    """Mean of ``values`` and the half-width of its 95% confidence interval,
    t · std / √n with Student's t at n − 1 degrees of freedom (std with n − 1); 0 for one value."""
    values = np.asarray(values, dtype=float).reshape(-1)
    if len(values) == 0:
        raise ValueError("values must hold at least 1 score; got 0")
    if len(values) < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), _t95(len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))


def sgd_accuracy_curve(model, params, batch: EpisodeBatch, *, inner_lr: float, n_steps: int) -> torch.Tensor:
    """Query accuracy of each episode of ``batch`` after 0…``n_steps`` steps of plain gradient
    descent θ' = θ − α∇θL from ``params`` on its support set, ``(T, n_steps + 1)`` (episodes
    batched with ``vmap``). MAML's test-time adaptation, and the SGD baseline of Meta-LSTM."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    check_int("n_steps", n_steps, 0, Fn.MAX_INNER_STEPS)
    params = {name: p.detach() for name, p in params.items()}

    def one_episode(xs, ys, xq, yq):
        steps = Fn.adapt_steps(model, params, xs, ys, inner_lr, n_steps, True, cross_entropy)
        return torch.stack([accuracy(Fn.forward(model, p, xq), yq) for p in steps])

    with torch.enable_grad():
        return vmap(one_episode)(*batch.data).detach()


@dataclass(frozen=True)
class StepScores:
    """Losses and query predictions after 0…n adaptation steps of one episode (for plots):
    support_loss, query_loss, query_accuracy ``(n + 1,)``; query_predictions ``(n + 1, Q)``."""

    support_loss: np.ndarray
    query_loss: np.ndarray
    query_accuracy: np.ndarray
    query_predictions: np.ndarray


def score_steps(model, steps, x_support, y_support, x_query, y_query) -> StepScores:
    """Evaluate each parameter dict of ``steps`` (θ after 0…n steps) on one episode."""
    support_loss, query_loss, query_accuracy, predictions = [], [], [], []
    with torch.no_grad():
        for params in steps:
            logits_s, logits_q = model.functional_forward(params, x_support), model.functional_forward(params, x_query)
            support_loss.append(float(cross_entropy(logits_s, y_support)))
            query_loss.append(float(cross_entropy(logits_q, y_query)))
            query_accuracy.append(float(accuracy(logits_q, y_query)))
            predictions.append(logits_q.argmax(-1).numpy())
    return StepScores(np.array(support_loss), np.array(query_loss), np.array(query_accuracy), np.stack(predictions))



@dataclass(frozen=True)
class EpisodeScore:
    """Accuracy over many test episodes: ``mean`` and the half-width ``ci95`` of its 95%
    interval (:func:`mean_ci95`), as the few-shot papers report; ``accuracies`` per episode."""

    mean: float
    ci95: float
    accuracies: np.ndarray

    def __str__(self):
        return f"{100 * self.mean:.1f}% ± {100 * self.ci95:.1f}%"


def evaluate_episodes(estimator, tasks, *, n_way: int = 5, k_shot: int = 1, n_query: int = 15,
                      n_episodes: int = 600, random_state=2026, chunk: int = 50) -> EpisodeScore:
    """Score ``estimator`` (anything with ``episode_accuracy(batch)``) on ``n_episodes`` fresh
    N-way K-shot episodes of ``tasks``, drawn in chunks from ``random_state`` (so two estimators
    given the same seed see the same episodes)."""
    n_episodes = check_int("n_episodes", n_episodes, 1, 100_000)
    chunk = check_int("chunk", chunk, 1, 10_000)
    generator = check_random_state(random_state)
    accuracies = []
    for start in range(0, n_episodes, chunk):
        batch = tasks.sample_episodes(min(chunk, n_episodes - start), n_way, k_shot, n_query, generator)
        accuracies.append(estimator.episode_accuracy(batch).double())
    values = torch.cat(accuracies).numpy()
    return EpisodeScore(*mean_ci95(values), values)
