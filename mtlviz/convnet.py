"""The small convolutional learner of the few-shot image lessons (Finn et al. 2017, Omniglot).

Each block is conv 3×3 → batch norm → ReLU → max-pool 2×2; a linear layer maps the features
to the N classes of an episode. Batch norm always normalises with the statistics of the batch
it is given and keeps no running averages, so nothing leaks from one episode to the next (the
rule Ravi & Larochelle 2017 and MAML's code follow); its scale and shift are learned like any
other parameter.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._validation import check_int

__all__ = ["ConvNet", "cross_entropy", "accuracy"]


def _batch_norm(x, weight, bias, eps=1e-5):
    """Batch norm over (batch, height, width) with the batch's own statistics, written with
    elementary ops so that it batches under ``vmap`` and differentiates twice."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


class ConvNet(nn.Module):
    """``n_blocks`` conv blocks of ``channels`` filters, then a linear layer to ``n_way`` logits.

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

    def config(self) -> dict:
        """The arguments that rebuild this architecture (stored beside saved weights)."""
        return {"n_way": self.n_way, "channels": self.channels, "image_size": self.image_size,
                "n_blocks": self.n_blocks}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.functional_forward(dict(self.named_parameters()), x)

    def features(self, params, x: torch.Tensor) -> torch.Tensor:
        """The flattened output of the conv blocks (what the head sees), ``(n, n_features)``."""
        for i in range(self.n_blocks):
            x = F.conv2d(x, params[f"convs.{i}.weight"], params[f"convs.{i}.bias"], padding=1)
            x = _batch_norm(x, params[f"norm_weight.{i}"], params[f"norm_bias.{i}"])
            x = F.relu(x)
            if x.shape[-1] >= 2:
                x = F.max_pool2d(x, 2)
        return x.flatten(1)

    def functional_forward(self, params, x: torch.Tensor) -> torch.Tensor:
        """Logits f_θ(x) for images ``(n, 1, S, S)`` with parameters ``params``."""
        return F.linear(self.features(params, x), params["head.weight"], params["head.bias"])


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The classification loss L of the image lessons (softmax cross-entropy, mean over images)."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of images whose largest logit is their label (over the last batch dimension)."""
    return (logits.argmax(-1) == labels).float().mean(-1)
