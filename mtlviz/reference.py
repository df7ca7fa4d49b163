"""A deliberately plain MAML: a Python loop over tasks with ``torch.autograd.grad``.

This is the textbook implementation, written independently of :mod:`mtlviz.functional`
(no ``torch.func.grad``, no ``vmap``). The tests check mtlviz's meta-gradient against it and the
benchmarks time mtlviz against it, so keep it simple and obviously right rather than fast.
"""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

__all__ = ["loop_meta_loss", "loop_meta_gradient"]


def loop_meta_loss(model: nn.Module, params: Dict[str, torch.Tensor], x_support, y_support, x_query, y_query,
                   *, inner_lr: float, n_inner_steps: int = 1, first_order: bool = False,
                   fast_forward: bool = False, multi_step_loss: bool = False) -> torch.Tensor:
    """(1/N) Σᵢ L_Tᵢ(θ'ᵢ), one task at a time.

    The forward pass is ``functional_call``, as a plain loop is usually written; with
    ``fast_forward`` it is the model's own ``functional_forward`` (for a like-for-like benchmark).
    ``multi_step_loss``: each task's query loss is averaged over the θ' after every inner step.
    """
    names = list(params)
    run = functional_call
    if fast_forward:
        def run(model, params, args):
            return model.functional_forward(params, *args)
    total = 0.0
    for i in range(x_support.shape[0]):
        adapted = [params[name] for name in names]
        step_losses = []
        for _ in range(n_inner_steps):
            prediction = run(model, dict(zip(names, adapted)), (x_support[i],))
            loss = F.mse_loss(prediction, y_support[i])
            grads = torch.autograd.grad(loss, adapted, create_graph=not first_order)
            adapted = [p - inner_lr * g for p, g in zip(adapted, grads)]
            if multi_step_loss:
                step_losses.append(F.mse_loss(run(model, dict(zip(names, adapted)), (x_query[i],)), y_query[i]))
        if step_losses:
            total = total + sum(step_losses) / len(step_losses)
        else:
            prediction = run(model, dict(zip(names, adapted)), (x_query[i],))
            total = total + F.mse_loss(prediction, y_query[i])
    return total / x_support.shape[0]


def loop_meta_gradient(model, params, *batch, **kwargs) -> Dict[str, torch.Tensor]:
    """∇θ of :func:`loop_meta_loss`."""
    loss = loop_meta_loss(model, params, *batch, **kwargs)
    return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
