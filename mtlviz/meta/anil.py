"""Rapid learning or feature reuse? ANIL and what MAML's inner loop changes, layer by layer.

Raghu et al. (2020) asked whether MAML's inner loop learns new features for each task ("rapid
learning") or mostly reuses the features of θ and only re-fits the last layer ("feature reuse").
This module measures it on a fitted glyph MAML (:class:`~mtlviz.meta.fewshot.MAMLClassifier`):

- :func:`layer_changes`: for each layer (the 4 conv blocks and the head), how far the inner loop
  moves its weights, ‖θ'ₗ − θₗ‖ / ‖θₗ‖, and how similar the layer's representation of the query
  images stays, linear CKA between f_θ and f_θ' (1 = the same up to rotation and scale);
- :class:`ANILClassifier`: ANIL meta-trained (Raghu et al.'s algorithm 1): the inner loop adapts
  only the head, the outer loop moves every layer (:func:`anil_meta_loss`); with
  :meth:`ANILClassifier.warm_start` it starts from a pretrained backbone instead of a random θ
  (meta-transfer learning, 元迁移学习, Sun et al. 2019: pretrain, then meta-train);
- :class:`HeadAdapter`: ANIL at test time ("Almost No Inner Loop"): adapt only the head by the
  same θ' = θ − α∇θL, the body frozen. Built from a MAML model (Raghu et al.'s first experiment,
  no training) or from any backbone with a new zero head (the pretrained backbone of lesson 06:
  head adaptation on transferred features, the simplest form of meta-transfer learning, Sun et
  al. 2019).

The head's inner loop is the package's one inner loop (:func:`mtlviz.functional.adapt_steps`)
run on a linear model of the body's features, computed once per episode.

References
----------
Raghu, Raghu, Bengio & Vinyals, "Rapid Learning or Feature Reuse? Towards Understanding the
Effectiveness of MAML", ICLR 2020 (CKA before/after the inner loop; ANIL miniImageNet 46.7% /
61.5%). Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019
(linear CKA). Sun, Liu, Chua & Schiele, "Meta-Transfer Learning for Few-Shot Learning", CVPR 2019.
Taught in ``notebooks/09_first_order_and_feature_reuse.ipynb``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

import numpy as np
import torch
from torch import nn
from torch.func import vmap
from torch.nn import functional as F

from .. import functional as Fn
from .._base import check_episodes
from .._validation import DivergenceError, check_bool, check_int, check_real, check_tensor
from ..data.glyphs import EpisodeBatch
from ..functional import Params
from ..nets import ConvNet, accuracy, cross_entropy
from .fewshot import MAMLClassifier

__all__ = ["linear_cka", "layer_groups", "layer_changes", "LayerChanges", "HeadAdapter", "LinearHead",
           "anil_meta_loss", "anil_meta_value_and_grad", "ANILClassifier"]


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear centred kernel alignment of two representations of the same ``n`` inputs,
    ``(n, p)`` and ``(n, q)``: ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) after centring each column.

    1 when Y is X up to a rotation and an isotropic scale; near 0 for unrelated representations.
    Computed in float64. Kornblith et al. 2019, equation 5 (linear kernel).

    With fewer inputs than features (a conv block's flattened output on a few query images) the
    same value comes from the n×n Gram matrices, ‖YᵀX‖²_F = ⟨XXᵀ, YYᵀ⟩_F and ‖XᵀX‖_F = ‖XXᵀ‖_F,
    instead of p×p ones (lesson 09's dashboard opens on it: 0.26 -> 0.01 CPU-s)."""
    check_tensor("x", x, floating=True)
    check_tensor("y", y, floating=True)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(f"x and y must be (n, p) and (n, q) with the same n ≥ 2; got {tuple(x.shape)} and {tuple(y.shape)}")
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        gram_x, gram_y = x @ x.T, y @ y.T  # (n, n) each
        cross = (gram_x * gram_y).sum()
        norms = gram_x.norm() * gram_y.norm()
    else:
        cross = (y.T @ x).norm() ** 2
        norms = (x.T @ x).norm() * (y.T @ y).norm()
    if float(norms) == 0.0:
        raise ValueError("x and y must vary across the inputs; one of them is constant")
    return float(cross / norms)


def layer_groups(model: ConvNet) -> Dict[str, List[str]]:
    """The layers of a :class:`~mtlviz.nets.ConvNet` and their parameter names, input to output:
    ``{"conv 1": [...], …, "conv 4": [...], "head": ["head.weight", "head.bias"]}``."""
    if not isinstance(model, ConvNet):
        raise ValueError(f"model must be a ConvNet; got {type(model).__name__}")
    groups = {f"conv {i + 1}": [f"convs.{i}.weight", f"convs.{i}.bias", f"norm_weight.{i}", f"norm_bias.{i}"]
              for i in range(model.n_blocks)}
    groups["head"] = ["head.weight", "head.bias"]
    return groups


def _representations(model: ConvNet, params: Params, x: torch.Tensor) -> List[torch.Tensor]:
    """Each layer's output for images ``x``: the conv blocks' (flattened), then the logits.
    A block's output is the features of the same network cut after that block."""
    outputs = []
    for n_blocks in range(1, model.n_blocks + 1):
        cut = ConvNet(model.n_way, model.channels, model.image_size, n_blocks=n_blocks)
        outputs.append(cut.features(params, x))
    outputs.append(model.functional_forward(params, x))
    return outputs


@dataclass(frozen=True)
class LayerChanges:
    """What the inner loop did to each layer, per episode.

    layers : the layer names (input to output)
    relative_change : ``(T, L)`` ‖θ'ₗ − θₗ‖ / ‖θₗ‖
    cka : ``(T, L)`` linear CKA between the layer's output on the query images under θ and θ'
    """

    layers: tuple
    relative_change: np.ndarray
    cka: np.ndarray

    def means(self) -> Dict[str, Dict[str, float]]:
        """``{layer: {"relative_change": mean, "cka": mean}}`` over episodes."""
        return {layer: {"relative_change": float(self.relative_change[:, i].mean()), "cka": float(self.cka[:, i].mean())}
                for i, layer in enumerate(self.layers)}


def layer_changes(model: ConvNet, params: Params, batch: EpisodeBatch, *, inner_lr: float,
                  n_inner_steps: int) -> LayerChanges:
    """Adapt θ to every episode of ``batch`` (``n_inner_steps`` steps of α on its support set,
    as MAML's test time does) and measure, per layer, the relative weight change and the linear
    CKA of the query images' representations before and after (:class:`LayerChanges`).

    An adaptation that becomes NaN or infinite raises :class:`~mtlviz.DivergenceError`."""
    groups = layer_groups(model)
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    check_int("n_inner_steps", n_inner_steps, 1, Fn.MAX_INNER_STEPS)
    check_episodes(batch, model.n_way, model.image_size)
    theta = {name: p.detach() for name, p in params.items()}
    Fn.check_task(model, theta, batch.x_support, batch.y_support, loss_fn=cross_entropy, batched=True)
    changes, similarities = [], []
    for xs, ys, xq, _ in zip(*batch.data):
        adapted = Fn.adapt(model, theta, xs, ys, inner_lr=inner_lr, n_inner_steps=n_inner_steps, first_order=True,
                           loss_fn=cross_entropy, check_inputs=False)
        adapted = {name: p.detach() for name, p in adapted.items()}
        if not Fn._all_finite(adapted.values()):
            raise DivergenceError(f"layer_changes: adaptation diverged at α = {inner_lr:g}; try a smaller α")
        changes.append([float(torch.cat([(adapted[n] - theta[n]).flatten() for n in names]).norm()
                              / torch.cat([theta[n].flatten() for n in names]).norm()) for names in groups.values()])
        with torch.no_grad():
            before, after = _representations(model, theta, xq), _representations(model, adapted, xq)
        similarities.append([linear_cka(b, a) for b, a in zip(before, after)])
    return LayerChanges(tuple(groups), np.array(changes), np.array(similarities))


class LinearHead(nn.Module):
    """The head as a model of its own: logits = W·features + b (``weight``, ``bias``), so that the
    package's inner loop can adapt it on features computed once."""

    def __init__(self, n_features: int, n_way: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_way, n_features))
        self.bias = nn.Parameter(torch.zeros(n_way))

    def functional_forward(self, params: Params, features: torch.Tensor) -> torch.Tensor:
        return F.linear(features, params["weight"], params["bias"])


class HeadAdapter:
    """ANIL at test time: the body of θ frozen, only the head adapted, θ'_head = θ_head − α∇L.

    Parameters
    ----------
    model : ConvNet
        The architecture.
    params : dict of str to Tensor
        θ: body and head (a MAML model's ``params_``, or a backbone with a new head, see
        :meth:`from_backbone`).
    inner_lr : float
        α, in [0, 10].
    n_inner_steps : int
        Head steps per episode, in [0, 100].

    Has ``adapt``, ``predict``, ``accuracy_curve`` and ``episode_accuracy`` like the few-shot
    estimators, so :func:`mtlviz.evaluation.evaluate_episodes` scores it on the same episodes.
    Batch norm uses the statistics of the images given (the query set together), as MAML's
    evaluation does.
    """

    def __init__(self, model: ConvNet, params: Params, *, inner_lr: float, n_inner_steps: int):
        layer_groups(model)  # checks the architecture
        self.model = model
        self.params = {name: p.detach() for name, p in params.items()}
        Fn._check_model_and_params(model, self.params)
        self.inner_lr = check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
        self.n_inner_steps = check_int("n_inner_steps", n_inner_steps, 0, Fn.MAX_INNER_STEPS)
        self.head = LinearHead(model.n_features, model.n_way)

    @classmethod
    def from_maml(cls, maml, *, n_inner_steps: Optional[int] = None) -> "HeadAdapter":
        """ANIL on a fitted :class:`~mtlviz.meta.fewshot.MAMLClassifier`: its θ and α, and its
        test-time steps unless ``n_inner_steps`` is given (Raghu et al.'s first experiment)."""
        maml._check_fitted()
        steps = maml.n_test_inner_steps if n_inner_steps is None else n_inner_steps
        return cls(maml.model_, maml.params_, inner_lr=maml.inner_lr, n_inner_steps=steps)

    @classmethod
    def from_backbone(cls, model: ConvNet, backbone: Params, *, inner_lr: float, n_inner_steps: int) -> "HeadAdapter":
        """Head adaptation on a transferred backbone (the conv blocks of ``backbone``) with a new
        zero head for ``model.n_way`` classes, so every class starts equally likely."""
        head = {"head.weight": torch.zeros_like(model.head.weight), "head.bias": torch.zeros_like(model.head.bias)}
        body = {name: p for name, p in backbone.items() if not name.startswith("head")}
        return cls(model, {**body, **head}, inner_lr=inner_lr, n_inner_steps=n_inner_steps)

    def _head_steps(self, features, y_support, n_steps) -> Iterator[Params]:
        head = {"weight": self.params["head.weight"], "bias": self.params["head.bias"]}
        yield from Fn.adapt_steps(self.head, head, features, y_support, self.inner_lr, n_steps, True, cross_entropy)

    def adapt(self, x_support, y_support, *, trajectory: bool = False):
        """θ with its head adapted to one episode's support set (images ``(n, 1, S, S)``, labels
        ``(n,)``): a full parameter dict whose body is θ's. With ``trajectory=True``, the list
        after 0…n head steps. NaN or infinite raises :class:`~mtlviz.DivergenceError`."""
        check_bool("trajectory", trajectory)
        Fn.check_task(self.model, self.params, x_support, y_support, loss_fn=cross_entropy)
        with torch.no_grad():
            features = self.model.features(self.params, x_support)
        with torch.enable_grad():
            steps = [{**self.params, "head.weight": h["weight"].detach(), "head.bias": h["bias"].detach()}
                     for h in self._head_steps(features, y_support, self.n_inner_steps)]
        if not Fn._all_finite(steps[-1].values()):
            raise DivergenceError(f"adapt diverged: NaN or infinite after {self.n_inner_steps} head steps at "
                                  f"α = {self.inner_lr:g}; try a smaller α")
        return steps if trajectory else steps[-1]

    def predict(self, x, params: Optional[Params] = None) -> torch.Tensor:
        """Class labels for images ``(n, 1, S, S)`` with θ or adapted ``params`` (a whole query set at once)."""
        params = self.params if params is None else params
        Fn.check_task(self.model, params, x, None, x_name="x")
        with torch.no_grad():
            return self.model.functional_forward(params, x).argmax(-1)

    def accuracy_curve(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of every episode after 0…n head steps, ``(T, n + 1)`` (episodes batched
        with ``vmap``; the body's features computed once per episode)."""
        check_episodes(batch, self.model.n_way, self.model.image_size)

        def one_episode(xs, ys, xq, yq):
            support, query = self.model.features(self.params, xs), self.model.features(self.params, xq)
            return torch.stack([accuracy(self.head.functional_forward(h, query), yq)
                                for h in self._head_steps(support, ys, self.n_inner_steps)])

        with torch.enable_grad():
            return vmap(one_episode)(*batch.data).detach()

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode after the head steps, ``(T,)``."""
        return self.accuracy_curve(batch)[:, -1]


# -- ANIL meta-trained ----------------------------------------------------------------------------

def anil_meta_loss(model: ConvNet, params: Params, x_support: torch.Tensor, y_support: torch.Tensor,
                   x_query: torch.Tensor, y_query: torch.Tensor, *, inner_lr: float, n_inner_steps: int = 1,
                   first_order: bool = False, loss_fn=cross_entropy) -> torch.Tensor:
    """ANIL's objective on a meta-batch: (1/N) Σᵢ L_Tᵢ on each episode's query set after the head
    alone took ``n_inner_steps`` steps θ'_head = θ_head − α∇L on the support set's features.

    The body's features are computed once per episode (support and query set each a batch-norm
    batch, as MAML's forward does) and the head is adapted by the package's one inner loop
    (:func:`mtlviz.functional.adapt_steps`) on :class:`LinearHead`. The gradient of the result
    reaches every layer: the head through its inner steps (second order unless ``first_order``),
    the body through both sets' features. Episodes ``(N, ...)`` are batched with ``vmap``."""
    head_model = LinearHead(model.n_features, model.n_way)

    def one_task(xs, ys, xq, yq):
        support, query = model.features(params, xs), model.features(params, xq)  # (N·K, D), (Q, D)
        head = {"weight": params["head.weight"], "bias": params["head.bias"]}
        *_, adapted = Fn.adapt_steps(head_model, head, support, ys, inner_lr, n_inner_steps, first_order, loss_fn)
        return loss_fn(head_model.functional_forward(adapted, query), yq)  # L_Tᵢ(θ'ᵢ) on the query set

    return vmap(one_task)(x_support, y_support, x_query, y_query).mean()


def anil_meta_value_and_grad(model: ConvNet, params: Params, *batch: torch.Tensor, inner_lr: float,
                             n_inner_steps: int = 1, first_order: bool = False, loss_fn=cross_entropy):
    """(loss, ∇θ loss) of :func:`anil_meta_loss`, the contract of
    :func:`mtlviz.functional.meta_value_and_grad` that :func:`mtlviz.meta.maml.outer_step` takes.
    A NaN or infinite loss or gradient raises :class:`~mtlviz.DivergenceError`."""
    loss = anil_meta_loss(model, params, *batch, inner_lr=inner_lr, n_inner_steps=n_inner_steps,
                          first_order=first_order, loss_fn=loss_fn)
    grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
    if not (bool(torch.isfinite(loss)) and Fn._all_finite(grads.values())):
        raise DivergenceError(f"the ANIL meta-loss or its gradient is NaN or infinite at α = {inner_lr:g}; "
                              "try a smaller α (inner_lr) or β (outer_lr)")
    return loss.detach(), grads


class ANILClassifier(MAMLClassifier):
    """ANIL ("Almost No Inner Loop", Raghu et al. 2020, algorithm 1) for N-way K-shot images.

    Everything as :class:`~mtlviz.meta.fewshot.MAMLClassifier` (hyperparameters, episodes, Adam
    outer step β, save/load, scoring), except that the inner loop adapts only the head: in
    training (:func:`anil_meta_loss`, the outer step still moves every layer) and at test time
    (:class:`HeadAdapter`, ``n_test_inner_steps`` head steps of α). :meth:`warm_start` makes the
    training start from a pretrained backbone (meta-transfer learning, Sun et al. 2019).

    References
    ----------
    Raghu, Raghu, Bengio & Vinyals, ICLR 2020 (ANIL: miniImageNet 46.7% / 61.5%, Omniglot 20-way
    1-shot 96.2%). Sun, Liu, Chua & Schiele, "Meta-Transfer Learning for Few-Shot Learning", CVPR
    2019. Taught in ``notebooks/09_first_order_and_feature_reuse.ipynb``.
    """

    _kind = "anil-classifier"
    _regenerate_command = "python -m mtlviz.pretrained.train_anil"

    def warm_start(self, backbone: Params) -> "ANILClassifier":
        """Start the next :meth:`fit` from the conv blocks of ``backbone`` (a dict named like the
        ConvNet's parameters, e.g. lesson 06's pretrained network) and a zero head, instead of a
        random θ; ``None`` goes back to a random θ. Returns ``self``."""
        if backbone is None:
            self._backbone = None
            return self
        if not isinstance(backbone, dict):
            raise ValueError(f"backbone must be a dict of tensors named like the ConvNet's parameters; got "
                             f"{type(backbone).__name__}")
        self._backbone = {name: t.detach().clone() for name, t in backbone.items() if not name.startswith("head")}
        return self

    def _build_model(self, seed: int) -> ConvNet:
        model = super()._build_model(seed)
        backbone = getattr(self, "_backbone", None)
        if backbone is not None:
            own = dict(model.named_parameters())
            body = {name for name in own if not name.startswith("head")}
            if set(backbone) != body or any(tuple(backbone[n].shape) != tuple(own[n].shape) for n in body):
                raise ValueError(f"backbone must hold the conv blocks {sorted(body)} of this network's shapes "
                                 f"(channels={self.channels}, image_size={self.image_size}); got {sorted(backbone)}")
            with torch.no_grad():
                for name, p in own.items():
                    p.copy_(backbone[name] if name in backbone else torch.zeros_like(p))  # a zero head
        return model

    def _meta_value_and_grad(self):
        return anil_meta_value_and_grad

    def _head_adapter(self, n_inner_steps=None) -> HeadAdapter:
        self._check_fitted()
        return HeadAdapter(self.model_, self.params_, inner_lr=self.inner_lr, n_inner_steps=self._steps(n_inner_steps))

    def adapt(self, x_support, y_support, *, n_inner_steps=None, trajectory=False):
        """θ with only its head adapted to one episode's support set (:meth:`HeadAdapter.adapt`)."""
        return self._head_adapter(n_inner_steps).adapt(x_support, y_support, trajectory=trajectory)

    def accuracy_curve(self, batch: EpisodeBatch, *, n_inner_steps=None) -> torch.Tensor:
        """Query accuracy of every episode after 0…n head steps, ``(T, n + 1)``."""
        return self._head_adapter(n_inner_steps).accuracy_curve(batch)

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode after ``n_test_inner_steps`` head steps, ``(T,)``."""
        return self.accuracy_curve(batch)[:, -1]
