"""Meta-LSTM: a learned optimizer whose LSTM cell state *is* the learner's parameters.

Ravi & Larochelle (2017) noticed that the LSTM cell update

    c_t = f_t ⊙ c_{t−1} + i_t ⊙ c̃_t

is gradient descent, θ_t = θ_{t−1} − α_t ∇_t, when the forget gate f_t = 1, the input gate
i_t = α_t and the candidate c̃_t = −∇_t. So they let an LSTM *learn* the gates: i_t becomes a
learned, per-parameter learning rate and f_t a learned shrinkage of the parameters, both
computed from the current gradient, loss and parameter value. The initial cell state c_0, the
learner's starting parameters, is meta-learned too.

As in the paper (and its public ports):

- the meta-learner is coordinate-wise: every parameter of the learner is one row of a batch,
  and all rows share the LSTM's few hundred weights;
- its inputs are the loss and the gradient, preprocessed as in Andrychowicz et al. (2016) with
  p = 10 (:func:`preprocess`);
- the forget-gate bias starts high (U(4, 6)) and the input-gate bias low (U(−5, −4)), so training
  starts close to plain gradient descent with a small step;
- second derivatives through the learner's gradients are ignored (the gradient and loss fed to
  the LSTM are constants), the meta-gradient is clipped (norm 0.25);
- the learner's batch norm uses each batch's own statistics and keeps none (see
  :mod:`mtlviz.nets`), so nothing leaks from one episode to the next.

References
----------
Ravi & Larochelle, "Optimization as a Model for Few-Shot Learning", ICLR 2017.
Andrychowicz et al., "Learning to learn by gradient descent by gradient descent", NeurIPS 2016.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .. import functional as Fn
from .._validation import DivergenceError, check_bool, check_int, check_random_state, check_real, draw_seed
from ..nets import ConvNet, accuracy, cross_entropy
from .._base import EpisodicEstimator, check_episodes
from ..evaluation import StepScores, score_steps, sgd_accuracy_curve

__all__ = ["preprocess", "MetaLSTMCell", "MetaLSTM", "MetaLSTMTrace", "tune_sgd_lr", "EpisodeComparison",
           "compare_on_episode", "comparison_to_dict", "comparison_from_dict"]

GLYPH_META_LSTM_COMMAND = "python -m mtlviz.pretrained.train_glyphs --meta-lstm"


def preprocess(x: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """Andrychowicz et al.'s scaling of gradients and losses, which span many orders of magnitude:

        x ↦ (log|x| / p, sign x)   if |x| ≥ e^(−p)
        x ↦ (−1, e^p · x)          otherwise

    Returns a tensor with one more, last dimension of size 2.
    """
    check_real("p", p, 0.0, 100.0, low_inclusive=False)
    magnitude = x.abs()
    big = magnitude >= math.exp(-p)
    first = torch.where(big, torch.log(magnitude.clamp_min(1e-38)) / p, torch.full_like(x, -1.0))
    second = torch.where(big, torch.sign(x), math.exp(p) * x)
    return torch.stack([first, second], dim=-1)


class _State(NamedTuple):
    h: torch.Tensor  # (n, hidden) first LSTM layer's hidden state
    c: torch.Tensor  # (n, hidden) first LSTM layer's cell state
    f: torch.Tensor  # (n,) previous forget gate
    i: torch.Tensor  # (n,) previous input gate


class MetaLSTMCell(nn.Module):
    """The coordinate-wise meta-learner: an ordinary LSTM layer reads the preprocessed gradient
    and loss of every parameter, then the Meta-LSTM cell writes the parameters.

    For each coordinate (parameter) with first-layer output h_t, previous value c_{t−1} and
    gradient ∇_t:

        f_t = σ(W_f · [h_t, c_{t−1}, f_{t−1}] + b_f)      forget gate: learned shrinkage
        i_t = σ(W_i · [h_t, c_{t−1}, i_{t−1}] + b_i)      input gate: learned learning rate
        c_t = f_t ⊙ c_{t−1} − i_t ⊙ ∇_t                   the update of the parameters

    Parameters
    ----------
    n_params : int
        Number of learner parameters (coordinates); ``c0`` holds their meta-learned start.
    hidden_size : int
        Width of the first LSTM layer, in [1, 256] (20 in the paper).
    """

    def __init__(self, n_params: int, hidden_size: int = 20):
        super().__init__()
        self.n_params = check_int("n_params", n_params, 1, 100_000_000)
        self.hidden_size = check_int("hidden_size", hidden_size, 1, 256)
        self.lstm = nn.LSTMCell(4, hidden_size)
        self.w_forget = nn.Parameter(torch.empty(hidden_size + 2).uniform_(-0.01, 0.01))
        self.w_input = nn.Parameter(torch.empty(hidden_size + 2).uniform_(-0.01, 0.01))
        self.b_forget = nn.Parameter(torch.empty(1).uniform_(4.0, 6.0))  # f ≈ 1: keep the parameters
        self.b_input = nn.Parameter(torch.empty(1).uniform_(-5.0, -4.0))  # i ≈ 0.01: a small step
        self.c0 = nn.Parameter(torch.zeros(n_params))  # the learner's initial parameters θ_0

    def initial_state(self) -> _State:
        zeros = torch.zeros(self.n_params, self.hidden_size)
        return _State(zeros, zeros, torch.zeros(self.n_params), torch.zeros(self.n_params))

    def forward(self, state: _State, cell: torch.Tensor, gradient: torch.Tensor, loss: torch.Tensor,
                gates: Optional[Tuple[float, float]] = None):
        """One update. ``gradient`` and ``loss`` are treated as constants (no second derivatives).

        ``gates=(f, i)`` replaces the learned gates by constants, for tests and the lesson: with
        (1, α) the update is exactly plain gradient descent with step α.
        Returns ``(new_cell, new_state, f_t, i_t)``.
        """
        gradient, loss = gradient.detach(), loss.detach()
        if gates is None:
            inputs = torch.cat([preprocess(gradient), preprocess(loss).expand(self.n_params, 2)], dim=1)  # (n, 4)
            h, c = self.lstm(inputs, (state.h, state.c))
            forget = torch.sigmoid(torch.cat([h, cell[:, None], state.f[:, None]], 1) @ self.w_forget + self.b_forget)
            input_gate = torch.sigmoid(torch.cat([h, cell[:, None], state.i[:, None]], 1) @ self.w_input + self.b_input)
        else:  # fixed gates: the LSTM's own state would feed only the learned gates, so it is not run
            h, c = state.h, state.c
            forget = torch.full_like(cell, float(gates[0]))
            input_gate = torch.full_like(cell, float(gates[1]))
        new_cell = forget * cell - input_gate * gradient  # c_t = f_t ⊙ c_{t−1} − i_t ⊙ ∇_t
        return new_cell, _State(h, c, forget, input_gate), forget, input_gate


def _unflatten(vector: torch.Tensor, shapes: Dict[str, torch.Size]) -> Dict[str, torch.Tensor]:
    params, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        params[name] = vector[start: start + size].view(shape)
        start += size
    return params


@dataclass(frozen=True)
class MetaLSTMTrace:
    """One episode adapted step by step (the lesson's dashboard draws it).

    layers: names of the learner's parameter groups; input_gate, forget_gate: ``(n, L)`` mean
    gate per step and layer; scores: losses, accuracy and predictions after 0…n steps.
    """

    layers: Tuple[str, ...]
    input_gate: np.ndarray
    forget_gate: np.ndarray
    scores: StepScores

    @property
    def support_loss(self) -> np.ndarray:
        return self.scores.support_loss

    @property
    def query_accuracy(self) -> np.ndarray:
        return self.scores.query_accuracy


def _layer_groups(shapes: Dict[str, torch.Size]) -> List[Tuple[str, slice]]:
    """Learner parameters grouped per layer (conv block i with its norm, and the head)."""
    groups: Dict[str, List[int]] = {}
    start = 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        if name.startswith("head"):
            layer = "head"
        else:  # "convs.<i>.weight", "convs.<i>.bias", "norm_weight.<i>", "norm_bias.<i>"
            layer = f"conv{int(name.split('.')[1]) + 1}"
        groups.setdefault(layer, []).extend(range(start, start + size))
        start += size
    ordered = sorted(groups, key=lambda k: (k == "head", k))
    return [(layer, torch.tensor(groups[layer])) for layer in ordered]


class MetaLSTM(EpisodicEstimator):
    """Meta-LSTM few-shot classifier (Ravi & Larochelle 2017) with the conv learner of MAML.

    Each episode: the learner starts at the meta-learned c_0; for ``n_inner_steps`` steps its
    loss and gradient on the support set go through the :class:`MetaLSTMCell`, which writes the
    new parameters; the query loss of the final parameters is backpropagated into the LSTM's
    weights and c_0 (gradient-norm clipping ``grad_clip``, Adam with ``outer_lr``).

    Parameters
    ----------
    n_way, k_shot, n_query, channels, image_size
        As for :class:`~mtlviz.meta.fewshot.MAMLClassifier`.
    n_inner_steps : int, default 5
        Learner updates per episode, in [1, 100] (the shipped models: 5 for 1-shot, 8 for 5-shot).
    hidden_size : int, default 20
        Width of the first LSTM layer, in [1, 256].
    outer_lr : float, default 1e-3
        Adam's step for the meta-learner, in (0, 1].
    grad_clip : float, default 0.25
        Maximum norm of the meta-gradient, in (0, 100].
    meta_batch_size : int, default 1
        Episodes averaged per meta-update, in [1, 1000] (the paper: 1).
    n_outer_steps : int, default 2000
        Meta-updates that :meth:`fit` runs.
    random_state : int, torch.Generator or None
        Seeds the initialisation and the episode sampling.
    """

    _kind = "meta-lstm"
    _regenerate_command = GLYPH_META_LSTM_COMMAND
    _fitted_attribute = "meta_"
    _step_sizes = (("outer_lr", "β"), ("grad_clip", ""))

    def __init__(self, *, n_way: int = 5, k_shot: int = 1, n_query: int = 5, channels: int = 32,
                 image_size: int = 20, n_inner_steps: int = 5, hidden_size: int = 20, outer_lr: float = 1e-3,
                 grad_clip: float = 0.25, meta_batch_size: int = 1, n_outer_steps: int = 2000, random_state=None):
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.channels = channels
        self.image_size = image_size
        self.n_inner_steps = n_inner_steps
        self.hidden_size = hidden_size
        self.outer_lr = outer_lr
        self.grad_clip = grad_clip
        self.meta_batch_size = meta_batch_size
        self.n_outer_steps = n_outer_steps
        self.random_state = random_state

    def _validate(self):
        self._validate_episode_shape()
        check_int("n_inner_steps", self.n_inner_steps, 1, Fn.MAX_INNER_STEPS)
        check_int("hidden_size", self.hidden_size, 1, 256)
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_real("grad_clip", self.grad_clip, 0.0, 100.0, low_inclusive=False)
        check_int("meta_batch_size", self.meta_batch_size, 1, 1000)
        check_int("n_outer_steps", self.n_outer_steps, 0, 10_000_000)

    def _build(self, seed: int) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model_ = ConvNet(self.n_way, self.channels, self.image_size)
            self._shapes = {name: p.shape for name, p in self.model_.named_parameters()}
            initial = torch.cat([p.detach().flatten() for p in self.model_.parameters()])
            self.meta_ = MetaLSTMCell(initial.numel(), self.hidden_size)
            with torch.no_grad():
                self.meta_.c0.copy_(initial)  # start c_0 at the learner's usual initialisation

    # -- one episode -----------------------------------------------------------------------
    def _episode(self, x_support, y_support, *, n_steps: int, gates=None, on_step=None) -> torch.Tensor:
        """Run the learner's updates on one support set; return the final parameters c_T.

        The graph from c_T back to the meta-learner's weights and c_0 is kept (through the gates
        and c_{t−1}); the learner's gradients enter as constants.
        """
        cell = self.meta_.c0
        state = self.meta_.initial_state()
        for _ in range(n_steps):
            leaf = cell.detach().requires_grad_(True)
            with torch.enable_grad():
                loss = cross_entropy(self.model_.functional_forward(_unflatten(leaf, self._shapes), x_support),
                                     y_support)
                (gradient,) = torch.autograd.grad(loss, leaf)
            cell, state, forget, input_gate = self.meta_(state, cell, gradient, loss, gates)
            if on_step is not None:
                on_step(cell, forget, input_gate)
        return cell

    def _forward(self, cell, x):
        return self.model_.functional_forward(_unflatten(cell, self._shapes), x)

    # -- training --------------------------------------------------------------------------
    def _training_steps(self, tasks) -> Iterator[float]:
        """One meta-update per iteration: the mean query loss of ``meta_batch_size`` episodes."""
        self._check_tasks(tasks)
        generator = check_random_state(self.random_state)
        self._build(draw_seed(generator))
        optimizer = torch.optim.Adam(self.meta_.parameters(), lr=self.outer_lr)
        for _ in range(self.n_outer_steps):
            batch = tasks.sample_episodes(self.meta_batch_size, self.n_way, self.k_shot, self.n_query, generator)
            loss = self._meta_loss(batch.data, self.n_inner_steps)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.meta_.parameters(), self.grad_clip)
            optimizer.step()
            yield float(loss.detach())

    def _meta_loss(self, batch, n_steps: int) -> torch.Tensor:
        """The training objective on ``batch`` (``(x_support, y_support, x_query, y_query)``): per
        episode, ``n_steps`` learner updates written by the meta-learner, then the query loss of
        the final learner θ_T; the mean over episodes (also what :mod:`mtlviz.meta.cost` measures)."""
        losses = [cross_entropy(self._forward(self._episode(xs, ys, n_steps=n_steps), xq), yq)
                  for xs, ys, xq, yq in zip(*batch)]
        return torch.stack(losses).mean()

    # -- using the meta-learner ------------------------------------------------------------
    def _steps(self, n_inner_steps):
        n = self.n_inner_steps if n_inner_steps is None else n_inner_steps
        return check_int("n_inner_steps", n, 0, Fn.MAX_INNER_STEPS)

    def _check_gates(self, gates):
        if gates is None:
            return None
        if not isinstance(gates, (tuple, list)) or len(gates) != 2:
            raise ValueError(f"gates must be None or a pair (f, i) of a forget gate in [0, 1] and an input gate in "
                             f"[0, 10]; got {gates!r}")
        return (check_real("forget gate", gates[0], 0.0, 1.0),
                check_real("input gate", gates[1], 0.0, Fn.MAX_INNER_LR))

    def _check_episode(self, x_support, y_support, x_query=None, y_query=None):
        """The boundary check of one episode's images and labels against the learner."""
        theta0 = _unflatten(self.meta_.c0.detach(), self._shapes)
        self._check_images(self.model_, theta0, x_support, y_support)
        if x_query is not None:
            self._check_images(self.model_, theta0, x_query, y_query, "x_query", "y_query")

    def _check_cells(self, what, cells):
        if not bool(torch.isfinite(cells[-1]).all()):
            raise DivergenceError(f"{what} diverged: the learner's parameters are NaN or infinite after "
                                  f"{len(cells) - 1} meta-learner updates; try fewer n_inner_steps or fixed "
                                  f"gates=(1, α) with a small α")

    @property
    def initial_params_(self) -> Dict[str, torch.Tensor]:
        """The meta-learned starting parameters θ_0 = c_0, as a dict like the learner's."""
        self._check_fitted()
        return {name: p.detach().clone() for name, p in _unflatten(self.meta_.c0, self._shapes).items()}

    def adapt(self, x_support, y_support, *, n_inner_steps=None, gates=None, trajectory=False):
        """Let the meta-learner update the learner on one support set.

        Returns the final parameters (a dict), or with ``trajectory=True`` the list after 0…n steps.
        ``gates=(f, i)`` fixes the gates (``(1, α)`` is plain gradient descent with step α).
        """
        self._check_fitted()
        check_bool("trajectory", trajectory)
        gates = self._check_gates(gates)
        n_steps = self._steps(n_inner_steps)
        self._check_episode(x_support, y_support)
        cells = [self.meta_.c0.detach()]
        with torch.no_grad():
            self._episode(x_support, y_support, n_steps=n_steps, gates=gates,
                          on_step=lambda cell, f, i: cells.append(cell.detach()))
        self._check_cells("adapt", cells)
        steps = [_unflatten(c, self._shapes) for c in cells]
        return steps if trajectory else steps[-1]

    def predict(self, x, params=None) -> torch.Tensor:
        """Labels for images ``(n, 1, S, S)`` with θ_0 or the given adapted ``params``."""
        self._check_fitted()
        params = self.initial_params_ if params is None else params
        self._check_images(self.model_, params, x, None, x_name="x")
        with torch.no_grad():
            logits = self.model_.functional_forward(params, x)
        if not bool(torch.isfinite(logits).all()):
            raise DivergenceError("predict gave NaN or infinite logits: x is too large for this network")
        return logits.argmax(-1)

    def accuracy_curve(self, batch, *, n_inner_steps=None) -> torch.Tensor:
        """Query accuracy of every episode after 0…n meta-learner updates, ``(T, n + 1)`` (a curve:
        an episode whose learner diverged is not an error here; :meth:`score` raises)."""
        return self._curve(batch, n_inner_steps)[0]

    def _curve(self, batch, n_inner_steps):
        """The accuracy curves and whether each episode's final learner is finite, ``(T,)``."""
        self._check_fitted()
        check_episodes(batch, self.n_way, self.image_size)
        n_steps = self._steps(n_inner_steps)
        rows, finite = [], []
        with torch.no_grad():
            for xs, ys, xq, yq in zip(*batch.data):
                accs, last = [accuracy(self._forward(self.meta_.c0, xq), yq)], [self.meta_.c0]

                def record(cell, f, i, accs=accs, last=last, xq=xq, yq=yq):
                    accs.append(accuracy(self._forward(cell, xq), yq))
                    last[0] = cell

                self._episode(xs, ys, n_steps=n_steps, on_step=record)
                rows.append(torch.stack(accs))
                finite.append(bool(torch.isfinite(last[0]).all()))
        return torch.stack(rows), torch.tensor(finite)

    def episode_accuracy(self, batch) -> torch.Tensor:
        """Query accuracy of each episode after the meta-learner's updates, ``(T,)``; an episode
        whose learner became NaN or infinite raises :class:`~mtlviz.DivergenceError`."""
        curve, finite = self._curve(batch, None)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise DivergenceError(f"score diverged: the learner's parameters are NaN or infinite after "
                                  f"{self.n_inner_steps} meta-learner updates in {bad} of {len(finite)} episodes; "
                                  f"try fewer n_inner_steps")
        return curve[:, -1]

    def trace(self, x_support, y_support, x_query, y_query, *, n_inner_steps=None, gates=None) -> MetaLSTMTrace:
        """Adapt to one episode and record, after every step, the mean input and forget gate of
        each layer, the support and query loss, and the query predictions."""
        self._check_fitted()
        gates = self._check_gates(gates)
        n_steps = self._steps(n_inner_steps)
        self._check_episode(x_support, y_support, x_query, y_query)
        groups = _layer_groups(self._shapes)
        input_gates, forget_gates, cells = [], [], [self.meta_.c0.detach()]

        def record(cell, forget, input_gate):
            cells.append(cell.detach())
            forget_gates.append([float(forget[index].mean()) for _, index in groups])
            input_gates.append([float(input_gate[index].mean()) for _, index in groups])

        with torch.no_grad():
            self._episode(x_support, y_support, n_steps=n_steps, gates=gates, on_step=record)
        scores = score_steps(self.model_, [_unflatten(c, self._shapes) for c in cells],
                             x_support, y_support, x_query, y_query)
        n_layers = len(groups)
        return MetaLSTMTrace(tuple(name for name, _ in groups),
                             np.array(input_gates, dtype=float).reshape(-1, n_layers),
                             np.array(forget_gates, dtype=float).reshape(-1, n_layers), scores)

    # -- weights ---------------------------------------------------------------------------
    def _state(self) -> Dict[str, torch.Tensor]:
        return {name: t.detach().clone() for name, t in self.meta_.state_dict().items()}

    def _restore(self, state: Dict[str, torch.Tensor]) -> None:
        self._build(0)
        self.meta_.load_state_dict(state)


def tune_sgd_lr(estimator: MetaLSTM, tasks, *, grid=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0), n_episodes: int = 20,
                random_state=0) -> Tuple[float, Dict[float, float]]:
    """The fixed learning rate α that plain SGD from the same start c_0, with the same number of
    steps, does best with: grid search on ``n_episodes`` episodes of ``tasks`` (use training
    classes, never the test ones). Returns ``(best α, {α: mean query accuracy})``."""
    if not isinstance(estimator, MetaLSTM):
        raise ValueError(f"estimator must be a fitted MetaLSTM; got {type(estimator).__name__}")
    estimator._check_fitted()
    if not callable(getattr(tasks, "sample_episodes", None)):
        raise ValueError(f"tasks must be an episode family with sample_episodes; got {type(tasks).__name__}")
    n_episodes = check_int("n_episodes", n_episodes, 1, 10_000)
    try:
        grid = list(grid)
    except TypeError:
        raise ValueError(f"grid must be a sequence of learning rates in (0, 10]; got {grid!r}") from None
    if not grid or len(grid) > 100:
        raise ValueError(f"grid must list 1 to 100 learning rates in (0, 10]; got {len(grid)}")
    grid = [check_real("grid value", a, 0.0, Fn.MAX_INNER_LR, low_inclusive=False) for a in grid]
    batch = tasks.sample_episodes(n_episodes, estimator.n_way, estimator.k_shot, estimator.n_query, random_state)
    results = {}
    for alpha in grid:
        curve = sgd_accuracy_curve(estimator.model_, estimator.initial_params_, batch, inner_lr=alpha,
                                   n_steps=estimator.n_inner_steps)
        results[alpha] = float(curve[:, -1].mean())
    best = max(results, key=lambda a: (results[a], -a))
    return best, results


@dataclass(frozen=True)
class EpisodeComparison:
    """Meta-LSTM, plain SGD from the same start with a fixed rate, and MAML, each adapted to the
    same episode for the same number of steps (lesson 05's dashboard draws it)."""

    meta_lstm: MetaLSTMTrace
    sgd: StepScores
    maml: StepScores
    sgd_lr: float
    maml_lr: float


def compare_on_episode(meta_lstm: MetaLSTM, maml, sgd_lr: float, x_support, y_support, x_query,
                       y_query) -> EpisodeComparison:
    """Adapt all three learners to one episode for ``meta_lstm.n_inner_steps`` steps."""
    if not isinstance(meta_lstm, MetaLSTM):
        raise ValueError(f"meta_lstm must be a fitted MetaLSTM; got {type(meta_lstm).__name__}")
    meta_lstm._check_fitted()
    if not (callable(getattr(maml, "adapt", None)) and hasattr(maml, "model_") and hasattr(maml, "inner_lr")):
        raise ValueError(f"maml must be a fitted MAMLClassifier; got {type(maml).__name__}")
    check_real("sgd_lr", sgd_lr, 0.0, Fn.MAX_INNER_LR, low_inclusive=False)
    n_steps = meta_lstm.n_inner_steps
    trace = meta_lstm.trace(x_support, y_support, x_query, y_query)  # checks the episode once
    sgd_steps = Fn.adapt_trajectory(meta_lstm.model_, meta_lstm.initial_params_, x_support, y_support,
                                    inner_lr=sgd_lr, n_inner_steps=n_steps, loss_fn=cross_entropy, check_inputs=False)
    sgd = score_steps(meta_lstm.model_, sgd_steps, x_support, y_support, x_query, y_query)
    maml_steps = maml.adapt(x_support, y_support, n_inner_steps=n_steps, trajectory=True)
    maml_scores = score_steps(maml.model_, maml_steps, x_support, y_support, x_query, y_query)
    return EpisodeComparison(trace, sgd, maml_scores, float(sgd_lr), float(maml.inner_lr))


# -- a comparison as plain numbers (lesson 05 ships its dashboard's opening episode) ---------------
_SCORE_FIELDS = ("support_loss", "query_loss", "query_accuracy", "query_predictions")


def _scores_to_dict(scores: StepScores) -> Dict[str, list]:
    return {name: np.asarray(getattr(scores, name)).tolist() for name in _SCORE_FIELDS}


def _scores_from_dict(value, what: str) -> StepScores:
    arrays = [np.asarray(value[name], dtype=np.int64 if name == "query_predictions" else float)
              for name in _SCORE_FIELDS]
    n_rows = arrays[0].shape[0]
    if any(a.shape[0] != n_rows for a in arrays) or arrays[3].ndim != 2 or any(a.ndim != 1 for a in arrays[:3]):
        raise ValueError(f"{what} must hold one support loss, query loss, query accuracy and row of query "
                         f"predictions per step; got shapes {[a.shape for a in arrays]}")
    return StepScores(*arrays)


def comparison_to_dict(comparison: EpisodeComparison) -> Dict[str, object]:
    """An :class:`EpisodeComparison` as JSON-ready lists and numbers (:func:`comparison_from_dict`
    inverts it; floats keep float64's digits)."""
    trace = comparison.meta_lstm
    return {"layers": list(trace.layers), "input_gate": trace.input_gate.tolist(),
            "forget_gate": trace.forget_gate.tolist(), "meta_lstm": _scores_to_dict(trace.scores),
            "sgd": _scores_to_dict(comparison.sgd), "maml": _scores_to_dict(comparison.maml),
            "sgd_lr": comparison.sgd_lr, "maml_lr": comparison.maml_lr}


def comparison_from_dict(value) -> EpisodeComparison:
    """The :class:`EpisodeComparison` that :func:`comparison_to_dict` wrote; a dict of another
    shape raises ``ValueError`` saying what is wrong."""
    try:
        layers = tuple(str(name) for name in value["layers"])
        gates = [np.asarray(value[name], dtype=float).reshape(-1, len(layers)) for name in ("input_gate", "forget_gate")]
        trace = MetaLSTMTrace(layers, gates[0], gates[1], _scores_from_dict(value["meta_lstm"], "meta_lstm"))
        comparison = EpisodeComparison(trace, _scores_from_dict(value["sgd"], "sgd"),
                                       _scores_from_dict(value["maml"], "maml"),
                                       float(value["sgd_lr"]), float(value["maml_lr"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"value must be a comparison written by comparison_to_dict; {error}") from error
    n_steps = trace.input_gate.shape[0]
    if trace.forget_gate.shape[0] != n_steps or any(
            s.support_loss.shape[0] != n_steps + 1 for s in (trace.scores, comparison.sgd, comparison.maml)):
        raise ValueError(f"value must hold {n_steps} steps of gates and {n_steps} + 1 scores per learner")
    return comparison
