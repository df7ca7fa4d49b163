"""One outer step of MAML: the loop body that the estimators run and lesson 04 shows."""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
from torch import nn

from . import functional as Fn
from .functional import Params
from .tasks import TaskBatch

__all__ = ["outer_step"]


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
