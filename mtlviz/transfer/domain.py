"""Unsupervised domain adaptation: labelled source data, unlabelled target data, one classifier.

The data (rotated moons, shifted digits) live in :mod:`mtlviz.data.moons` and
:mod:`mtlviz.data.shifts`.

A classifier trained on the source domain (two moons) loses accuracy on a shifted target domain
(the same moons, rotated). Domain adaptation uses the *unlabelled* target inputs during training
to make the learned features look alike in both domains, so that the label classifier trained
on source features also fits target features:

- source only: minimise the source cross-entropy L_y; the baseline.
- Deep CORAL: L_y + w · ‖C_S − C_T‖²_F / (4d²), matching the covariances of the features.
- DANN: a domain classifier learns to tell source features from target features, and the
  gradient reversal layer makes the feature extractor work against it (L_y − λ L_d).

References
----------
Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand & Lempitsky,
"Domain-Adversarial Training of Neural Networks", JMLR 17 (2016).
Sun & Saenko, "Deep CORAL: Correlation Alignment for Deep Domain Adaptation",
ECCV Workshops 2016.
de Mathelin et al., "ADAPT: Awesome Domain Adaptation Python Toolbox", arXiv:2107.03049
(its two-moons example, rotation 30°, is the reference of ``benchmarks/two_moons_da.py``).
"""
from __future__ import annotations

import math
from typing import Dict, Iterator, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._base import Estimator
from .._validation import (DivergenceError, check_choice, check_int, check_labels, check_random_state, check_real,
                           check_tensor, draw_seed)

__all__ = [
    "GradientReversal",
    "grad_reverse",
    "dann_lambda",
    "coral_loss",
    "DomainAdaptationClassifier",
    "METHODS",
    "network_state",
    "restore_classifier",
    "project_features",
]

#: The training objectives :class:`DomainAdaptationClassifier` knows.
METHODS = ("source_only", "coral", "dann")


# -- the pieces of the objectives ------------------------------------------------------------

class GradientReversal(torch.autograd.Function):
    """The gradient reversal layer of DANN: R(x) = x forward, dR/dx = −λ I backward.

    Use through :func:`grad_reverse`. Placed between the feature extractor and the domain
    classifier, it lets one backward pass train the domain classifier to *minimise* the domain
    loss L_d while the feature extractor receives −λ ∂L_d/∂features, i.e. it *maximises* L_d.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, lambda_: float) -> torch.Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)  # identity; a view so autograd records this node

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return -ctx.lambda_ * grad_output, None  # no gradient for λ


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Identity on ``x`` whose backward pass multiplies the incoming gradient by −``lambda_``.

    ``lambda_`` (λ ≥ 0) weighs the adversarial term: the features move to *increase* the domain
    classifier's loss at λ times the rate it decreases it.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor; got {type(x).__name__}")
    lambda_ = check_real("lambda_", lambda_, 0.0, None)
    return GradientReversal.apply(x, lambda_)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """The adaptation weight schedule of Ganin et al. (2016): λ(p) = 2 / (1 + exp(−γ p)) − 1.

    λ rises from 0 at the start of training (``progress`` p = 0) towards 1 at the end (p = 1),
    so that the domain classifier's noisy early gradients do not disturb the feature extractor.

    Parameters
    ----------
    progress : float
        Fraction of training done, in [0, 1].
    gamma : float, default 10
        Steepness γ, in [0, 100]; the paper uses 10.
    """
    progress = check_real("progress", progress, 0.0, 1.0)
    gamma = check_real("gamma", gamma, 0.0, 100.0)
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def _covariance(features: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance of the columns of ``features`` (n, d) -> (d, d)."""
    centred = features - features.mean(0, keepdim=True)
    return centred.T @ centred / (features.shape[0] - 1)


def _coral(source_features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    d = source_features.shape[1]
    difference = _covariance(source_features) - _covariance(target_features)
    return (difference ** 2).sum() / (4 * d * d)  # ‖C_S − C_T‖²_F / (4d²)


def coral_loss(source_features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """The Deep CORAL loss ‖C_S − C_T‖²_F / (4d²) between two sets of d-dimensional features.

    C_S and C_T are the unbiased (n − 1) covariance matrices of the rows of
    ``source_features`` (n_S, d) and ``target_features`` (n_T, d); the sets may differ in size.
    Returns a scalar tensor that gradients flow through.

    References
    ----------
    Sun & Saenko, "Deep CORAL", ECCV Workshops 2016, equation (1).
    """
    check_tensor("source_features", source_features, ndim=2, min_first=2)
    check_tensor("target_features", target_features, ndim=2, min_first=2)
    if source_features.shape[1] != target_features.shape[1]:
        raise ValueError("source_features and target_features must have the same number of columns (features); "
                         f"got {source_features.shape[1]} and {target_features.shape[1]}")
    return _coral(source_features, target_features)


# -- the estimator ---------------------------------------------------------------------------

class _Network(nn.Module):
    """Feature extractor G_f (input → hidden → n_features, ReLU), label classifier G_y (linear)
    and domain classifier G_d (n_features → hidden → 1)."""

    def __init__(self, n_inputs: int, hidden: int, n_features: int, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(),
                                      nn.Linear(hidden, n_features), nn.ReLU())
        self.label_classifier = nn.Linear(n_features, n_classes)
        self.domain_classifier = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def _check_inputs(name: str, x, min_rows: int = 1, n_columns=None) -> torch.Tensor:
    """``x`` as an (n, d) float tensor: images (n, ...) are flattened to (n, d)."""
    check_tensor(name, x, min_first=min_rows)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (n, d) (or (n, ...) for images); got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must hold floating-point values; got dtype {x.dtype}")
    x = x.reshape(x.shape[0], -1).float()
    if n_columns is not None and x.shape[1] != n_columns:
        raise ValueError(f"{name} must have {n_columns} features per row (after flattening), as in training; "
                         f"got {x.shape[1]}")
    return x


#: The most classes a label tensor may name (labels in [0, MAX_CLASSES − 1]).
MAX_CLASSES = 1000


def _check_labels(name: str, y, n_rows: int, x_name: str, n_classes: int = MAX_CLASSES) -> torch.Tensor:
    """``y`` as an int64 (n,) tensor of integer class labels in [0, n_classes − 1]."""
    check_tensor(name, y, ndim=1)
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} must hold one label per row of {x_name}; got {y.shape[0]} labels for {n_rows} rows")
    return check_labels(name, y, n_classes).long()


class DomainAdaptationClassifier(Estimator):
    """A small MLP classifier trained on labelled source and unlabelled target data.

    The network is a feature extractor G_f (input → ``hidden`` → ``n_features``, ReLU), a
    linear label classifier G_y on the features and, for DANN, a domain classifier G_d
    (``n_features`` → ``hidden`` → 1). Each step of Adam (full batch, or ``batch_size`` points from
    each domain) minimises

    - ``"source_only"``: L_y, the cross-entropy on the source labels;
    - ``"coral"``: L_y + w · CORAL(G_f(x_S), G_f(x_T)), w = ``trade_off``;
    - ``"dann"``: L_y + L_d(G_d(R_λ(G_f(x)))), where L_d is the binary cross-entropy of telling
      source (0) from target (1), and the gradient reversal R_λ makes G_f maximise it with
      λ = ``trade_off`` · λ(p), the schedule :func:`dann_lambda` of the training progress p.

    Parameters
    ----------
    method : {"source_only", "coral", "dann"}, default "dann"
    hidden : int, default 32
        Width of the hidden layers of G_f and G_d, in [1, 4096].
    n_features : int, default 4
        Width of the feature layer G_f(x), in [1, 4096]. A narrow layer makes matching the
        two domains' features (CORAL's covariances, DANN's domain classifier) constrain the
        network more: on rotated two moons 4 worked clearly better than 8 or 32 for CORAL (with
        2 or 3, units that die leave too little); raise it for images.
    n_steps : int, default 400
        Adam steps that :meth:`fit` runs, in [0, 1_000_000].
    lr : float, default 0.01
        Adam's step size, in (0, 1].
    trade_off : float or None, default None
        Weight of the adaptation term, in [0, 1000]: w for CORAL, the largest λ for DANN.
        None takes the method's default (CORAL 300, DANN 1), tuned on rotated two moons;
        source only ignores it.
    gamma : float, default 10
        Steepness γ of DANN's λ schedule, in [0, 100].
    batch_size : int or None, default None
        Points drawn from each domain per step, in [2, 1_000_000]; None uses every point.
    random_state : int, torch.Generator or None
        Seeds the initial weights and the minibatches.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network (``network_.features``, ``.label_classifier``, ``.domain_classifier``).
    n_features_in_, n_classes_ : int
    history_ : list of float
        The training objective after each step.

    References
    ----------
    Ganin et al., JMLR 2016 (DANN, the λ schedule, the gradient reversal layer);
    Sun & Saenko, ECCV Workshops 2016 (Deep CORAL).
    """

    _kind = "domain-adaptation"
    _fitted_attribute = "network_"
    _fit_hint = "fit(x_source, y_source, x_target)"
    _step_sizes = (("lr", ""),)
    _regenerate_command = "python -m mtlviz.pretrained.train_domain"
    #: ``trade_off`` when it is None: CORAL's weight w and DANN's largest λ.
    DEFAULT_TRADE_OFF = {"source_only": 0.0, "coral": 300.0, "dann": 1.0}

    def __init__(self, method: str = "dann", *, hidden: int = 32, n_features: int = 4, n_steps: int = 400,
                 lr: float = 0.01, trade_off=None, gamma: float = 10.0, batch_size=None, random_state=None):
        self.method = method
        self.hidden = hidden
        self.n_features = n_features
        self.n_steps = n_steps
        self.lr = lr
        self.trade_off = trade_off
        self.gamma = gamma
        self.batch_size = batch_size
        self.random_state = random_state

    def _validate(self) -> float:
        """Check the hyperparameters; return the trade-off in use."""
        check_choice("method", self.method, METHODS)
        check_int("hidden", self.hidden, 1, 4096)
        check_int("n_features", self.n_features, 1, 4096)
        check_int("n_steps", self.n_steps, 0, 1_000_000)
        check_real("lr", self.lr, 0.0, 1.0, low_inclusive=False)
        check_real("gamma", self.gamma, 0.0, 100.0)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 2, 1_000_000)
        if self.trade_off is None:
            return self.DEFAULT_TRADE_OFF[self.method]
        return check_real("trade_off", self.trade_off, 0.0, 1000.0)

    # -- training --------------------------------------------------------------------------
    def fit(self, x_source, y_source, x_target) -> "DomainAdaptationClassifier":
        """Train on labelled source points and unlabelled target points; returns ``self``.

        ``x_source`` (n_S, d) or images (n_S, ...), ``y_source`` (n_S,) labels 0…C−1,
        ``x_target`` (n_T, d) or (n_T, ...), with the same d; n_S, n_T ≥ 2.
        """
        return super().fit(x_source, y_source, x_target)

    def fit_iter(self, x_source, y_source, x_target) -> Iterator[Dict[str, float]]:
        """Train like :meth:`fit`, yielding after each step the record
        ``{"step", "loss", "label_loss", "adaptation_loss", "lambda", "seconds"}``.

        ``adaptation_loss`` is the CORAL loss or the domain classifier's L_d (0 for source
        only), ``lambda`` the weight it had (w, or trade_off · λ(p)). The learned state
        (``network_``, ``history_``) is usable after every step: stop by no longer iterating.
        """
        return super().fit_iter(x_source, y_source, x_target)

    def _training_steps(self, x_source, y_source, x_target):
        trade_off = self._validate()
        x_source = _check_inputs("x_source", x_source, min_rows=2)
        y_source = _check_labels("y_source", y_source, x_source.shape[0], "x_source")
        x_target = _check_inputs("x_target", x_target, min_rows=2, n_columns=x_source.shape[1])
        generator = check_random_state(self.random_state)

        self.n_features_in_ = x_source.shape[1]
        self.n_classes_ = max(2, int(y_source.max()) + 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(draw_seed(generator))
            self.network_ = _Network(self.n_features_in_, self.hidden, self.n_features, self.n_classes_)
        network = self.network_
        optimizer = torch.optim.Adam(network.parameters(), lr=self.lr)
        n_source, n_target = x_source.shape[0], x_target.shape[0]
        # Domain labels of a batch: source 0, target 1.
        batch_source = n_source if self.batch_size is None else min(self.batch_size, n_source)
        batch_target = n_target if self.batch_size is None else min(self.batch_size, n_target)
        domains = torch.cat([torch.zeros(batch_source), torch.ones(batch_target)])
        for step in range(1, self.n_steps + 1):
            xs, ys, xt = x_source, y_source, x_target
            if batch_source < n_source:
                index = torch.randperm(n_source, generator=generator)[:batch_source]
                xs, ys = x_source[index], y_source[index]
            if batch_target < n_target:
                xt = x_target[torch.randperm(n_target, generator=generator)[:batch_target]]

            if self.method == "source_only":
                weight = 0.0
                label_loss = F.cross_entropy(network.label_classifier(network.features(xs)), ys)
                adaptation_loss = torch.zeros(())
                loss = label_loss
            else:
                features = network.features(torch.cat([xs, xt]))  # (n_S + n_T, n_features)
                source_features, target_features = features[:batch_source], features[batch_source:]
                label_loss = F.cross_entropy(network.label_classifier(source_features), ys)
                if self.method == "coral":
                    weight = trade_off
                    adaptation_loss = _coral(source_features, target_features)
                    loss = label_loss + weight * adaptation_loss
                else:
                    # λ(p) with p the fraction of training done before this step.
                    weight = trade_off * dann_lambda((step - 1) / self.n_steps, self.gamma)
                    logits = network.domain_classifier(GradientReversal.apply(features, weight))[:, 0]
                    adaptation_loss = F.binary_cross_entropy_with_logits(logits, domains)
                    # G_d descends L_d; through R_λ, G_f descends L_y − λ L_d.
                    loss = label_loss + adaptation_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            yield float(loss.detach()), {"label_loss": float(label_loss.detach()),
                                         "adaptation_loss": float(adaptation_loss.detach()), "lambda": weight}

    # -- using the trained network ---------------------------------------------------------
    # -- weights (one classifier per file; lesson 07's bundle of 30 uses network_state) ------
    def _state(self) -> Dict[str, object]:
        return network_state(self)

    def _restore(self, state) -> None:
        self._set_network(state)

    def _set_network(self, state) -> None:
        try:
            n_inputs, n_classes = int(state["n_features_in"]), int(state["n_classes"])
            network = _Network(n_inputs, self.hidden, self.n_features, n_classes)
            network.load_state_dict(state["weights"])
        except (KeyError, TypeError, RuntimeError) as error:
            raise ValueError(f"the weights do not fit a network with hidden={self.hidden}, "
                             f"n_features={self.n_features}: {error}") from error
        if not all(bool(torch.isfinite(t).all()) for t in network.state_dict().values()):
            raise ValueError("the weights must be finite; they hold NaN or infinite values")
        self.network_, self.n_features_in_, self.n_classes_ = network, n_inputs, n_classes

    def _inputs(self, x) -> torch.Tensor:
        self._check_fitted()
        return _check_inputs("x", x, n_columns=self.n_features_in_)

    def features(self, x) -> torch.Tensor:
        """The learned features G_f(x), shape (n, n_features): project them to 2-D to see whether
        source and target points overlap."""
        x = self._inputs(x)
        with torch.no_grad():
            return self.network_.features(x)

    def predict_proba(self, x) -> torch.Tensor:
        """Class probabilities (n, C) for inputs (n, d) or images (n, ...)."""
        x = self._inputs(x)
        with torch.no_grad():
            logits = self.network_.label_classifier(self.network_.features(x))
        if not bool(torch.isfinite(logits).all()):
            raise DivergenceError("predict gave NaN or infinite outputs: x is too large for this network "
                                  "(standardise the inputs, as the training data were)")
        return torch.softmax(logits, dim=1)

    def predict(self, x) -> torch.Tensor:
        """Class labels (n,) int64 for inputs (n, d) or images (n, ...)."""
        return self.predict_proba(x).argmax(1)

    def score(self, x, y) -> float:
        """Accuracy of :meth:`predict` on labelled points ``(x, y)``, in [0, 1]."""
        x = self._inputs(x)
        y = _check_labels("y", y, x.shape[0], "x", self.n_classes_)
        if x.shape[0] == 0:
            raise ValueError("x must hold at least 1 row to score; got shape (0, ...)")
        return float((self.predict(x) == y).float().mean())



def network_state(model: DomainAdaptationClassifier) -> Dict[str, object]:
    """A fitted classifier's weights as plain tensors and ints (what ``torch.save`` may store and
    ``torch.load(..., weights_only=True)`` reads back); :func:`restore_classifier` inverts it."""
    model._check_fitted()
    return {"n_features_in": model.n_features_in_, "n_classes": model.n_classes_,
            "weights": {name: tensor.detach().clone() for name, tensor in model.network_.state_dict().items()}}


def restore_classifier(state: Dict[str, object], **params) -> DomainAdaptationClassifier:
    """A fitted :class:`DomainAdaptationClassifier` with hyperparameters ``params`` and the
    weights of ``state`` (from :func:`network_state`). Raises ``ValueError`` when the weights do
    not fit the network that ``params`` describe."""
    model = DomainAdaptationClassifier(**params)
    model._validate()
    model._set_network(state)
    model.history_ = []
    return model


def project_features(model: DomainAdaptationClassifier, x_source, x_target) -> Tuple[np.ndarray, np.ndarray]:
    """The learned features G_f of both domains projected to 2-D, for plotting.

    PCA is fitted on the source and target features together (so that one projection serves
    both) and each coordinate is divided by its pooled standard deviation, so that plots of
    different models share one scale (whether the two domains overlap does not depend on it).
    Returns ``(n_S, 2)`` and ``(n_T, 2)`` float arrays.
    """
    if not isinstance(model, DomainAdaptationClassifier):
        raise ValueError(f"model must be a fitted DomainAdaptationClassifier; got {type(model).__name__}")
    source = model.features(x_source).double()
    target = model.features(x_target).double()
    pooled = torch.cat([source, target])
    centred = pooled - pooled.mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:2].T  # (n_features, 2); fewer columns when n_features is 1
    if axes.shape[1] < 2:
        axes = torch.cat([axes, torch.zeros(axes.shape[0], 2 - axes.shape[1], dtype=axes.dtype)], 1)
    # Fix each component's sign so that the picture does not flip between similar models.
    signs = torch.where(axes.sum(0) < 0, -1.0, 1.0).to(axes.dtype)
    projected = centred @ (axes * signs)
    spread = projected.std(0)
    projected = projected / torch.where(spread > 1e-12, spread, torch.ones_like(spread))  # dead features: 0
    n_source = source.shape[0]
    return projected[:n_source].numpy(), projected[n_source:].numpy()
