"""One outer step of MAML: the loop body that the estimators run and lesson 04 shows."""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from . import functional as Fn
from .functional import Params
from .tasks import TaskBatch

__all__ = ["outer_step"]


def outer_step(model: nn.Module, params: Params, outer_optimizer: torch.optim.Optimizer, batch: TaskBatch, *,
               inner_lr: float, n_inner_steps: int = 1, first_order: bool = False,
               objective: Optional[Callable[..., torch.Tensor]] = None) -> float:
    """Move θ one step down the MAML objective of one meta-batch; return the meta-loss.

    The seed's ``maml(model, x, y, inner_lr, outer_lr)`` (lesson 04), corrected:

    - the adapted parameters θ'ᵢ are a dict of tensors, evaluated with ``functional.forward``
      (the seed calls its list of tensors as if it were a model);
    - each task adapts on its support set and is scored on its *query* set (the seed uses the
      same ``x, y`` twice);
    - the loss sums (averages) over a meta-batch of tasks (the seed takes one);
    - ``outer_optimizer`` exists, built by the caller with ``lr=outer_lr`` (β); the seed's
      ``optimizer`` is undefined and its ``outer_lr`` unused.
    """
    objective = Fn.meta_loss if objective is None else objective
    loss = objective(model, params, *batch.data, inner_lr=inner_lr, n_inner_steps=n_inner_steps,
                     first_order=first_order)  # (1/N) Σᵢ L_Tᵢ(θ'ᵢ) on the query sets
    outer_optimizer.zero_grad(set_to_none=True)
    loss.backward()  # ∇θ through the inner update (second order unless first_order)
    outer_optimizer.step()  # θ ← θ − β · Adam(∇θ)
    return float(loss.detach())
