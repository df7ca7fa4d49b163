"""MAML on regression tasks, and the pretrain-then-fine-tune baseline it is compared with.

- :func:`outer_step`: one outer step of MAML, the loop body every estimator runs (lesson 04
  shows it beside the seed's TensorFlow snippet);
- :class:`GradientAdaptedRegressor`: what the two estimators share: θ, a training loop on
  :func:`outer_step`, and test-time adaptation θ' = θ − α∇θL (``adapt``, ``predict``, ``score``,
  ``trace_adaptation``);
- :class:`MAML` (second order, or first order with ``first_order=True``);
- :class:`JointTraining`: one network pretrained on all tasks pooled (MAML's objective with
  no inner step), then fine-tuned by the same inner steps.

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017 (section 5.1 for the "pretrained" baseline). Taught in
``notebooks/03_maml_inner_and_outer_loop.ipynb``.
"""
from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .. import functional as Fn
from .._base import Estimator, WeightsError
from .._validation import (DivergenceError, check_bool, check_choice, check_int, check_random_state, check_real,
                           draw_seed)
from ..data.tasks import TaskBatch
from ..functional import Params
from ..nets import MLP

__all__ = ["outer_step", "GradientAdaptedRegressor", "AdaptationTrace", "MAML", "JointTraining", "WeightsError",
           "DivergenceError"]


def outer_step(model: nn.Module, params: Params, outer_optimizer: torch.optim.Optimizer, batch: TaskBatch, *,
               inner_lr: float, n_inner_steps: int = 1, first_order: bool = False,
               value_and_grad: Optional[Callable[..., Tuple[torch.Tensor, Params]]] = None) -> float:
    """Move θ one step down the MAML objective of one meta-batch; return the meta-loss.

    The seed's ``maml(model, x, y, inner_lr, outer_lr)`` (lesson 04), corrected:

    - the adapted parameters θ'ᵢ are a dict of tensors, evaluated with ``functional.forward``
      (the seed calls its list of tensors as if it were a model);
    - each task adapts on its support set and is scored on its *query* set (the seed uses the
      same ``x, y`` twice);
    - the loss sums (averages) over a meta-batch of tasks (the seed takes one);
    - ``outer_optimizer`` exists, built by the caller with ``lr=outer_lr`` (β); the seed's
      ``optimizer`` is undefined and its ``outer_lr`` unused.

    ``value_and_grad`` computes the meta-loss and its gradient: :func:`functional.meta_value_and_grad`
    by default, or the compiled one of :func:`functional.compile_meta_value_and_grad`.
    """
    value_and_grad = Fn.meta_value_and_grad if value_and_grad is None else value_and_grad
    # (1/N) Σᵢ L_Tᵢ(θ'ᵢ) on the query sets, and ∇θ through the inner update (second order unless first_order)
    loss, grads = value_and_grad(model, params, *batch.data, inner_lr=inner_lr, n_inner_steps=n_inner_steps,
                                 first_order=first_order)
    for name, p in params.items():  # the seed's optimizer.apply_gradients(zip(grads, variables))
        p.grad = grads[name]
    outer_optimizer.step()  # θ ← θ − β · Adam(∇θ)
    return float(loss)


REGENERATE_COMMAND = "python -m mtlviz.pretrained.train_sinusoid"
#: How β changes over training: constant, or cosine from β down to 0 at the last outer step.
OUTER_LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class AdaptationTrace:
    """What happened while adapting to one task, step by step (for plots and messages).

    predictions : (n + 1, G) array, f at ``x_eval`` after 0…n inner steps
    eval_losses, support_losses : (n + 1,) arrays, MSE on the evaluation (query) and support sets
    diverged : bool, the support loss exploded or became non-finite
    stable_inner_lr : float or None, when diverged, the largest α (within 5%) for which the same
        number of steps does not diverge on this support set
    """

    predictions: np.ndarray
    eval_losses: np.ndarray
    support_losses: np.ndarray
    diverged: bool
    stable_inner_lr: Optional[float]

    def divergence_message(self) -> str:
        """A one-line message for the class, or "" when adaptation did not diverge."""
        if not self.diverged:
            return ""
        return f"diverged: {Fn.inner_lr_hint(self.stable_inner_lr)}"  # the hint DivergenceError gives too


class GradientAdaptedRegressor(Estimator):
    """Base for MAML and the joint-training baseline: learn θ, adapt by θ' = θ − α∇θL.

    Subclasses set ``_train_inner_steps`` (inner steps used in the training objective) and
    ``_train_first_order``. Hyperparameters are stored by ``__init__`` untouched and validated in
    ``fit``; learned attributes end in ``_``.
    """

    _kind = "base"
    _regenerate_command = REGENERATE_COMMAND
    _not_stored = ("model",)
    _step_sizes = (("inner_lr", "α"), ("outer_lr", "β"))

    def __init__(
        self,
        model: Optional[nn.Module] = None,
        *,
        inner_lr: float = 0.01,
        outer_lr: float = 1e-3,
        n_inner_steps: int = 1,
        meta_batch_size: int = 25,
        n_outer_steps: int = 1000,
        k_shot: int = 10,
        k_query: int = 10,
        first_order: bool = False,
        compile: bool = False,
        outer_lr_schedule: str = "constant",
        multi_step_loss: bool = False,
        random_state=None,
    ):
        self.model = model
        self.inner_lr = inner_lr
        self.outer_lr = outer_lr
        self.n_inner_steps = n_inner_steps
        self.meta_batch_size = meta_batch_size
        self.n_outer_steps = n_outer_steps
        self.k_shot = k_shot
        self.k_query = k_query
        self.first_order = first_order
        self.compile = compile
        self.outer_lr_schedule = outer_lr_schedule
        self.multi_step_loss = multi_step_loss
        self.random_state = random_state

    def _validate(self):
        check_real("inner_lr", self.inner_lr, 0.0, Fn.MAX_INNER_LR)
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_int("n_inner_steps", self.n_inner_steps, 0, Fn.MAX_INNER_STEPS)
        check_int("meta_batch_size", self.meta_batch_size, 1, 10_000)
        check_int("n_outer_steps", self.n_outer_steps, 0, 10_000_000)
        check_int("k_shot", self.k_shot, 1, 10_000)
        check_int("k_query", self.k_query, 1, 10_000)
        check_bool("first_order", self.first_order)
        check_bool("compile", self.compile)
        check_choice("outer_lr_schedule", self.outer_lr_schedule, OUTER_LR_SCHEDULES)
        check_bool("multi_step_loss", self.multi_step_loss)
        if self.model is not None and not isinstance(self.model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module or None; got {type(self.model).__name__}")

    @property
    def _train_inner_steps(self) -> int:
        return self.n_inner_steps

    # -- training --------------------------------------------------------------------------
    def _init_model(self, seed: int) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.model is None:
                return MLP((1, 40, 40, 1))
            model = copy.deepcopy(self.model)
            for module in model.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            return model

    def fit(self, tasks) -> "GradientAdaptedRegressor":
        """Meta-train on tasks drawn from the family ``tasks``; returns ``self``."""
        return super().fit(tasks)

    def _training_steps(self, tasks) -> Iterator[float]:
        """One outer step per iteration: θ, then ``outer_step`` on a fresh meta-batch."""
        if not hasattr(tasks, "sample_batch"):
            raise ValueError(f"tasks must be a task family with a sample_batch method; got {type(tasks).__name__}")
        generator = check_random_state(self.random_state)
        self.model_ = self._init_model(draw_seed(generator))
        self.params_ = Fn.get_params(self.model_, requires_grad=True)
        # β, the outer step; fused: one kernel per tensor (4x cheaper than the default for this tiny net)
        optimizer = torch.optim.Adam(self.params_.values(), lr=self.outer_lr, fused=True)
        schedule = None
        if self.outer_lr_schedule == "cosine":  # β_t = β · (1 + cos(π t / T)) / 2
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(self.n_outer_steps, 1))
        # The fastest way to compute meta_loss and its gradient (same numbers, checked in tests).
        checked = Fn.compile_meta_value_and_grad() if self.compile else Fn.meta_value_and_grad
        if self.multi_step_loss:  # MAML++'s objective: the query loss averaged over the inner steps
            checked = functools.partial(checked, multi_step_loss=True)
        # The first batch is checked (shapes, finiteness); later ones come from the same sampler
        # with the same sizes, so the checks are skipped (50 µs of a 0.33 ms compiled step).
        unchecked = functools.partial(checked, check_inputs=False)
        for step in range(1, self.n_outer_steps + 1):
            batch = tasks.sample_batch(self.meta_batch_size, self.k_shot, self.k_query, generator)
            value = outer_step(self.model_, self.params_, optimizer, batch, inner_lr=self.inner_lr,
                               n_inner_steps=self._train_inner_steps, first_order=self.first_order,
                               value_and_grad=checked if step == 1 else unchecked)
            if schedule is not None:
                schedule.step()
            yield value

    # -- using the learned θ ---------------------------------------------------------------
    def _check_xy(self, x, y, x_name, y_name):
        """The boundary check of one task's points against the fitted network (once per call)."""
        Fn.check_task(self.model_, self.params_, x, y, x_name=x_name, y_name=y_name)

    def _adapt_args(self, inner_lr, n_inner_steps):
        inner_lr = self.inner_lr if inner_lr is None else inner_lr
        n_inner_steps = self.n_inner_steps if n_inner_steps is None else n_inner_steps
        check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
        check_int("n_inner_steps", n_inner_steps, 0, Fn.MAX_INNER_STEPS)
        return inner_lr, n_inner_steps

    def adapt(self, x_support, y_support, *, inner_lr=None, n_inner_steps=None, trajectory=False):
        """Adapt the learned θ to one task's support set (``(K, 1)`` tensors).

        Returns θ' (a dict of tensors), or with ``trajectory=True`` the list ``[θ, θ'₁, …, θ'ₙ]``.
        ``inner_lr`` and ``n_inner_steps`` default to the estimator's. θ' NaN or infinite (α too
        large for this task) raises :class:`~mtlviz.DivergenceError` with the α to try;
        :meth:`trace_adaptation` flags it instead.
        """
        self._check_fitted()
        check_bool("trajectory", trajectory)
        inner_lr, n_inner_steps = self._adapt_args(inner_lr, n_inner_steps)
        self._check_xy(x_support, y_support, "x_support", "y_support")
        steps = self._adapt_steps(x_support, y_support, inner_lr, n_inner_steps)
        if not Fn._all_finite(steps[-1].values()):
            raise Fn.divergence_error("adapt", self.model_, self.params_, x_support, y_support, inner_lr=inner_lr,
                                      n_inner_steps=n_inner_steps)
        return steps if trajectory else steps[-1]

    def _adapt_steps(self, x_support, y_support, inner_lr, n_inner_steps):
        return Fn.adapt_trajectory(self.model_, self.params_, x_support, y_support,
                                   inner_lr=inner_lr, n_inner_steps=n_inner_steps, check_inputs=False)

    def trace_adaptation(self, x_support, y_support, x_eval, y_eval, *, inner_lr=None,
                         n_inner_steps=None) -> AdaptationTrace:
        """Adapt to ``(x_support, y_support)`` and record predictions and losses after every step
        on the evaluation points ``(x_eval, y_eval)``; detect divergence instead of failing (the
        dashboards show :meth:`AdaptationTrace.divergence_message` as a warning)."""
        self._check_fitted()
        inner_lr, n_inner_steps = self._adapt_args(inner_lr, n_inner_steps)
        self._check_xy(x_support, y_support, "x_support", "y_support")
        Fn.check_task(self.model_, self.params_, x_eval, y_eval, x_name="x_eval", y_name="y_eval")
        steps = self._adapt_steps(x_support, y_support, inner_lr, n_inner_steps)
        with torch.no_grad():
            predictions = torch.stack([Fn.forward(self.model_, p, x_eval)[:, 0] for p in steps])
            eval_losses = ((predictions - y_eval[:, 0]) ** 2).mean(1)
            support_losses = torch.stack([Fn.task_loss(self.model_, p, x_support, y_support) for p in steps])
        diverged = Fn.has_diverged(support_losses) or not bool(torch.isfinite(predictions).all())
        stable = None
        if diverged and inner_lr > 0 and n_inner_steps > 0:
            stable = Fn.largest_stable_inner_lr(self.model_, self.params_, x_support, y_support,
                                                n_inner_steps=n_inner_steps, high=inner_lr, check_inputs=False)
        return AdaptationTrace(predictions.numpy(), eval_losses.numpy(), support_losses.numpy(), diverged, stable)

    def predict(self, x, params=None) -> torch.Tensor:
        """f_θ(x) for ``(n, 1)`` inputs, with the learned θ or the given (adapted) ``params``.

        A NaN or infinite prediction (inputs too large for the network) raises
        :class:`~mtlviz.DivergenceError`."""
        self._check_fitted()
        params = self.params_ if params is None else params
        Fn.check_task(self.model_, params, x, None, x_name="x")
        with torch.no_grad():
            prediction = Fn.forward(self.model_, params, x)
        if not bool(torch.isfinite(prediction).all()):
            raise DivergenceError("predict gave NaN or infinite values: x is too large for this network")
        return prediction

    def query_loss_curve(self, batch: TaskBatch, *, inner_lr=None, n_inner_steps=None) -> torch.Tensor:
        """Query MSE of each task of ``batch`` after 0…n inner steps, shape ``(N, n + 1)``."""
        self._check_fitted()
        if not isinstance(batch, TaskBatch):
            raise ValueError(f"batch must be a TaskBatch; got {type(batch).__name__}")
        inner_lr, n_inner_steps = self._adapt_args(inner_lr, n_inner_steps)
        return Fn.query_loss_curve(self.model_, self.params_, *batch.data,
                                   inner_lr=inner_lr, n_inner_steps=n_inner_steps)

    def score(self, batch: TaskBatch, *, inner_lr=None, n_inner_steps=None) -> float:
        """Minus the mean query MSE after adaptation (greater is better, as in scikit-learn).

        A NaN or infinite score (α too large) raises :class:`~mtlviz.DivergenceError` with the α to try."""
        curve = self.query_loss_curve(batch, inner_lr=inner_lr, n_inner_steps=n_inner_steps)
        score = -float(curve[:, -1].mean())
        if not math.isfinite(score):
            inner_lr, n_inner_steps = self._adapt_args(inner_lr, n_inner_steps)
            raise Fn.divergence_error("score", self.model_, self.params_, batch.x_support, batch.y_support,
                                      inner_lr=inner_lr, n_inner_steps=n_inner_steps, batched=True)
        return score

    # -- weights ---------------------------------------------------------------------------
    def _state(self) -> Dict[str, torch.Tensor]:
        if not isinstance(self.model_, MLP):
            raise ValueError("save supports MLP models only (their sizes are stored to rebuild them)")
        return {name: p.detach().clone() for name, p in self.params_.items()}

    def _extra_state(self) -> Dict[str, object]:
        return {"sizes": list(self.model_.sizes)}

    @classmethod
    def _init_kwargs(cls, state: dict) -> Dict[str, object]:
        if "sizes" not in state:
            raise KeyError("sizes")
        return {"model": MLP(state["sizes"]), **state["hyperparameters"]}

    def _restore(self, params: Dict[str, torch.Tensor]) -> None:
        self.model_ = MLP(self.model.sizes)
        expected = {name: tuple(p.shape) for name, p in self.model_.named_parameters()}
        found = {name: tuple(t.shape) for name, t in params.items()}
        if expected != found:
            raise ValueError(f"the parameters {found} do not fit a {list(self.model.sizes)} network")
        self.params_ = {name: t.float().requires_grad_(True) for name, t in params.items()}


class MAML(GradientAdaptedRegressor):
    """Model-Agnostic Meta-Learning: learn θ such that a few steps θ' = θ − α∇θL fit a new task.

    Each outer step samples ``meta_batch_size`` tasks, adapts θ to each task's ``k_shot``
    support points with ``n_inner_steps`` inner steps of size α (``inner_lr``), and moves θ by
    Adam with step β (``outer_lr``) down the gradient of the summed query losses
    Σᵢ L_Tᵢ(θ'ᵢ). The gradient flows through the inner updates (second order) unless
    ``first_order=True``.

    Parameters
    ----------
    model : nn.Module, optional
        The architecture f_θ; re-initialised from ``random_state``. Default: the 1-40-40-1 ReLU
        regressor of the paper.
    inner_lr : float, default 0.01
        α, in [0, 10].
    outer_lr : float, default 1e-3
        β, Adam's step, in (0, 1].
    n_inner_steps : int, default 1
        Inner steps in training and the default for :meth:`adapt`, in [0, 100].
    meta_batch_size : int, default 25
        Tasks per outer step, in [1, 10000].
    n_outer_steps : int, default 1000
        Outer steps that :meth:`fit` runs.
    k_shot, k_query : int, default 10
        Support and query points per training task.
    first_order : bool, default False
        First-order MAML: ignore the second-order term of the meta-gradient.
    compile : bool, default False
        Compute the meta-gradient under ``torch.compile`` (:func:`mtlviz.functional.compile_meta_value_and_grad`):
        on the sinusoid MLP about 3.5x faster per meta-gradient than the eager batched path (46x
        the plain per-task loop, ``benchmarks/maml_speed.py``) after a first-call compile of
        about 15 s cold; falls back to eager with one warning where compiling fails.
    outer_lr_schedule : {"constant", "cosine"}, default "constant"
        β throughout, or β decayed along a half cosine to 0 at the last outer step (a steadier
        final θ in a short run; ``python -m mtlviz.pretrained.train_sinusoid`` uses it).
    multi_step_loss : bool, default False
        Score each training task by the mean of its query losses after inner steps 1 … n instead
        of after step n only (MAML++'s multi-step loss, Antoniou, Edwards & Storkey, ICLR 2019,
        with equal weights; the same objective when n = 1). A θ trained this way stays stable for
        more steps than it was trained with (``python -m mtlviz.pretrained.train_sinusoid``).
    random_state : int, torch.Generator or None
        Seeds the initial θ and the task sampling.

    Attributes
    ----------
    model_ : nn.Module
        The architecture (its own parameters are not used).
    params_ : dict of str to Tensor
        The meta-learned θ.
    history_ : list of float
        The meta-loss of every outer step.

    Examples
    --------
    >>> from mtlviz import MAML, SinusoidTasks
    >>> maml = MAML(n_outer_steps=10, random_state=0).fit(SinusoidTasks())
    >>> len(maml.history_)
    10
    """

    _kind = "maml"


class JointTraining(GradientAdaptedRegressor):
    """Pretrain one network on all tasks pooled, then fine-tune it on a new task.

    The training objective is Σᵢ L_Tᵢ(θ): MAML's objective with no inner step (α = 0). With
    task families like the sinusoids, whose tasks disagree at every x, it learns roughly their
    average, which fine-tuning from a handful of points struggles to leave. It takes the same
    hyperparameters as :class:`mtlviz.MAML`; ``inner_lr`` and ``n_inner_steps`` only set the
    defaults of :meth:`adapt` (fine-tuning).

    References
    ----------
    Finn, Abbeel & Levine, ICML 2017, section 5.1 ("pretrained" baseline).
    """

    _kind = "joint"

    @property
    def _train_inner_steps(self) -> int:
        return 0
