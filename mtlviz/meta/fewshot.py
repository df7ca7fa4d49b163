"""Few-shot image classification: MAML on N-way K-shot episodes, and a no-learning reference.

The regression lessons adapt a 1-40-40-1 network to a sinusoid; here the same functions of
:mod:`mtlviz.functional` (one inner loop, one ``vmap`` over the meta-batch) adapt the
:class:`~mtlviz.nets.ConvNet` of Finn et al. (2017) to a new set of characters from a handful
of drawings, with the cross-entropy loss. Scores over many episodes: :mod:`mtlviz.evaluation`.

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017 (Omniglot: 5-way 98.7% 1-shot, 99.9% 5-shot).
"""
from __future__ import annotations

import functools
from typing import Dict, Iterator

import torch

from .. import functional as Fn
from .._base import EpisodicEstimator, check_episodes
from .._validation import DivergenceError, check_bool, check_int, check_random_state, check_real, draw_seed
from ..data.glyphs import EpisodeBatch
from ..evaluation import sgd_curve_and_finite
from ..nets import ConvNet, cross_entropy
from .maml import outer_step

__all__ = ["MAMLClassifier", "PixelNearestNeighbour"]


class MAMLClassifier(EpisodicEstimator):
    """MAML for N-way K-shot image classification with a small conv net.

    Each outer step draws ``meta_batch_size`` episodes, adapts θ to each episode's support images
    with ``n_inner_steps`` steps θ' = θ − α∇θL (cross-entropy), and moves θ by Adam (step β) down
    the mean query loss. At test time θ is adapted with ``n_test_inner_steps`` steps.

    Parameters
    ----------
    n_way, k_shot, n_query : int, default 5, 1, 5
        Classes per episode in [2, 20]; support and query images per class in training, in [1, 19].
    channels : int, default 32
        Filters per conv layer, in [1, 256].
    image_size : int, default 20
        Side of the input images, in [8, 64].
    inner_lr : float, default 0.4
        α, in [0, 10].
    outer_lr : float, default 1e-3
        β, in (0, 1].
    n_inner_steps : int, default 1
        Inner steps in training, in [0, 100].
    n_test_inner_steps : int, default 3
        Inner steps when adapting to a test episode, in [0, 100].
    meta_batch_size : int, default 8
        Episodes per outer step, in [1, 1000].
    n_outer_steps : int, default 2000
        Outer steps that :meth:`fit` runs.
    first_order : bool, default False
        First-order MAML.
    random_state : int, torch.Generator or None
        Seeds θ's initialisation and the episode sampling.
    """

    _kind = "maml-classifier"
    _step_sizes = (("inner_lr", "α"), ("outer_lr", "β"))

    def __init__(self, *, n_way: int = 5, k_shot: int = 1, n_query: int = 5, channels: int = 32,
                 image_size: int = 20, inner_lr: float = 0.4, outer_lr: float = 1e-3, n_inner_steps: int = 1,
                 n_test_inner_steps: int = 3, meta_batch_size: int = 8, n_outer_steps: int = 2000,
                 first_order: bool = False, random_state=None):
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.channels = channels
        self.image_size = image_size
        self.inner_lr = inner_lr
        self.outer_lr = outer_lr
        self.n_inner_steps = n_inner_steps
        self.n_test_inner_steps = n_test_inner_steps
        self.meta_batch_size = meta_batch_size
        self.n_outer_steps = n_outer_steps
        self.first_order = first_order
        self.random_state = random_state

    def _validate(self):
        self._validate_episode_shape()
        check_real("inner_lr", self.inner_lr, 0.0, Fn.MAX_INNER_LR)
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_int("n_inner_steps", self.n_inner_steps, 0, Fn.MAX_INNER_STEPS)
        check_int("n_test_inner_steps", self.n_test_inner_steps, 0, Fn.MAX_INNER_STEPS)
        check_int("meta_batch_size", self.meta_batch_size, 1, 1000)
        check_int("n_outer_steps", self.n_outer_steps, 0, 10_000_000)
        check_bool("first_order", self.first_order)

    def _build_model(self, seed: int) -> ConvNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ConvNet(self.n_way, self.channels, self.image_size)

    # -- training --------------------------------------------------------------------------
    def _training_steps(self, tasks) -> Iterator[float]:
        """One outer step per iteration (the regression estimators' ``outer_step``, cross-entropy)."""
        self._check_tasks(tasks)
        generator = check_random_state(self.random_state)
        self.model_ = self._build_model(draw_seed(generator))
        self.params_ = Fn.get_params(self.model_, requires_grad=True)
        optimizer = torch.optim.Adam(self.params_.values(), lr=self.outer_lr)
        value_and_grad = self._meta_value_and_grad()
        for _ in range(self.n_outer_steps):
            batch = tasks.sample_episodes(self.meta_batch_size, self.n_way, self.k_shot, self.n_query, generator)
            yield outer_step(self.model_, self.params_, optimizer, batch, inner_lr=self.inner_lr,
                             n_inner_steps=self.n_inner_steps, first_order=self.first_order,
                             value_and_grad=value_and_grad)

    def _meta_value_and_grad(self):
        """The meta-loss and its gradient for :func:`~mtlviz.meta.maml.outer_step` (MAML's; ANIL's
        subclass adapts only the head)."""
        return functools.partial(Fn.meta_value_and_grad, loss_fn=cross_entropy)

    # -- using θ ---------------------------------------------------------------------------
    def _steps(self, n_inner_steps):
        n = self.n_test_inner_steps if n_inner_steps is None else n_inner_steps
        return check_int("n_inner_steps", n, 0, Fn.MAX_INNER_STEPS)

    def adapt(self, x_support, y_support, *, n_inner_steps=None, trajectory=False):
        """Adapt θ to one episode's support images ``(N·K, 1, S, S)`` and labels ``(N·K,)``.

        Returns θ' (a dict of tensors), or with ``trajectory=True`` the list ``[θ, θ'₁, …, θ'ₙ]``.
        θ' NaN or infinite raises :class:`~mtlviz.DivergenceError` with the α to try.
        """
        self._check_fitted()
        check_bool("trajectory", trajectory)
        n_steps = self._steps(n_inner_steps)
        self._check_images(self.model_, self.params_, x_support, y_support)
        steps = Fn.adapt_trajectory(self.model_, self.params_, x_support, y_support, inner_lr=self.inner_lr,
                                    n_inner_steps=n_steps, loss_fn=cross_entropy, check_inputs=False)
        if not Fn._all_finite(steps[-1].values()):
            raise Fn.divergence_error("adapt", self.model_, self.params_, x_support, y_support,
                                      inner_lr=self.inner_lr, n_inner_steps=n_steps, loss_fn=cross_entropy)
        return steps if trajectory else steps[-1]

    def predict(self, x, params=None) -> torch.Tensor:
        """Class labels for images ``(n, 1, S, S)``, with θ or the given adapted ``params``.

        Batch norm normalises with the statistics of ``x`` itself, as in MAML's evaluation, so
        predict a whole query set at once rather than one image at a time.
        """
        self._check_fitted()
        params = self.params_ if params is None else params
        self._check_images(self.model_, params, x, None, x_name="x")
        with torch.no_grad():
            logits = Fn.forward(self.model_, params, x)
        if not bool(torch.isfinite(logits).all()):
            raise DivergenceError("predict gave NaN or infinite logits: x is too large for this network")
        return logits.argmax(-1)

    def accuracy_curve(self, batch: EpisodeBatch, *, n_inner_steps=None) -> torch.Tensor:
        """Query accuracy of every episode of ``batch`` after 0…n inner steps, ``(T, n + 1)`` (a
        curve: diverged episodes are not an error here; :meth:`score` raises)."""
        return self._curve(batch, n_inner_steps)[0]

    def _curve(self, batch, n_inner_steps):
        self._check_fitted()
        check_episodes(batch, self.n_way, self.image_size)
        return sgd_curve_and_finite(self.model_, self.params_, batch, self.inner_lr, self._steps(n_inner_steps))

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode after the test-time adaptation, ``(T,)``; an adaptation
        that diverged (NaN or infinite logits) raises :class:`~mtlviz.DivergenceError`."""
        curve, finite = self._curve(batch, None)
        if not bool(finite.all()):
            raise Fn.divergence_error("score", self.model_, self.params_, batch.x_support, batch.y_support,
                                      inner_lr=self.inner_lr, n_inner_steps=self.n_test_inner_steps,
                                      loss_fn=cross_entropy, batched=True)
        return curve[:, -1]

    # -- weights ---------------------------------------------------------------------------
    def _state(self) -> Dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.params_.items()}

    def _restore(self, params: Dict[str, torch.Tensor]) -> None:
        self.model_ = self._build_model(0)
        expected = {name: tuple(p.shape) for name, p in self.model_.named_parameters()}
        found = {name: tuple(t.shape) for name, t in params.items()}
        if expected != found:
            raise ValueError(f"parameter shapes {found} differ from the network's {expected}")
        self.params_ = {name: t.float().requires_grad_(True) for name, t in params.items()}



class PixelNearestNeighbour:
    """The no-learning reference: each query image takes the label of the support image
    nearest to it in raw pixels (Euclidean). It tells how hard the episodes are."""

    def predict(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """The label of the nearest support image (in pixels) for each query image of one
        episode, ``(Q,)``; images ``(n, 1, S, S)``, labels ``(N·K,)``."""
        nearest = torch.cdist(x_query.flatten(1), x_support.flatten(1)).argmin(-1)
        return y_support[nearest]

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode, ``(T,)``."""
        check_episodes(batch)
        support, query = batch.x_support.flatten(2), batch.x_query.flatten(2)
        nearest = torch.cdist(query, support).argmin(-1)  # (T, Q) index of the closest support image
        predicted = torch.gather(batch.y_support, 1, nearest)
        return (predicted == batch.y_query).float().mean(-1)
