"""Small networks of the lessons, each usable as a module and as a function of a parameter dict.

- :class:`MLP` (and :func:`sinusoid_mlp`, the 1-40-40-1 regressor of Finn et al. 2017);
- :class:`ConvNet`, the 4-block conv learner of the few-shot image lessons, with
  :func:`cross_entropy` and :func:`accuracy`.

ConvNet: each block is conv 3×3 → batch norm → ReLU → max-pool 2×2; a linear layer maps the features
to the N classes of an episode. Batch norm always normalises with the statistics of the batch
it is given and keeps no running averages, so nothing leaks from one episode to the next (the
rule Ravi & Larochelle 2017 and MAML's code follow); its scale and shift are learned like any
other parameter.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import check_choice, check_int

__all__ = ["MLP", "sinusoid_mlp", "ConvNet", "NORMALISATIONS", "normalised_logits", "cross_entropy", "accuracy"]


class MLP(nn.Sequential):
    """A fully connected ReLU network, ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first; at least two entries, each in [1, 4096].
    """

    #: ``functional_forward`` also takes parameters with a leading task dimension
    #: (:func:`mtlviz.functional.batched_meta_loss`).
    batches_tasks = True

    def __init__(self, sizes: Sequence[int]):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer widths (input and output); got {sizes}")
        sizes = [check_int(f"sizes[{i}]", s, 1, 4096) for i, s in enumerate(sizes)]
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        super().__init__(*layers)
        self.sizes = tuple(sizes)

    @property
    def input_shape(self) -> tuple:
        """The shape of one input point, ``(sizes[0],)`` (the entry points check inputs against it)."""
        return (self.sizes[0],)

    @property
    def output_size(self) -> int:
        """Outputs per point, ``sizes[-1]``."""
        return self.sizes[-1]

    def functional_forward(self, params, x: torch.Tensor) -> torch.Tensor:
        """f_θ(x) with the parameters ``params`` (a dict named like ``named_parameters()``).

        The same computation as ``torch.func.functional_call(self, params, (x,))``, written out so
        that :func:`mtlviz.functional.forward` can skip functional_call's per-call module
        re-parametrisation, which costs more than the arithmetic of a network this small.

        Parameters with a leading task dimension (weights ``(N, out, in)``, biases ``(N, out)``)
        and ``x`` of shape ``(N, K, in)`` run each task's points through that task's own
        parameters, in batched matrix products.
        """
        n_layers = len(self.sizes) - 1
        for i in range(n_layers):
            index = 2 * i  # Linear layers sit at 0, 2, 4, ... with a ReLU between them
            weight, bias = params[f"{index}.weight"], params[f"{index}.bias"]
            if weight.ndim == 3:  # one set per task: (N, K, in) @ (N, in, out) + (N, 1, out)
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
            else:
                x = torch.nn.functional.linear(x, weight, bias)
            if i < n_layers - 1:
                x = torch.relu(x)
        return x


def sinusoid_mlp(seed: int | None = None) -> MLP:
    """The 1-40-40-1 ReLU regressor of Finn et al. (2017), initialised from ``seed``.

    Seeding happens in a forked RNG, so the caller's global random state is untouched.
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return MLP((1, 40, 40, 1))



def _batch_norm(x, weight, bias, eps=1e-5, stats_rows=None):
    """Batch norm over (batch, height, width) with the batch's own statistics, written with
    elementary ops so that it batches under ``vmap`` and differentiates twice.

    ``stats_rows=n`` takes the statistics from the first ``n`` images only (and applies them to
    every image): how a support set can normalise query images without the query images
    normalising each other."""
    reference = x if stats_rows is None else x[:stats_rows]
    mean = reference.mean(dim=(0, 2, 3), keepdim=True)
    var = ((reference - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


class ConvNet(nn.Module):
    """``n_blocks`` conv blocks of ``channels`` filters, then a linear layer to ``n_way`` logits.

    Batch norm has no running statistics: every call normalises with the statistics of the
    images it is given (as in MAML's reference code). So a prediction for one image depends on
    the other images in the batch, and a whole query set predicted at once is a *transductive*
    evaluation; :func:`normalised_logits` makes the other choices.

    Parameters
    ----------
    n_way : int
        Output classes: N of an episode, or every source class when pretraining; in [2, 10000].
    channels : int
        Filters per conv layer, in [1, 256].
    image_size : int
        Side of the square input images, in [8, 64].
    n_blocks : int
        Conv blocks, in [1, 6]; each halves the image side (rounding down, at least 1).
    """

    def __init__(self, n_way: int = 5, channels: int = 32, image_size: int = 28, n_blocks: int = 4):
        super().__init__()
        self.n_way = check_int("n_way", n_way, 2, 10_000)
        self.channels = check_int("channels", channels, 1, 256)
        self.image_size = check_int("image_size", image_size, 8, 64)
        self.n_blocks = check_int("n_blocks", n_blocks, 1, 6)
        self.convs = nn.ModuleList()
        self.norms = nn.ParameterList()
        side, in_channels = image_size, 1
        for _ in range(n_blocks):
            self.convs.append(nn.Conv2d(in_channels, channels, 3, padding=1))
            in_channels = channels
            side = max(1, side // 2)
        self.norm_weight = nn.ParameterList([nn.Parameter(torch.ones(channels)) for _ in range(n_blocks)])
        self.norm_bias = nn.ParameterList([nn.Parameter(torch.zeros(channels)) for _ in range(n_blocks)])
        self.head = nn.Linear(channels * side * side, n_way)
        self.n_features = channels * side * side

    @property
    def input_shape(self) -> tuple:
        """The shape of one input image, ``(1, image_size, image_size)``."""
        return (1, self.image_size, self.image_size)

    @property
    def output_size(self) -> int:
        """Logits per image, ``n_way``."""
        return self.n_way

    def config(self) -> dict:
        """The arguments that rebuild this architecture (stored beside saved weights)."""
        return {"n_way": self.n_way, "channels": self.channels, "image_size": self.image_size,
                "n_blocks": self.n_blocks}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.functional_forward(dict(self.named_parameters()), x)

    def features(self, params, x: torch.Tensor, stats_rows: int | None = None) -> torch.Tensor:
        """The flattened output of the conv blocks (what the head sees), ``(n, n_features)``;
        batch norm takes its statistics from the first ``stats_rows`` images (default: all)."""
        for i in range(self.n_blocks):
            x = F.conv2d(x, params[f"convs.{i}.weight"], params[f"convs.{i}.bias"], padding=1)
            x = _batch_norm(x, params[f"norm_weight.{i}"], params[f"norm_bias.{i}"], stats_rows=stats_rows)
            x = F.relu(x)
            if x.shape[-1] >= 2:
                x = F.max_pool2d(x, 2)
        return x.flatten(1)

    def functional_forward(self, params, x: torch.Tensor, stats_rows: int | None = None) -> torch.Tensor:
        """Logits f_θ(x) for images ``(n, 1, S, S)`` with parameters ``params`` (``stats_rows``:
        see :meth:`features`)."""
        return F.linear(self.features(params, x, stats_rows), params["head.weight"], params["head.bias"])


#: How :func:`normalised_logits` may normalise query images in batch norm, with what each means.
NORMALISATIONS = {
    "query set": "the query images normalise each other (transductive: MAML's evaluation, this course's default)",
    "support set": "each query image is normalised with the support set's statistics (not transductive)",
    "one image": "each query image is normalised alone, as if it arrived on its own",
}


def normalised_logits(model: ConvNet, params, x_support: torch.Tensor, x_query: torch.Tensor,
                      normalisation: str = "query set") -> torch.Tensor:
    """Logits for ``x_query`` with batch norm's statistics taken as :data:`NORMALISATIONS` says.

    "query set" is ``model.functional_forward(params, x_query)``; "support set" runs
    ``[x_support; x_query]`` with the statistics of the support rows only, so no query image
    influences another; "one image" runs every query image as a batch of one.
    """
    check_choice("normalisation", normalisation, list(NORMALISATIONS))
    if normalisation == "query set":
        return model.functional_forward(params, x_query)
    if normalisation == "support set":
        n_support = x_support.shape[0]
        both = torch.cat([x_support, x_query])
        return model.functional_forward(params, both, stats_rows=n_support)[n_support:]
    return torch.cat([model.functional_forward(params, image[None]) for image in x_query])  # "one image"


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The classification loss L of the image lessons (softmax cross-entropy, mean over images)."""
    return F.cross_entropy(logits, labels)


#: What the entry points of :mod:`mtlviz.functional` check targets against: integer labels.
cross_entropy.target_kind = "labels"


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of images whose largest logit is their label (over the last batch dimension)."""
    return (logits.argmax(-1) == labels).float().mean(-1)
