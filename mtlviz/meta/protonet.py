"""Metric-based meta-learning: Prototypical Networks, and nearest centroid on a pretrained backbone.

A prototypical network learns an embedding f_φ (the conv blocks of :class:`~mtlviz.nets.ConvNet`,
without the linear head) such that, in a new episode, each class is summarised by the mean of
its embedded support images, its *prototype*

    c_k = (1/|S_k|) Σ_{(x_i, y_i) ∈ S_k} f_φ(x_i),

and a query image x is classified by a softmax over minus its squared distances to them,

    p_φ(y = k | x) = exp(−d(f_φ(x), c_k)) / Σ_k' exp(−d(f_φ(x), c_k')),   d(z, z') = ‖z − z'‖².

Nothing is adapted at test time: no inner loop, only an average and a distance. Meta-training
moves φ down the query cross-entropy of this softmax, one episode batch per step (Adam, step β).

:class:`NearestCentroid` is the same classifier on a backbone that was *not* meta-trained: the
conv blocks of lesson 06's network pretrained on all background classes at once (Chen et al.
2019's baseline, Euclidean or cosine).

Batch norm: the backbone normalises with the statistics of the batch it is given
(:mod:`mtlviz.nets`). Support images are embedded as one batch and query images as another, as
MAML here adapts on the support set and predicts the whole query set at once: the query images of
an episode are normalised together (transductive, like MAML's evaluation code).

References
----------
Snell, Swersky & Zemel, "Prototypical Networks for Few-shot Learning", NeurIPS 2017 (Table 1,
Omniglot 5-way: 98.8% 1-shot, 99.7% 5-shot).
Chen, Liu, Kira, Wang & Huang, "A Closer Look at Few-shot Classification", ICLR 2019.
Taught in ``notebooks/08_metric_based_meta_learning.ipynb``.
"""
from __future__ import annotations

from typing import Dict, Iterator, NamedTuple

import torch
from torch.nn import functional as F

from .._base import EpisodicEstimator, check_episodes
from .._validation import (DivergenceError, check_choice, check_int, check_labels, check_random_state, check_real,
                           check_tensor, draw_seed)
from ..data.glyphs import EpisodeBatch
from ..nets import ConvNet

__all__ = ["PrototypicalNetwork", "NearestCentroid", "prototypes", "squared_distances", "pca_2d", "EmbeddedEpisode",
           "embed_episode",
           "PROTONET_REGENERATE_COMMAND", "DISTANCES"]

PROTONET_REGENERATE_COMMAND = "python -m mtlviz.pretrained.train_protonet"
DISTANCES = ("euclidean", "cosine")


def prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """c_k = (1/|S_k|) Σ_{y_i = k} f_φ(x_i): the mean embedding of each class, ``(n_way, D)``
    from ``embeddings`` ``(n, D)`` and ``labels`` ``(n,)`` in [0, n_way − 1] (every class present).

    Checks its inputs (the public entry point, lesson 08's exercise); the estimators, whose
    support sets were checked at their own boundary, call :func:`_prototypes`."""
    n_way = check_int("n_way", n_way, 1, 10_000)
    embeddings = check_tensor("embeddings", embeddings, ndim=2)
    labels = check_labels("labels", labels, n_way)
    if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
        raise ValueError(f"labels must have shape ({embeddings.shape[0]},), one label per row of embeddings; "
                         f"got shape {tuple(labels.shape)}")
    return _prototypes(embeddings, labels, n_way)


def _prototypes(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    one_hot = F.one_hot(labels, n_way).to(embeddings.dtype)  # (n, N)
    counts = one_hot.sum(0)  # |S_k|
    if bool((counts == 0).any()):
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"labels must give every class 0…{n_way - 1} a support image; classes {missing} have none")
    return one_hot.T @ embeddings / counts.unsqueeze(1)


def squared_distances(queries: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """d(z, c) = ‖z − c‖² for every query ``(Q, D)`` and centre ``(N, D)``: ``(Q, N)``."""
    return ((queries.unsqueeze(1) - centres.unsqueeze(0)) ** 2).sum(-1)


def _logits(queries, centres, distance):
    """The logits whose softmax is p(y = k | x): −‖f(x) − c_k‖² (Euclidean), or the cosine of the
    angle between f(x) and c_k scaled by 10 (cosine; argmax is all nearest centroid uses)."""
    if distance == "cosine":
        return 10.0 * F.normalize(queries, dim=-1) @ F.normalize(centres, dim=-1).T
    return -squared_distances(queries, centres)


def pca_2d(points: torch.Tensor) -> torch.Tensor:
    """The first two principal components of ``points`` ``(n, D)``: the ``(D, 2)`` projection
    (unit columns), signs fixed so each column's largest entry is positive (reproducible pictures)."""
    check_tensor("points", points, ndim=2)
    centred = points - points.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred.double(), full_matrices=False)
    axes = vh[:2].T  # (D, 2) or (D, 1) when D == 1
    if axes.shape[1] < 2:
        axes = torch.cat([axes, torch.zeros_like(axes)], 1)
    signs = torch.sign(axes.gather(0, axes.abs().argmax(0, keepdim=True)))
    signs[signs == 0] = 1
    return (axes * signs).to(points.dtype)


class _Centroids:
    """What the two metric classifiers share: embed with a backbone, prototypes, distances."""

    distance = "euclidean"

    def _embedder(self):
        """``(model, params)``: a ConvNet and the parameter dict of its conv blocks."""
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """f_φ(x) for images ``(n, 1, S, S)`` (one batch: batch norm uses their statistics), ``(n, D)``."""
        model, params = self._embedder()
        check_tensor("x", x, ndim=4, last_dims=model.input_shape, min_first=1, floating=True)
        with torch.no_grad():
            z = model.features(params, x.to(next(iter(params.values())).dtype))
        if not bool(torch.isfinite(z).all()):
            raise DivergenceError("the embedding gave NaN or infinite values: x is too large for this network")
        return z

    def prototypes(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """c_k for one episode's support images ``(N·K, 1, S, S)`` and labels ``(N·K,)``: ``(N, D)``."""
        n_way = self._n_way_of(y_support, len(x_support))
        return _prototypes(self.embed(x_support), y_support, n_way)

    @staticmethod
    def _n_way_of(y_support, n_images) -> int:
        check_labels("y_support", y_support)
        if y_support.ndim != 1 or len(y_support) != n_images:
            raise ValueError(f"y_support must hold one label per support image, shape ({n_images},); "
                             f"got shape {tuple(y_support.shape)}")
        return int(y_support.max()) + 1

    def predict_proba(self, x_support, y_support, x_query) -> torch.Tensor:
        """p(y = k | x) for each query image, ``(Q, N)``: softmax over −d(f_φ(x), c_k)."""
        centres = self.prototypes(x_support, y_support)
        return torch.softmax(_logits(self.embed(x_query), centres, self.distance), -1)

    def predict(self, x_support, y_support, x_query) -> torch.Tensor:
        """The class of each query image: its nearest prototype, ``(Q,)``."""
        return self.predict_proba(x_support, y_support, x_query).argmax(-1)

    def episode_accuracy(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode, ``(T,)`` (any number of classes: nothing depends on N)."""
        check_episodes(batch, image_size=self._embedder()[0].image_size)
        n_way = int(batch.y_support.max()) + 1
        model, params = self._embedder()
        n_tasks = batch.x_support.shape[0]
        with torch.no_grad():
            # one batch-norm batch per support set and per query set, as embed() does for one episode
            support = torch.stack([model.features(params, x) for x in batch.x_support])  # (T, N·K, D)
            query = torch.stack([model.features(params, x) for x in batch.x_query])  # (T, N·Q, D)
            centres = torch.stack([_prototypes(support[t], batch.y_support[t], n_way) for t in range(n_tasks)])
            predicted = torch.stack([_logits(query[t], centres[t], self.distance).argmax(-1) for t in range(n_tasks)])
        if not (bool(torch.isfinite(support).all()) and bool(torch.isfinite(query).all())):
            raise DivergenceError("the embedding gave NaN or infinite values on these episodes")
        return (predicted == batch.y_query).float().mean(-1)

    def score(self, batch: EpisodeBatch) -> float:
        """Mean query accuracy over the episodes of ``batch``."""
        return float(self.episode_accuracy(batch).mean())


def _backbone_names(model: ConvNet):
    return [name for name, _ in model.named_parameters() if not name.startswith("head")]


class PrototypicalNetwork(_Centroids, EpisodicEstimator):
    """Prototypical Networks: meta-learn an embedding in which each class is its mean.

    Each training step draws ``meta_batch_size`` N-way K-shot episodes from the training family,
    embeds their support and query images with f_φ (the 4 conv blocks of
    :class:`~mtlviz.nets.ConvNet`, no head), computes the prototypes c_k and moves φ by Adam
    (step β) down the mean query cross-entropy of softmax(−‖f_φ(x) − c_k‖²). A new episode
    needs no training: its prototypes are computed and each query goes to the nearest one.

    Parameters
    ----------
    n_way, k_shot, n_query : int, default 5, 1, 5
        Shape of the *training* episodes: classes in [2, 20], support and query images per class
        in [1, 19]. Test episodes may have any number of classes and shots.
    channels : int, default 32
        Filters per conv layer, in [1, 256] (the embedding has ``channels`` dimensions for 20-pixel
        images: four 2×2 poolings leave 1×1).
    image_size : int, default 20
        Side of the input images, in [8, 64].
    outer_lr : float, default 1e-3
        β, Adam's step, in (0, 1].
    meta_batch_size : int, default 1
        Episodes per step, in [1, 1000].
    n_outer_steps : int, default 2000
        Steps that :meth:`fit` runs, in [0, 10⁷].
    random_state : int, torch.Generator or None
        Seeds φ's initialisation and the episode sampling.

    Attributes
    ----------
    model_ : ConvNet
        The architecture (its head is not used).
    params_ : dict of str to Tensor
        φ, the conv blocks' parameters.
    history_ : list of float
        The training loss of every step.

    References
    ----------
    Snell, Swersky & Zemel, NeurIPS 2017. Lesson 08.
    """

    _kind = "protonet"
    _regenerate_command = PROTONET_REGENERATE_COMMAND
    _step_sizes = (("outer_lr", "β"),)

    def __init__(self, *, n_way: int = 5, k_shot: int = 1, n_query: int = 5, channels: int = 32,
                 image_size: int = 20, outer_lr: float = 1e-3, meta_batch_size: int = 1, n_outer_steps: int = 2000,
                 random_state=None):
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.channels = channels
        self.image_size = image_size
        self.outer_lr = outer_lr
        self.meta_batch_size = meta_batch_size
        self.n_outer_steps = n_outer_steps
        self.random_state = random_state

    def _validate(self):
        self._validate_episode_shape()
        check_real("outer_lr", self.outer_lr, 0.0, 1.0, low_inclusive=False)
        check_int("meta_batch_size", self.meta_batch_size, 1, 1000)
        check_int("n_outer_steps", self.n_outer_steps, 0, 10_000_000)

    def _build_model(self, seed: int) -> ConvNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return ConvNet(self.n_way, self.channels, self.image_size)

    def _embedder(self):
        self._check_fitted()
        return self.model_, self.params_

    def episode_loss(self, batch: EpisodeBatch) -> torch.Tensor:
        """The training objective on a batch of episodes: the mean over episodes and query images
        of −log p_φ(y = y_query | x_query), differentiable in φ."""
        model, params = self.model_, self.params_
        n_way = int(batch.y_support.max()) + 1
        losses = []
        for x_support, y_support, x_query, y_query in zip(*batch.data):
            centres = _prototypes(model.features(params, x_support), y_support, n_way)  # c_k
            logits = -squared_distances(model.features(params, x_query), centres)  # −d(f_φ(x), c_k)
            losses.append(F.cross_entropy(logits, y_query))
        return torch.stack(losses).mean()

    def _training_steps(self, tasks) -> Iterator[float]:
        """One Adam step on a fresh batch of episodes per iteration."""
        self._check_tasks(tasks)
        generator = check_random_state(self.random_state)
        self.model_ = self._build_model(draw_seed(generator))
        self.params_ = {name: p.detach().clone().requires_grad_(True)
                        for name, p in self.model_.named_parameters() if not name.startswith("head")}
        optimizer = torch.optim.Adam(self.params_.values(), lr=self.outer_lr)
        for _ in range(self.n_outer_steps):
            batch = tasks.sample_episodes(self.meta_batch_size, self.n_way, self.k_shot, self.n_query, generator)
            loss = self.episode_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()  # φ ← φ − β · Adam(∇φ L)
            yield float(loss.detach())

    def accuracy_curve(self, batch: EpisodeBatch) -> torch.Tensor:
        """Query accuracy of each episode, ``(T, 1)`` (no adaptation steps: one point)."""
        return self.episode_accuracy(batch).unsqueeze(1)

    # -- weights ---------------------------------------------------------------------------
    def _state(self) -> Dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.params_.items()}

    def _restore(self, params: Dict[str, torch.Tensor]) -> None:
        self.model_ = self._build_model(0)
        expected = {name: tuple(p.shape) for name, p in self.model_.named_parameters() if not name.startswith("head")}
        found = {name: tuple(t.shape) for name, t in params.items()}
        if expected != found:
            raise ValueError(f"parameter shapes {found} differ from the embedding network's {expected}")
        self.params_ = {name: t.float().detach() for name, t in params.items()}


class NearestCentroid(_Centroids):
    """Nearest class mean in the feature space of a backbone that was not meta-trained.

    Chen et al. (2019)'s baseline without training: the conv blocks of a network pretrained on
    all source classes at once (lesson 06's ``glyph_finetune.pt``), frozen; each class of a new
    episode is the mean of its support features and a query goes to the nearest one.

    Parameters
    ----------
    model : ConvNet
        The architecture (only its conv blocks are used).
    backbone : dict of str to Tensor
        The conv blocks' parameters (a :class:`~mtlviz.transfer.finetune.FineTuneClassifier`'s
        ``backbone_``).
    distance : {"euclidean", "cosine"}, default "euclidean"
        ‖f(x) − c_k‖², or the cosine of the angle between f(x) and c_k.
    """

    def __init__(self, model: ConvNet, backbone: Dict[str, torch.Tensor], distance: str = "euclidean"):
        if not isinstance(model, ConvNet):
            raise ValueError(f"model must be a ConvNet; got {type(model).__name__}")
        names = _backbone_names(model)
        if not isinstance(backbone, dict) or sorted(backbone) != sorted(names):
            raise ValueError(f"backbone must hold exactly the conv blocks' parameters {names}")
        self.distance = check_choice("distance", distance, DISTANCES)
        self.model_ = model
        self.backbone_ = {name: t.detach() for name, t in backbone.items()}

    def __repr__(self):
        return f"NearestCentroid(distance={self.distance!r})"

    def _embedder(self):
        return self.model_, self.backbone_



class EmbeddedEpisode(NamedTuple):
    """One episode as a metric classifier sees it, projected to 2-D for a picture
    (:func:`embed_episode`). ``*_2d`` are coordinates on the first two principal axes of the
    support and query embeddings; the decisions are made in the full D dimensions."""

    support_2d: torch.Tensor  # (N·K, 2)
    query_2d: torch.Tensor  # (Q, 2)
    prototypes_2d: torch.Tensor  # (N, 2)
    y_support: torch.Tensor  # (N·K,)
    y_query: torch.Tensor  # (Q,)
    predicted: torch.Tensor  # (Q,) nearest prototype in D dimensions
    probabilities: torch.Tensor  # (Q, N) softmax over −d(f_φ(x), c_k)
    nearest_in_picture: torch.Tensor  # (Q,) nearest prototype in the 2-D picture
    explained: float  # fraction of the embeddings' variance the two axes show

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.y_query).float().mean())


def embed_episode(classifier, x_support, y_support, x_query, y_query) -> EmbeddedEpisode:
    """Embed one episode with ``classifier`` (a fitted :class:`PrototypicalNetwork` or a
    :class:`NearestCentroid`), compute its prototypes and decisions, and project support,
    query and prototypes on the first two principal axes of the support and query embeddings."""
    if not isinstance(classifier, _Centroids):
        raise ValueError(f"classifier must be a PrototypicalNetwork or NearestCentroid; got {type(classifier).__name__}")
    n_way = classifier._n_way_of(y_support, len(x_support))
    check_labels("y_query", y_query, n_way)
    support, query = classifier.embed(x_support), classifier.embed(x_query)
    centres = _prototypes(support, y_support, n_way)
    probabilities = torch.softmax(_logits(query, centres, classifier.distance), -1)
    points = torch.cat([support, query])
    mean = points.mean(0, keepdim=True)
    axes = pca_2d(points)
    variance = ((points - mean) ** 2).sum()
    shown = (((points - mean) @ axes) ** 2).sum()
    project = lambda z: (z - mean) @ axes  # noqa: E731 - one line, used three times
    query_2d, centres_2d = project(query), project(centres)
    return EmbeddedEpisode(project(support), query_2d, centres_2d, y_support.clone(), y_query.clone(),
                           probabilities.argmax(-1), probabilities,
                           squared_distances(query_2d, centres_2d).argmin(-1),
                           float(shown / variance) if float(variance) > 0 else 1.0)
