"""The MAML objective of a two-parameter model, evaluated everywhere on a grid (lesson 02).

With f_θ(x) = w·x + b, θ = (w, b) is a point in the plane, so each task's loss, the adapted
θ'ᵢ = θ − α∇θL_Tᵢ(θ), the joint-training objective Σᵢ L_Tᵢ(θ) and the MAML objective
Σᵢ L_Tᵢ(θ'ᵢ) can all be drawn. Grids are evaluated with a ``vmap`` over grid points of
:func:`mtlviz.functional.meta_loss` (itself a ``vmap`` over tasks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import torch
from torch.func import vmap

from .. import functional as Fn
from .._validation import check_int, check_real
from ..nets import MLP
from ..data.tasks import TaskBatch

__all__ = ["task_optima", "line_model", "theta_params", "LandscapeGrid", "objective_grids", "task_loss_grids",
           "adapted_points", "MetaGradientParts", "meta_gradient_parts"]


def line_model() -> MLP:
    """f_θ(x) = w·x + b, the two-parameter model of lesson 02."""
    return MLP((1, 1))


def theta_params(w, b) -> Fn.Params:
    """θ = (w, b) as the parameter dict of :func:`line_model` (works on batched w, b too)."""
    w, b = torch.as_tensor(w, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return {"0.weight": w.reshape(1, 1), "0.bias": b.reshape(1)}


def _as_float64(batch: TaskBatch) -> Tuple[torch.Tensor, ...]:
    return tuple(t.to(torch.float64) for t in batch.data)


@dataclass(frozen=True)
class LandscapeGrid:
    """Objective values on a (w, b) grid: ``values[i, j]`` is at ``(w[i], b[j])``."""

    w: np.ndarray
    b: np.ndarray
    values: np.ndarray


def _grid(limits, n_points):
    check_int("n_points", n_points, 2, 400)
    low, high = limits
    check_real("limits[1]", high, low, low_inclusive=False)
    axis = torch.linspace(low, high, n_points, dtype=torch.float64)
    return axis, torch.meshgrid(axis, axis, indexing="ij")


def objective_grids(batch: TaskBatch, *, inner_lr: float, limits=(-3.0, 3.0), n_points: int = 60
                    ) -> Dict[str, LandscapeGrid]:
    """The joint-training objective (1/N) Σᵢ L_Tᵢ(θ) and the MAML objective
    (1/N) Σᵢ L_Tᵢ(θ − α∇θL_Tᵢ(θ)) on a grid; at α = 0 the two are the same function."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    model = line_model()
    data = _as_float64(batch)
    axis, (W, B) = _grid(limits, n_points)

    def at(w, b, n_inner_steps):
        return Fn.meta_loss(model, theta_params(w, b), *data, inner_lr=inner_lr, n_inner_steps=n_inner_steps,
                            check_inputs=False)

    grids = {}
    for name, steps in [("joint", 0), ("maml", 1)]:
        values = vmap(lambda w, b: at(w, b, steps))(W.flatten(), B.flatten()).reshape(W.shape)
        grids[name] = LandscapeGrid(axis.numpy(), axis.numpy(), values.detach().numpy())
    return grids


def task_loss_grids(batch: TaskBatch, *, limits=(-3.0, 3.0), n_points: int = 60) -> list:
    """Each task's support loss L_Tᵢ(θ) on a grid, one :class:`LandscapeGrid` per task."""
    model = line_model()
    xs, ys, _, _ = _as_float64(batch)
    axis, (W, B) = _grid(limits, n_points)
    grids = []
    for i in range(xs.shape[0]):
        values = vmap(lambda w, b: Fn.task_loss(model, theta_params(w, b), xs[i], ys[i]))(W.flatten(), B.flatten())
        grids.append(LandscapeGrid(axis.numpy(), axis.numpy(), values.reshape(W.shape).detach().numpy()))
    return grids


def task_optima(batch: TaskBatch) -> np.ndarray:
    """θ*ᵢ, the minimum of each task's support loss L_Tᵢ(θ): the least-squares line through its
    support points, an ``(N, 2)`` array of (w*, b*)."""
    xs, ys, _, _ = _as_float64(batch)
    design = torch.cat([xs, torch.ones_like(xs)], dim=-1)  # (N, K, 2): columns x and 1
    return torch.linalg.lstsq(design, ys).solution[..., 0].numpy()


def adapted_points(batch: TaskBatch, w: float, b: float, *, inner_lr: float) -> np.ndarray:
    """θ'ᵢ = θ − α∇θL_Tᵢ(θ) for every task: an ``(N, 2)`` array of (w', b')."""
    model = line_model()
    xs, ys, _, _ = _as_float64(batch)
    points = []
    for i in range(xs.shape[0]):
        adapted = Fn.adapt(model, theta_params(w, b), xs[i], ys[i], inner_lr=inner_lr, n_inner_steps=1)
        points.append([float(adapted["0.weight"]), float(adapted["0.bias"])])
    return np.array(points)


@dataclass(frozen=True)
class MetaGradientParts:
    """The meta-gradient at θ with and without its second-order (Hessian) term.

    ``full`` = ∇θ (1/N)Σᵢ L_Tᵢ(θ'ᵢ) = (1/N)Σᵢ (I − α∇²L_Tᵢ(θ)) ∇L_Tᵢ(θ'ᵢ); ``first_order``
    drops the Hessian; ``finite_difference`` is ``full`` by central differences (float64), the
    independent check.
    """

    full: np.ndarray
    first_order: np.ndarray
    finite_difference: np.ndarray

    @property
    def hessian_term(self) -> np.ndarray:
        return self.full - self.first_order

    @property
    def finite_difference_error(self) -> float:
        """Relative error of ``full`` against the finite differences."""
        scale = max(np.linalg.norm(self.finite_difference), 1e-12)
        return float(np.linalg.norm(self.full - self.finite_difference) / scale)


def meta_gradient_parts(batch: TaskBatch, w: float, b: float, *, inner_lr: float, eps: float = 1e-6
                        ) -> MetaGradientParts:
    """Second-order and first-order meta-gradients at θ = (w, b), and finite differences."""
    check_real("w", w)
    check_real("b", b)
    model = line_model()
    data = _as_float64(batch)

    def gradient(first_order):
        params = {name: p.requires_grad_(True) for name, p in theta_params(w, b).items()}
        g = Fn.meta_gradient(model, params, *data, inner_lr=inner_lr, first_order=first_order)
        return np.array([float(g["0.weight"]), float(g["0.bias"])])

    def value(dw, db):
        with torch.no_grad():
            return float(Fn.meta_loss(model, theta_params(w + dw, b + db), *data, inner_lr=inner_lr))

    finite = np.array([(value(eps, 0) - value(-eps, 0)) / (2 * eps), (value(0, eps) - value(0, -eps)) / (2 * eps)])
    return MetaGradientParts(gradient(False), gradient(True), finite)
