"""Small networks used by the lessons."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._validation import check_int

__all__ = ["MLP", "sinusoid_mlp"]


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
