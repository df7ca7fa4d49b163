"""Scoring: one mean ± 95% interval, and the few-shot scores the papers report.

- :func:`mean_ci95`: the mean of per-episode (or per-task) scores and the half-width of its 95%
  interval, t-based (Student's t with n − 1 degrees of freedom; 1.96 · std / √n is its large-n
  limit, which the few-shot papers quote);
- :func:`evaluate_episodes` / :class:`EpisodeScore`: accuracy over many fresh N-way K-shot
  episodes;
- :func:`sgd_accuracy_curve`: query accuracy after 0…n plain gradient steps on each episode's
  support set (MAML's test-time adaptation, the SGD baseline of Meta-LSTM);
- :func:`score_steps` / :class:`StepScores`: losses and predictions of one episode step by step;
- :func:`normalisation_accuracy`: query accuracy under each batch-norm choice of
  :data:`mtlviz.nets.NORMALISATIONS` (is the evaluation transductive, and how much does it matter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch.func import vmap

from . import functional as Fn
from ._validation import check_int, check_random_state, check_real
from .data.glyphs import EpisodeBatch
from .nets import NORMALISATIONS, ConvNet, accuracy, cross_entropy, normalised_logits

__all__ = ["mean_ci95", "CurveSummary", "summarise_loss_curve", "EpisodeScore", "evaluate_episodes", "sgd_accuracy_curve", "StepScores", "score_steps",
           "normalisation_accuracy", "QUERY_BATCH_SIZES", "accuracy_by_query_batch"]

#: Query images normalised together, in :func:`accuracy_by_query_batch` (1 = each image alone).
QUERY_BATCH_SIZES = (1, 2, 3, 5, 10, 25)


#: Φ⁻¹(0.975), the standard normal 97.5% quantile (the large-n limit 1.96 of the t factor).
_Z975 = 1.9599639845400543
#: From this many degrees of freedom on, Hill's expansion is the quantile to within 1e-15.
_HILL_FROM_DF = 1000


def _log_gamma_ratio(z: float) -> float:
    """ln Γ(z + ½) − ln Γ(z) for z > 0, to about 1e-15 absolute for every z.

    ``lgamma(z + ½) − lgamma(z)`` subtracts two numbers of size z ln z (6·10⁶ at z = 5·10⁵),
    losing about 1e-9; from z = 10 on, the difference of the two Stirling series is taken term by
    term instead: ln Γ(z) = (z − ½) ln z − z + ½ ln 2π + S(z), S(z) = 1/(12z) − 1/(360z³) + ….
    """
    if z < 10.0:
        return math.lgamma(z + 0.5) - math.lgamma(z)

    def stirling_tail(w):  # S(w), the remainder after 1/(1188 w⁹) below 1e-12 for w ≥ 10
        return 1 / (12 * w) - 1 / (360 * w**3) + 1 / (1260 * w**5) - 1 / (1680 * w**7)

    # (z ln(z + ½) − z − ½) − ((z − ½) ln z − z) = z ln(1 + 1/(2z)) − ½ + ½ ln z
    return (z * math.log1p(0.5 / z) - 0.5) + 0.5 * math.log(z) + stirling_tail(z + 0.5) - stirling_tail(z)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function I_x(a, b), by the modified Lentz
    method (Numerical Recipes' ``betacf``); converges quickly for x < (a + 1)/(a + b + 2)."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 100_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # the even step d_2m
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # the odd step
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < eps:
            return fraction
    raise ArithmeticError(f"the incomplete beta continued fraction did not converge for a={a}, b={b}, x={x}")


def _t_two_sided_tail(t: float, degrees_of_freedom: int) -> float:
    """P(|T| > t) for Student's T with ν degrees of freedom, t > 0:
    I_x(ν/2, ½) with x = ν/(ν + t²), the regularized incomplete beta function.

    For t ≥ √3, the only place :func:`_t95` looks (its quantile is above 1.96), x is below
    (a + 1)/(a + b + 2) for every ν, where the continued fraction converges quickly."""
    nu = float(degrees_of_freedom)
    a, b = nu / 2, 0.5
    # ln of x^a (1 − x)^b / B(a, b), with 1 − x = t²/(ν + t²) and ln x = −ln(1 + t²/ν) kept exact
    log_front = (_log_gamma_ratio(a) - 0.5 * math.log(math.pi) - a * math.log1p(t * t / nu)
                 + b * math.log(t * t / (nu + t * t)))
    return math.exp(log_front) * _beta_continued_fraction(a, b, nu / (nu + t * t)) / a


def _t_density(t: float, degrees_of_freedom: int) -> float:
    """Student's t density Γ((ν+1)/2) / (Γ(ν/2) √(νπ)) · (1 + t²/ν)^(−(ν+1)/2)."""
    nu = float(degrees_of_freedom)
    return math.exp(_log_gamma_ratio(nu / 2) - 0.5 * math.log(nu * math.pi) - (nu + 1) / 2 * math.log1p(t * t / nu))


def _hill_expansion(degrees_of_freedom: int) -> float:
    """Hill's (1970) expansion of the t quantile in 1/ν around the normal one, at 97.5%
    (Abramowitz & Stegun 26.7.5): t = z + g₁/ν + g₂/ν² + g₃/ν³ + g₄/ν⁴. Relative error about
    4e-11 at ν = 100, below 1e-15 from ν = 1000 on."""
    z, nu = _Z975, float(degrees_of_freedom)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4


def _t95(degrees_of_freedom: int) -> float:
    """The 97.5% quantile of Student's t with ν ≥ 1 degrees of freedom (the half-width factor of
    a 95% interval), to about 1e-14 relative; checked against ``scipy.stats.t.ppf(0.975, ν)`` in
    ``tests/test_evaluation.py``. Computed here so that an interval does not import scipy.

    Below ν = 1000, solves P(|T| > t) = 0.05 (the incomplete beta function's continued fraction)
    by Newton's method inside a bisection bracket, from Hill's expansion; from ν = 1000 on, the
    expansion alone is exact to double precision.
    """
    nu = check_int("degrees_of_freedom", degrees_of_freedom, 1, 2**62)
    t = _hill_expansion(nu)
    if nu >= _HILL_FROM_DF:
        return t
    low, high = _Z975, 2 * max(t, _Z975)  # the quantile lies above z: t's tails are heavier than the normal's
    while _t_two_sided_tail(high, nu) > 0.05:
        high *= 2
    t = min(max(t, low), high)
    for _ in range(100):
        excess = _t_two_sided_tail(t, nu) - 0.05  # decreasing in t
        if excess == 0:
            return t
        if excess > 0:
            low = t
        else:
            high = t
        proposal = t + excess / (2 * _t_density(t, nu))  # Newton: d/dt P(|T| > t) = −2 f(t)
        if not low < proposal < high:
            proposal = (low + high) / 2
        if abs(proposal - t) <= 1e-15 * t:  # the tail is exact to about 3e-14 relative below ν = 1000
            return proposal
        t = proposal
    return t


def mean_ci95(values: Sequence[float]) -> Tuple[float, float]:
    """Mean of ``values`` and the half-width of its 95% confidence interval,
    t · std / √n with Student's t at n − 1 degrees of freedom (std with n − 1); 0 for one value."""
    try:
        values = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"values must be a sequence of numbers; got {type(values).__name__}") from None
    if len(values) == 0:
        raise ValueError("values must hold at least 1 score; got 0")
    if not np.isfinite(values).all():
        raise ValueError("values must be finite; they hold NaN or infinite scores")
    if len(values) < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), _t95(len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))


@dataclass(frozen=True)
class CurveSummary:
    """Mean ± 95% interval of a ``(tasks, steps + 1)`` query-loss curve at chosen steps, over the
    tasks that did not diverge; ``diverged`` lists the tasks that did (at one of the chosen steps
    their loss is non-finite or 100 times its start, :func:`mtlviz.functional.has_diverged`)."""

    steps: Tuple[int, ...]
    means: Tuple[float, ...]
    half_widths: Tuple[float, ...]
    diverged: Tuple[int, ...]
    n_tasks: int

    def describe_divergence(self) -> str:
        """'' when no task diverged, else one line naming how many and which."""
        if not self.diverged:
            return ""
        shown = ", ".join(map(str, self.diverged[:5])) + (", ..." if len(self.diverged) > 5 else "")
        return (f"{len(self.diverged)} of {self.n_tasks} tasks diverged (task {shown}); the means are over the "
                f"other {self.n_tasks - len(self.diverged)}")


def summarise_loss_curve(curve: torch.Tensor, steps: Sequence[int]) -> CurveSummary:
    """:class:`CurveSummary` of ``curve`` (``(tasks, n + 1)``, e.g. ``MAML.query_loss_curve``) at
    ``steps`` (each in [0, n]). A diverged task is counted and left out of the means instead of
    turning them into NaN or 1e10 (a mean over the rest, flagged, is what a reader can use)."""
    if not isinstance(curve, torch.Tensor) or curve.ndim != 2 or curve.shape[0] < 2:
        raise ValueError(f"curve must be a (tasks, steps + 1) tensor with at least 2 tasks; got "
                         f"{tuple(curve.shape) if isinstance(curve, torch.Tensor) else type(curve).__name__}")
    steps = tuple(steps)
    for step in steps:
        check_int("steps", step, 0, curve.shape[1] - 1)
    at_steps = curve[:, [0, *steps]]  # a loss that spikes between two reported steps and recovers is no divergence
    diverged = tuple(task for task in range(curve.shape[0]) if Fn.has_diverged(at_steps[task]))
    kept = curve[[task for task in range(curve.shape[0]) if task not in diverged]].double()
    if kept.shape[0] < 2:
        raise ValueError(f"{len(diverged)} of {curve.shape[0]} tasks diverged: fewer than 2 left to average")
    stats = [mean_ci95(kept[:, step].numpy()) for step in steps]
    return CurveSummary(steps, tuple(m for m, _ in stats), tuple(h for _, h in stats), diverged, curve.shape[0])


def sgd_accuracy_curve(model, params, batch: EpisodeBatch, *, inner_lr: float, n_steps: int) -> torch.Tensor:
    """Query accuracy of each episode of ``batch`` after 0…``n_steps`` steps of plain gradient
    descent θ' = θ − α∇θL from ``params`` on its support set, ``(T, n_steps + 1)`` (episodes
    batched with ``vmap``). MAML's test-time adaptation, and the SGD baseline of Meta-LSTM.

    A curve (a rate search runs it at rates that diverge): an episode whose logits became NaN or
    infinite scores what their argmax gives, without an error; estimators' ``score`` raises."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    check_int("n_steps", n_steps, 0, Fn.MAX_INNER_STEPS)
    if not isinstance(batch, EpisodeBatch):
        raise ValueError(f"batch must be an EpisodeBatch (from sample_episodes); got {type(batch).__name__}")
    Fn.check_task(model, params, batch.x_support, batch.y_support, loss_fn=cross_entropy, batched=True)
    return sgd_curve_and_finite(model, params, batch, inner_lr, n_steps)[0]


def sgd_curve_and_finite(model, params, batch: EpisodeBatch, inner_lr: float, n_steps: int):
    """:func:`sgd_accuracy_curve` unchecked, and whether each episode's final query logits are
    finite, ``(T,)`` bool (for callers that checked their arguments and raise on divergence)."""
    params = {name: p.detach() for name, p in params.items()}

    def one_episode(xs, ys, xq, yq):
        steps = list(Fn.adapt_steps(model, params, xs, ys, inner_lr, n_steps, True, cross_entropy))
        logits = [Fn.forward(model, p, xq) for p in steps]
        return torch.stack([accuracy(z, yq) for z in logits]), torch.isfinite(logits[-1]).all()

    with torch.enable_grad():
        curve, finite = vmap(one_episode)(*batch.data)
    return curve.detach(), finite


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
    if not callable(getattr(estimator, "episode_accuracy", None)):
        raise ValueError(f"estimator must have an episode_accuracy(batch) method (a fitted MAMLClassifier, "
                         f"MetaLSTM, FineTuneClassifier, PixelNearestNeighbour); got {type(estimator).__name__}")
    if not callable(getattr(tasks, "sample_episodes", None)):
        raise ValueError(f"tasks must be an episode family with sample_episodes (GlyphTasks, GlyphPool, "
                         f"DigitsTasks); got {type(tasks).__name__}")
    n_episodes = check_int("n_episodes", n_episodes, 1, 100_000)
    chunk = check_int("chunk", chunk, 1, 10_000)
    generator = check_random_state(random_state)
    accuracies = []
    for start in range(0, n_episodes, chunk):
        batch = tasks.sample_episodes(min(chunk, n_episodes - start), n_way, k_shot, n_query, generator)
        accuracies.append(estimator.episode_accuracy(batch).double())
    values = torch.cat(accuracies).numpy()
    return EpisodeScore(*mean_ci95(values), values)


def normalisation_accuracy(estimator, batch: EpisodeBatch) -> Dict[str, torch.Tensor]:
    """Query accuracy of each episode of ``batch`` after ``estimator.adapt`` on its support set,
    with the query images normalised by each choice of :data:`mtlviz.nets.NORMALISATIONS`:
    ``{normalisation: (T,) accuracies}``. ``estimator`` is a fitted glyph estimator (anything
    with ``adapt(x_support, y_support)`` returning parameters of its ConvNet ``model_``).

    The adaptation is the same in every column (the support set normalises itself, as in
    training); only how the query images are normalised changes."""
    if not callable(getattr(estimator, "adapt", None)) or not isinstance(getattr(estimator, "model_", None), ConvNet):
        raise ValueError(f"estimator must be a fitted glyph estimator with adapt() and a ConvNet model_ "
                         f"(MAMLClassifier, MetaLSTM, FineTuneClassifier); got {type(estimator).__name__}")
    if not isinstance(batch, EpisodeBatch):
        raise ValueError(f"batch must be an EpisodeBatch (from sample_episodes); got {type(batch).__name__}")
    scores = {name: [] for name in NORMALISATIONS}
    for xs, ys, xq, yq in zip(*batch.data):
        params = estimator.adapt(xs, ys)
        with torch.no_grad():
            for name in NORMALISATIONS:
                scores[name].append(accuracy(normalised_logits(estimator.model_, params, xs, xq, name), yq))
    return {name: torch.stack(values) for name, values in scores.items()}


def accuracy_by_query_batch(model, params, x_support, x_query, y_query, *, sizes=QUERY_BATCH_SIZES,
                            random_state=0) -> Dict[str, object]:
    """One adapted episode's query accuracy when its query images are predicted ``b`` at a time
    (batch norm then normalises each group of ``b`` together), for every ``b`` of ``sizes``, and
    with the support set's statistics: ``{"sizes", "accuracy" (one per size), "support set"}``.

    The query images are shuffled once (seeded by ``random_state``) before grouping, since the
    sampler lists them class by class and a group of one class normalises differently from a mixed
    one; a size larger than the query set means the whole set at once."""
    if not isinstance(model, ConvNet):
        raise ValueError(f"model must be a ConvNet (a glyph estimator's model_); got {type(model).__name__}")
    n_query = x_query.shape[0]
    sizes = [check_int("size", size, 1, 10_000) for size in sizes]
    generator = check_random_state(random_state)
    order = torch.randperm(n_query, generator=generator)
    x_query, y_query = x_query[order], y_query[order]
    accuracies = []
    with torch.no_grad():
        for size in sizes:
            logits = torch.cat([model.functional_forward(params, x_query[i:i + size]) for i in range(0, n_query, size)])
            accuracies.append(float(accuracy(logits, y_query)))
        support = float(accuracy(normalised_logits(model, params, x_support, x_query, "support set"), y_query))
    return {"sizes": sizes, "accuracy": accuracies, "support set": support}
