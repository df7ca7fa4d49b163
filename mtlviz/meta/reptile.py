"""First-order meta-learning on regression tasks: first-order MAML and Reptile.

Both are :class:`~mtlviz.meta.maml.GradientAdaptedRegressor` s, so they share MAML's contract
(``fit``/``fit_iter``/``adapt``/``trace_adaptation``/``score``/``save``/``load``/``get_params``/
``set_params``) and its test-time adaptation θ' = θ − α∇θL. They differ only in how θ is trained,
and both train on the package's one inner loop (:func:`mtlviz.functional.adapt_steps`):

- :class:`FOMAML` is :class:`~mtlviz.meta.maml.MAML` with ``first_order=True`` fixed: the
  meta-gradient is Σᵢ ∇L_Tᵢ(θ'ᵢ) on the query sets, taken at θ'ᵢ as if ∂θ'ᵢ/∂θ = I. The class
  exists so that a weights file says which algorithm made it ("fomaml", not "maml") and
  ``first_order`` cannot be switched off by ``set_params``.
- :class:`Reptile` runs ``n_inner_steps`` plain SGD steps on each task's points
  (:func:`mtlviz.functional.reptile_direction`) and moves θ towards the adapted parameters:
  θ ← θ + ε · (1/N) Σᵢ (θ̃ᵢ − θ). There is no support/query split and no gradient through the
  inner loop.

References
----------
Nichol, Achiam & Schulman, "On First-Order Meta-Learning Algorithms", arXiv:1803.02999, 2018
(algorithm 2, batched Reptile; section 5 for why Reptile and FOMAML work). Finn, Abbeel & Levine,
ICML 2017, section 5.2 (first-order approximation). Taught in
``notebooks/09_first_order_and_feature_reuse.ipynb``.
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import nn

from .. import functional as Fn
from .._validation import check_choice, check_int, check_random_state, check_real, draw_seed
from ..nets import cross_entropy
from .fewshot import MAMLClassifier
from .maml import MAML, GradientAdaptedRegressor

__all__ = ["FOMAML", "Reptile", "ReptileClassifier", "FIRST_ORDER_REGENERATE_COMMAND"]

FIRST_ORDER_REGENERATE_COMMAND = "python -m mtlviz.pretrained.train_first_order"


class FOMAML(MAML):
    """First-order MAML: :class:`~mtlviz.MAML` with ``first_order=True``, always.

    Same hyperparameters as :class:`~mtlviz.MAML` except ``first_order``, which this class fixes
    (``set_params(first_order=...)`` is refused as an unknown hyperparameter). The training loop,
    the inner loop and test-time adaptation are MAML's; only the meta-gradient drops the
    second-order term: ∇θ Σᵢ L_Tᵢ(θ'ᵢ) is replaced by Σᵢ ∇L_Tᵢ evaluated at θ'ᵢ.

    References
    ----------
    Finn, Abbeel & Levine, ICML 2017, section 5.2; Nichol, Achiam & Schulman 2018, section 2.
    """

    _kind = "fomaml"
    _regenerate_command = FIRST_ORDER_REGENERATE_COMMAND

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
        compile: bool = False,
        outer_lr_schedule: str = "constant",
        random_state=None,
    ):
        super().__init__(model, inner_lr=inner_lr, outer_lr=outer_lr, n_inner_steps=n_inner_steps,
                         meta_batch_size=meta_batch_size, n_outer_steps=n_outer_steps, k_shot=k_shot,
                         k_query=k_query, first_order=True, compile=compile, outer_lr_schedule=outer_lr_schedule,
                         random_state=random_state)


class Reptile(GradientAdaptedRegressor):
    """Reptile: move θ towards the parameters that a few SGD steps reach on each task.

    Each outer step draws ``meta_batch_size`` tasks of ``k_shot + k_query`` points (Reptile does
    not split a task: the inner loop uses all of them), runs ``n_inner_steps`` SGD steps of size
    α on each (θ̃ᵢ), and takes the outer step θ ← θ + ε · (1/N) Σᵢ (θ̃ᵢ − θ), with ε the
    ``outer_lr``, decayed along a cosine when ``outer_lr_schedule="cosine"`` (Nichol et al.
    anneal it linearly). With ``n_inner_steps=1`` this is joint training on the pooled tasks
    (the direction is −α(1/N)Σᵢ∇L_Tᵢ(θ)); from two steps on it gains MAML-like terms.

    Parameters
    ----------
    model : nn.Module, optional
        The architecture f_θ (default the 1-40-40-1 ReLU regressor).
    inner_lr : float, default 0.01
        α, the inner SGD step, in [0, 10]; also the default of :meth:`adapt`.
    outer_lr : float, default 1.0
        ε, the fraction of the way from θ to the tasks' mean adapted parameters, in (0, 1].
    n_inner_steps : int, default 5
        Inner steps in training (must be at least 1) and the default for :meth:`adapt`, in [1, 100].
    meta_batch_size : int, default 25
        Tasks per outer step, in [1, 10000].
    n_outer_steps : int, default 1000
        Outer steps that :meth:`fit` runs.
    k_shot, k_query : int, default 10
        Points per training task: Reptile adapts on all ``k_shot + k_query`` of them.
    outer_lr_schedule : {"constant", "cosine"}, default "constant"
        ε throughout, or ε decayed along a half cosine to 0.
    random_state : int, torch.Generator or None
        Seeds the initial θ and the task sampling.

    Attributes
    ----------
    model_, params_, history_ :
        As :class:`~mtlviz.MAML`'s; ``history_`` holds the mean support loss of θ before each
        outer step (Reptile has no query loss).

    References
    ----------
    Nichol, Achiam & Schulman, "On First-Order Meta-Learning Algorithms", arXiv:1803.02999, 2018,
    algorithm 2.
    """

    _kind = "reptile"
    _regenerate_command = FIRST_ORDER_REGENERATE_COMMAND
    _step_sizes = (("inner_lr", "α"), ("outer_lr", "ε"))

    def __init__(
        self,
        model: Optional[nn.Module] = None,
        *,
        inner_lr: float = 0.01,
        outer_lr: float = 1.0,
        n_inner_steps: int = 5,
        meta_batch_size: int = 25,
        n_outer_steps: int = 1000,
        k_shot: int = 10,
        k_query: int = 10,
        outer_lr_schedule: str = "constant",
        random_state=None,
    ):
        super().__init__(model, inner_lr=inner_lr, outer_lr=outer_lr, n_inner_steps=n_inner_steps,
                         meta_batch_size=meta_batch_size, n_outer_steps=n_outer_steps, k_shot=k_shot,
                         k_query=k_query, first_order=True, compile=False, outer_lr_schedule=outer_lr_schedule,
                         random_state=random_state)
        del self.first_order, self.compile  # not hyperparameters of Reptile (class attributes below)

    first_order = True  # Reptile never differentiates through the inner loop
    compile = False

    def _validate(self):
        super()._validate()
        check_int("n_inner_steps", self.n_inner_steps, 1, Fn.MAX_INNER_STEPS)
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_choice("outer_lr_schedule", self.outer_lr_schedule, ("constant", "cosine"))

    def _training_steps(self, tasks) -> Iterator[float]:
        """One Reptile step per iteration: θ ← θ + ε_t · (1/N) Σᵢ (θ̃ᵢ − θ)."""
        if not hasattr(tasks, "sample_batch"):
            raise ValueError(f"tasks must be a task family with a sample_batch method; got {type(tasks).__name__}")
        generator = check_random_state(self.random_state)
        self.model_ = self._init_model(draw_seed(generator))
        self.params_ = Fn.get_params(self.model_, requires_grad=True)
        total = max(self.n_outer_steps, 1)
        for step in range(self.n_outer_steps):
            batch = tasks.sample_batch(self.meta_batch_size, self.k_shot, self.k_query, generator)
            x_all = torch.cat([batch.x_support, batch.x_query], 1)  # (N, K + Q, 1): Reptile does not split
            y_all = torch.cat([batch.y_support, batch.y_query], 1)
            with torch.no_grad():
                loss = float(((Fn.forward(self.model_, self.params_, x_all) - y_all) ** 2).mean())
            direction = Fn.reptile_direction(self.model_, self.params_, x_all, y_all, inner_lr=self.inner_lr,
                                             n_inner_steps=self.n_inner_steps)  # (1/N) Σᵢ (θ̃ᵢ − θ)
            epsilon = self.outer_lr
            if self.outer_lr_schedule == "cosine":  # ε_t = ε · (1 + cos(π t / T)) / 2
                epsilon = self.outer_lr * 0.5 * (1.0 + torch.cos(torch.tensor(torch.pi * step / total)).item())
            with torch.no_grad():
                for name, p in self.params_.items():
                    p.add_(direction[name], alpha=epsilon)  # θ ← θ + ε (θ̃ − θ)
            yield loss


class ReptileClassifier(MAMLClassifier):
    """Reptile for N-way K-shot images: :class:`~mtlviz.meta.fewshot.MAMLClassifier`'s network,
    episodes, test-time adaptation (``n_test_inner_steps`` steps of α on the support set), scoring
    and weights, trained by Reptile's outer step instead of MAML's.

    Each outer step draws ``meta_batch_size`` episodes, runs ``n_inner_steps`` SGD steps of α on all
    ``k_shot + n_query`` images of each (Reptile does not split an episode;
    :func:`mtlviz.functional.reptile_direction`, the package's one inner loop, first order) and moves
    θ ← θ + ε · (1/N) Σᵢ (θ̃ᵢ − θ), ε being ``outer_lr`` decayed linearly to 0 over the run as
    Nichol et al. anneal it. ``first_order`` is ignored (Reptile never differentiates through the
    inner loop).

    References
    ----------
    Nichol, Achiam & Schulman, arXiv:1803.02999, 2018, algorithm 2 (Omniglot: 5 inner steps, ε = 1
    annealed linearly; 5-way 1-shot 97.68% with the query set normalised together).
    """

    _kind = "reptile-classifier"
    _regenerate_command = "python -m mtlviz.pretrained.train_first_order_glyphs"
    _step_sizes = (("inner_lr", "α"), ("outer_lr", "ε"))

    def _training_steps(self, tasks) -> Iterator[float]:
        self._check_tasks(tasks)
        generator = check_random_state(self.random_state)
        self.model_ = self._build_model(draw_seed(generator))
        self.params_ = Fn.get_params(self.model_, requires_grad=True)
        total = max(self.n_outer_steps, 1)
        for step in range(self.n_outer_steps):
            batch = tasks.sample_episodes(self.meta_batch_size, self.n_way, self.k_shot, self.n_query, generator)
            x_all = torch.cat([batch.x_support, batch.x_query], 1)  # (N, N·(K + Q), 1, S, S): no split
            y_all = torch.cat([batch.y_support, batch.y_query], 1)
            with torch.no_grad():
                loss = float(cross_entropy(Fn.forward(self.model_, self.params_, x_all.flatten(0, 1)), y_all.flatten()))
            direction = Fn.reptile_direction(self.model_, self.params_, x_all, y_all, inner_lr=self.inner_lr,
                                             n_inner_steps=self.n_inner_steps, loss_fn=cross_entropy)
            epsilon = self.outer_lr * (1.0 - step / total)  # ε annealed linearly to 0
            with torch.no_grad():
                for name, p in self.params_.items():
                    p.add_(direction[name], alpha=epsilon)  # θ ← θ + ε (θ̃ − θ)
            yield loss
