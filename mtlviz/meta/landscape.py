"""The MAML objective of two-parameter models, evaluated everywhere on a grid (lesson 02).

With f_θ(x) = w·x + b, θ = (w, b) is a point in the plane, so each task's loss, the adapted
θ'ᵢ = θ − α∇θL^tr_Tᵢ(θ), the joint-training objective Σᵢ L^val_Tᵢ(θ) and the MAML objective
Σᵢ L^val_Tᵢ(θ'ᵢ) can all be drawn (L^tr: the task's support-set loss, L^val: its query-set loss).
Grids are evaluated with one copy of θ per (grid point, task) pair, all adapted at once by the
package's inner loop (the arithmetic of :func:`mtlviz.functional.batched_meta_loss`; tested equal
to :func:`mtlviz.functional.meta_loss` point by point): no ``vmap`` and no ``torch.func.grad``,
which would import ``torch._dynamo`` into every lesson-02 kernel at page open.

For the line with squared loss everything is quadratic and MAML's optimum has a closed form
(:func:`linear_maml_optimum`); the second model, f_θ(x) = w·sin(x − b) (:func:`sine_model`), is
not, and there MAML's optimum moves away from joint training's however many points a task has.
:func:`update_directions` gives MAML's, first-order MAML's and Reptile's steps from one θ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.func import vmap

from .. import functional as Fn
from .._validation import check_int, check_range, check_real
from ..evaluation import mean_ci95
from ..nets import MLP
from ..data.tasks import LineTasks, TaskBatch

__all__ = ["task_optima", "line_model", "sine_model", "SineModel", "theta_params", "LandscapeGrid", "objective_grids",
           "task_loss_grids", "adapted_points", "MetaGradientParts", "meta_gradient_parts", "LinearMAMLTerms",
           "linear_maml_terms", "linear_maml_optimum", "OptimumGap", "optimum_gap_by_support_size",
           "numerical_maml_optimum", "UpdateDirections", "update_directions", "MODELS"]

#: The two-parameter models of lesson 02, by name.
MODELS = ("line", "sine")


def line_model() -> MLP:
    """f_θ(x) = w·x + b, the two-parameter model of lesson 02."""
    return MLP((1, 1))


class SineModel(nn.Module):
    """f_θ(x) = w·sin(x − b): amplitude w and phase b, the nonlinear two-parameter model of lesson 02.

    It can fit every task y = A·sin(x − φ) of :class:`~mtlviz.data.tasks.SinusoidTasks` exactly
    (w = A, b = φ), but its loss is not quadratic in θ: its Hessian changes with θ (∂f/∂b = −w·cos(x − b)).
    """

    #: One input feature and one output per point (what the entry points check inputs against).
    input_shape = (1,)
    output_size = 1
    #: ``functional_forward`` also takes parameters with a leading task dimension (w, b of shape
    #: ``(N, 1)`` against x of ``(N, K, 1)``), so the landscape needs no ``vmap`` (which would
    #: import ``torch._dynamo`` into every lesson-02 kernel: seconds of CPU, ~70 MB).
    batches_tasks = True

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.b = nn.Parameter(torch.zeros(1))

    def functional_forward(self, params, x):
        w, b = params["w"], params["b"]
        if x.ndim == w.ndim + 1:  # one (w, b) per task: (N, 1) against points (N, K, 1)
            w, b = w.unsqueeze(-2), b.unsqueeze(-2)
        return w * torch.sin(x - b)  # f_θ(x) = w·sin(x − b)

    def forward(self, x):
        return self.functional_forward({"w": self.w, "b": self.b}, x)


def sine_model() -> SineModel:
    """f_θ(x) = w·sin(x − b), the nonlinear two-parameter model of lesson 02."""
    return SineModel()


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    return model


def _make_model(model: str) -> nn.Module:
    return line_model() if _check_model(model) == "line" else sine_model()


def theta_params(w, b, model: str = "line") -> Fn.Params:
    """θ = (w, b) as the parameter dict of :func:`line_model` or :func:`sine_model` (works on
    batched w, b too)."""
    w, b = torch.as_tensor(w, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if _check_model(model) == "line":
        return {"0.weight": w.reshape(1, 1), "0.bias": b.reshape(1)}
    return {"w": w.reshape(1), "b": b.reshape(1)}


def _theta_copies(w: torch.Tensor, b: torch.Tensor, model: str, n_tasks: int) -> Fn.Params:
    """One parameter dict holding ``len(w) · n_tasks`` copies of θ: copy ``g · n_tasks + i`` is
    θ = (w[g], b[g]) for task i (the leading "task" dimension of a ``batches_tasks`` model)."""
    w = w.to(torch.float64).repeat_interleave(n_tasks)
    b = b.to(torch.float64).repeat_interleave(n_tasks)
    if model == "line":
        return {"0.weight": w.reshape(-1, 1, 1), "0.bias": b.reshape(-1, 1)}
    return {"w": w.reshape(-1, 1), "b": b.reshape(-1, 1)}


def _objective_at_points(net, model: str, data, w: torch.Tensor, b: torch.Tensor, inner_lr: float,
                         n_inner_steps: int) -> torch.Tensor:
    """The MAML objective (1/N) Σᵢ L^val_Tᵢ(θ'ᵢ) at each of the points θ = (w[g], b[g]), ``(G,)``,
    with no ``vmap``: every (point, task) pair is one copy of θ, all adapted at once by the
    package's inner loop on the summed support loss (as :func:`mtlviz.functional.batched_meta_loss`
    does for tasks). Values only (no graph)."""
    xs, ys, xq, yq = data
    n_tasks, n_points = xs.shape[0], w.numel()
    copies = _theta_copies(w.reshape(-1), b.reshape(-1), model, n_tasks)

    def tiled(t):
        return t.repeat(n_points, *([1] * (t.ndim - 1)))

    def summed(prediction, target):  # Σ over copies of each copy's mean squared error
        return n_tasks * n_points * Fn.mse_loss(prediction, target)

    *_, adapted = Fn.adapt_steps(net, copies, tiled(xs), tiled(ys), inner_lr, n_inner_steps, True, summed)
    with torch.no_grad():
        errors = ((Fn.forward(net, adapted, tiled(xq)) - tiled(yq)) ** 2).mean(dim=(1, 2))  # L^val per copy
    return errors.reshape(n_points, n_tasks).mean(1)


def _theta_of(params: Fn.Params) -> np.ndarray:
    """(w, b) of either model's parameter dict, as a numpy pair."""
    values = list(params.values())  # both dicts hold w first, then b
    return np.array([float(values[0].reshape(())), float(values[1].reshape(()))])


def _as_float64(batch: TaskBatch) -> Tuple[torch.Tensor, ...]:
    if not isinstance(batch, TaskBatch):
        raise ValueError(f"batch must be a TaskBatch (LineTasks().sample_batch(...)); got {type(batch).__name__}")
    return tuple(t.to(torch.float64) for t in batch.data)


@dataclass(frozen=True)
class LandscapeGrid:
    """Objective values on a (w, b) grid: ``values[i, j]`` is at ``(w[i], b[j])``."""

    w: np.ndarray
    b: np.ndarray
    values: np.ndarray

    def argmin(self) -> np.ndarray:
        """The grid point (w, b) with the smallest value."""
        i, j = np.unravel_index(np.argmin(self.values), self.values.shape)
        return np.array([self.w[i], self.b[j]])


def _axis(name, limits, n_points):
    low, high = check_range(name, limits)
    return torch.linspace(low, high, n_points, dtype=torch.float64)


def _grid(limits, n_points):
    """Axes and mesh; ``limits`` is (low, high) for both w and b, or ((w_low, w_high), (b_low, b_high))."""
    check_int("n_points", n_points, 2, 400)
    if np.ndim(limits) == 2:
        w_axis, b_axis = _axis("limits[0]", limits[0], n_points), _axis("limits[1]", limits[1], n_points)
    else:
        w_axis = b_axis = _axis("limits", limits, n_points)
    return (w_axis, b_axis), torch.meshgrid(w_axis, b_axis, indexing="ij")


def objective_grids(batch: TaskBatch, *, inner_lr: float, limits=(-3.0, 3.0), n_points: int = 60,
                    model: str = "line") -> Dict[str, LandscapeGrid]:
    """The joint-training objective (1/N) Σᵢ L^val_Tᵢ(θ) and the MAML objective
    (1/N) Σᵢ L^val_Tᵢ(θ − α∇θL^tr_Tᵢ(θ)) on a grid; at α = 0 the two are the same function."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    net = _make_model(model)
    data = _as_float64(batch)
    (w_axis, b_axis), (W, B) = _grid(limits, n_points)

    grids = {}
    for name, steps in [("joint", 0), ("maml", 1)]:
        values = _objective_at_points(net, model, data, W.flatten(), B.flatten(), inner_lr, steps).reshape(W.shape)
        grids[name] = LandscapeGrid(w_axis.numpy(), b_axis.numpy(), values.numpy())
    return grids


def task_loss_grids(batch: TaskBatch, *, limits=(-3.0, 3.0), n_points: int = 60, model: str = "line") -> list:
    """Each task's support loss L^tr_Tᵢ(θ) on a grid, one :class:`LandscapeGrid` per task."""
    net = _make_model(model)
    xs, ys, _, _ = _as_float64(batch)
    (w_axis, b_axis), (W, B) = _grid(limits, n_points)
    grids = []
    for i in range(xs.shape[0]):
        values = vmap(lambda w, b: Fn.task_loss(net, theta_params(w, b, model), xs[i], ys[i]))(W.flatten(), B.flatten())
        grids.append(LandscapeGrid(w_axis.numpy(), b_axis.numpy(), values.reshape(W.shape).detach().numpy()))
    return grids


def task_optima(batch: TaskBatch) -> np.ndarray:
    """θ*ᵢ, the minimum of each task's support loss L^tr_Tᵢ(θ) for the line: the least-squares
    line through its support points, an ``(N, 2)`` array of (w*, b*)."""
    xs, ys, _, _ = _as_float64(batch)
    design = torch.cat([xs, torch.ones_like(xs)], dim=-1)  # (N, K, 2): columns x and 1
    return torch.linalg.lstsq(design, ys).solution[..., 0].numpy()


def adapted_points(batch: TaskBatch, w: float, b: float, *, inner_lr: float, model: str = "line",
                   n_inner_steps: int = 1) -> np.ndarray:
    """θ'ᵢ = θ − α∇θL^tr_Tᵢ(θ) for every task (after ``n_inner_steps`` such steps): an ``(N, 2)``
    array of (w', b')."""
    net = _make_model(model)
    xs, ys, _, _ = _as_float64(batch)
    points = []
    for i in range(xs.shape[0]):
        adapted = Fn.adapt(net, theta_params(w, b, model), xs[i], ys[i], inner_lr=inner_lr,
                           n_inner_steps=n_inner_steps)
        points.append(_theta_of(adapted))
    return np.array(points)


@dataclass(frozen=True)
class MetaGradientParts:
    """The meta-gradient at θ with and without its second-order (Hessian) term.

    ``full`` = ∇θ (1/N)Σᵢ L^val_Tᵢ(θ'ᵢ) = (1/N)Σᵢ (I − α∇²L^tr_Tᵢ(θ)) ∇L^val_Tᵢ(θ'ᵢ); ``first_order``
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


def _meta_loss_at(net, model, data, inner_lr):
    def value(w, b):
        with torch.no_grad():
            return float(Fn.batched_meta_loss(net, theta_params(w, b, model), *data, inner_lr=inner_lr))
    return value


def meta_gradient_parts(batch: TaskBatch, w: float, b: float, *, inner_lr: float, eps: float = 1e-6,
                        model: str = "line") -> MetaGradientParts:
    """Second-order and first-order meta-gradients at θ = (w, b), and finite differences
    (central, step ``eps`` in (0, 0.1])."""
    check_real("w", w)
    check_real("b", b)
    check_real("eps", eps, 0.0, 0.1, low_inclusive=False)
    net = _make_model(model)
    data = _as_float64(batch)

    def gradient(first_order):  # meta_value_and_grad: the batched path, so no vmap and no torch._dynamo here
        params = {name: p.requires_grad_(True) for name, p in theta_params(w, b, model).items()}
        return _theta_of(Fn.meta_value_and_grad(net, params, *data, inner_lr=inner_lr, first_order=first_order)[1])

    value = _meta_loss_at(net, model, data, inner_lr)
    finite = np.array([(value(w + eps, b) - value(w - eps, b)) / (2 * eps),
                       (value(w, b + eps) - value(w, b - eps)) / (2 * eps)])
    return MetaGradientParts(gradient(False), gradient(True), finite)


# -- The line: MAML's optimum in closed form ------------------------------------------------------

def _quadratic_terms(x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """H and g of the mean squared error of w·x + b on points (x, y), so that
    L(θ) = ½ θᵀHθ − gᵀθ + const: H = (2/K) Σₖ [xₖ, 1][xₖ, 1]ᵀ, g = (2/K) Σₖ [xₖ, 1] yₖ.
    ``x``, ``y``: (..., K, 1); returns (..., 2, 2) and (..., 2)."""
    x, y = x[..., 0], y[..., 0]
    mean_x, mean_xx = x.mean(-1), (x * x).mean(-1)  # sums of 2x2 entries, cheaper than batched matmuls
    hessian = 2.0 * torch.stack([torch.stack([mean_xx, mean_x], -1),
                                 torch.stack([mean_x, torch.ones_like(mean_x)], -1)], -2)
    linear = 2.0 * torch.stack([(x * y).mean(-1), y.mean(-1)], -1)
    return hessian, linear


@dataclass(frozen=True)
class LinearMAMLTerms:
    """MAML's optimum for the line with squared loss, and the pieces of its closed form.

    With Hᵢ^tr, Hᵢ^val the Hessians of task i's support and query losses and Aᵢ = I − αHᵢ^tr,
    one inner step moves θ to θ'ᵢ = Aᵢθ + α gᵢ^tr, and the MAML objective
    Σᵢ L^val_Tᵢ(θ'ᵢ) is again quadratic in θ with Hessian Σᵢ AᵢHᵢ^valAᵢ. Its minimum is

        θ_MAML = (Σᵢ Wᵢ)⁻¹ Σᵢ Wᵢ mᵢ,    Wᵢ = (I − αHᵢ^tr) Hᵢ^val (I − αHᵢ^tr),

    a curvature-weighted average of the points mᵢ from which one inner step lands exactly on the
    query optimum θ*ᵢ^val. When a task's support and query sets share their least-squares line
    (noise-free tasks, or the query set is the support set), mᵢ is that line θ*ᵢ. At α = 0 the
    weights are Hᵢ^val and θ_MAML is joint training's optimum.
    """

    hessians_support: np.ndarray  # (N, 2, 2) Hᵢ^tr
    hessians_query: np.ndarray  # (N, 2, 2) Hᵢ^val
    weights: np.ndarray  # (N, 2, 2) Wᵢ
    targets: np.ndarray  # (N, 2) mᵢ
    optimum: np.ndarray  # (2,) θ_MAML
    joint_optimum: np.ndarray  # (2,) the same at α = 0
    maml_hessian: np.ndarray  # (2, 2) (1/N) Σᵢ Wᵢ, the curvature of the MAML objective
    joint_hessian: np.ndarray  # (2, 2) (1/N) Σᵢ Hᵢ^val, the curvature of the joint objective


def _linear_optimum(data: Sequence[torch.Tensor], inner_lr: float) -> torch.Tensor:
    """θ_MAML = (Σᵢ AᵢHᵢ^valAᵢ)⁻¹ Σᵢ Aᵢ(gᵢ^val − αHᵢ^val gᵢ^tr), batched over leading dimensions.

    From ∇θ Σᵢ L^val(Aᵢθ + αgᵢ^tr) = Σᵢ Aᵢ(Hᵢ^val(Aᵢθ + αgᵢ^tr) − gᵢ^val) = 0 (no inverse of Aᵢ
    needed, so it holds for K = 1 and at αHᵢ^tr = I too). Tasks are the second-to-last batch
    dimension of the (..., N, K, 1) tensors."""
    xs, ys, xq, yq = data
    h_tr, g_tr = _quadratic_terms(xs, ys)
    h_val, g_val = _quadratic_terms(xq, yq)
    a = torch.eye(2, dtype=h_tr.dtype) - inner_lr * h_tr  # Aᵢ = I − αHᵢ^tr, symmetric
    lhs = (a @ h_val @ a).sum(-3)
    rhs = (a @ (g_val - inner_lr * (h_val @ g_tr[..., None])[..., 0])[..., None]).sum(-3)[..., 0]
    return torch.linalg.solve(lhs, rhs)


def linear_maml_terms(batch: TaskBatch, *, inner_lr: float) -> LinearMAMLTerms:
    """MAML's and joint training's optima of f_θ(x) = w·x + b with squared loss, in closed form
    (see :class:`LinearMAMLTerms`). One inner step, support loss inside, query loss outside."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    data = _as_float64(batch)
    xs, ys, xq, yq = data
    h_tr, g_tr = _quadratic_terms(xs, ys)
    h_val, g_val = _quadratic_terms(xq, yq)
    a = torch.eye(2, dtype=torch.float64) - inner_lr * h_tr
    weights = a @ h_val @ a
    c = torch.linalg.lstsq(h_val, g_val[..., None]).solution[..., 0] - inner_lr * g_tr  # θ*ᵛ − αHᵗθ*ᵗ
    targets = torch.linalg.lstsq(a, c[..., None]).solution[..., 0]  # mᵢ = Aᵢ⁻¹cᵢ
    return LinearMAMLTerms(h_tr.numpy(), h_val.numpy(), weights.numpy(), targets.numpy(),
                           _linear_optimum(data, inner_lr).numpy(), _linear_optimum(data, 0.0).numpy(),
                           weights.mean(0).numpy(), h_val.mean(0).numpy())


def linear_maml_optimum(batch: TaskBatch, *, inner_lr: float) -> np.ndarray:
    """argmin over θ = (w, b) of (1/N) Σᵢ L^val_Tᵢ(θ − α∇θL^tr_Tᵢ(θ)) for the line, in closed form;
    at ``inner_lr=0`` the joint-training optimum."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    return _linear_optimum(_as_float64(batch), inner_lr).numpy()


@dataclass(frozen=True)
class OptimumGap:
    """‖θ_MAML − θ_joint‖ over many meta-batches for each K: ``mean[k]`` ± ``ci95[k]``."""

    support_sizes: Tuple[int, ...]
    mean: np.ndarray
    ci95: np.ndarray
    median: np.ndarray


def optimum_gap_by_support_size(support_sizes: Sequence[int], *, inner_lr: float, n_tasks: int = 4,
                                query_per_support: int = 2, n_batches: int = 200, tasks=None,
                                random_state: int = 0) -> OptimumGap:
    """How far MAML's optimum lies from joint training's for the line, against K.

    For each K, ``n_batches`` meta-batches of ``n_tasks`` tasks with K support and
    ``query_per_support``·K query points are drawn (the same tasks' lines for every K: the same
    seed draws slopes and intercepts first) and the distance between the two closed-form optima
    is averaged. As K grows every task's Hessian approaches the family's, so the gap shrinks.
    """
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    check_int("n_tasks", n_tasks, 1, 1000)
    check_int("query_per_support", query_per_support, 1, 100)
    check_int("n_batches", n_batches, 2, 100_000)
    tasks = LineTasks() if tasks is None else tasks
    means, cis, medians = [], [], []
    for k in support_sizes:
        k = check_int("support_sizes[...]", k, 1, 10_000)
        batch = tasks.sample_batch(n_tasks * n_batches, k, query_per_support * k, random_state=random_state,
                                   dtype=torch.float64)
        data = [t.reshape(n_batches, n_tasks, *t.shape[1:]) for t in batch.data]
        gaps = (_linear_optimum(data, inner_lr) - _linear_optimum(data, 0.0)).norm(dim=-1).numpy()
        mean, ci = mean_ci95(gaps)
        means.append(mean)
        cis.append(ci)
        medians.append(float(np.median(gaps)))
    return OptimumGap(tuple(int(k) for k in support_sizes), np.array(means), np.array(cis), np.array(medians))


# -- Any two-parameter model: numerical optimum, and three update rules from one θ ---------------

def numerical_maml_optimum(batch: TaskBatch, *, inner_lr: float, model: str = "line", limits=(-3.0, 3.0),
                           n_points: int = 80, n_inner_steps: int = 1) -> np.ndarray:
    """argmin over θ of the MAML objective found numerically: the best point of a grid over
    ``limits``, then Newton's method on the objective in float64 (``inner_lr=0``: joint training).

    The grid keeps Newton's method in the basin of the grid's best point: for the sine model the
    objective has more than one minimum (w → −w, b → b + π is the same function)."""
    check_real("inner_lr", inner_lr, 0.0, Fn.MAX_INNER_LR)
    check_int("n_inner_steps", n_inner_steps, 0, Fn.MAX_INNER_STEPS)
    net = _make_model(model)
    data = _as_float64(batch)
    (w_axis, b_axis), (W, B) = _grid(limits, n_points)

    def objective(w, b):
        return Fn.batched_meta_loss(net, theta_params(w, b, model), *data, inner_lr=inner_lr,
                                    n_inner_steps=n_inner_steps, check_inputs=False)

    values = _objective_at_points(net, model, data, W.flatten(), B.flatten(), inner_lr, n_inner_steps)
    start = torch.stack([W.flatten(), B.flatten()])[:, int(torch.argmin(values))]
    return _newton_minimise(lambda theta: objective(theta[0], theta[1]), start).numpy()


def _newton_minimise(objective, start: torch.Tensor, max_iter: int = 100, tolerance: float = 1e-10) -> torch.Tensor:
    """Minimise a smooth function of a few parameters from ``start`` by Newton's method with
    backtracking (a gradient step where the Hessian is not positive definite), until the
    gradient is below ``tolerance`` or a step no longer decreases the function in float64.

    Two parameters make the Hessian a 2×2 matrix, so this is exact and cheap; it replaces
    ``torch.optim.LBFGS``, whose first ``step()`` imports ``torch._dynamo`` (seconds of CPU in
    every lesson-02 kernel at page open)."""
    theta = start.detach().clone()
    for _ in range(max_iter):
        point = theta.clone().requires_grad_(True)
        value = objective(point)
        (gradient,) = torch.autograd.grad(value, point, create_graph=True)
        if float(gradient.detach().abs().max()) < tolerance:
            break
        hessian = torch.stack([torch.autograd.grad(gradient[i], point, retain_graph=True)[0]
                               for i in range(point.numel())])
        gradient, value = gradient.detach(), float(value.detach())
        try:
            step = -torch.linalg.solve(hessian.detach(), gradient)
            if float(step @ gradient) >= 0:  # not a descent direction: the Hessian is not positive definite
                step = -gradient
        except RuntimeError:  # a singular Hessian
            step = -gradient
        slope = float(step @ gradient)  # < 0: the predicted decrease per unit step
        if -slope <= 1e-15 * max(abs(value), 1e-300):  # the step cannot change the value in float64
            break
        size = 1.0
        while size > 1e-8:
            with torch.no_grad():
                if float(objective(theta + size * step)) <= value + 1e-4 * size * slope:
                    break
            size /= 2
        else:
            break  # no decrease along the step: at the minimum to float64 precision
        theta = theta + size * step
    return theta


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    if norms < 1e-15:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(u @ v / norms, -1.0, 1.0))))


@dataclass(frozen=True)
class UpdateDirections:
    """Where three meta-learning rules move θ = (w, b), each a step in the (w, b) plane.

    ``maml``: −∇θ (1/N)Σᵢ L^val_Tᵢ(θ'ᵢ), second order (through the inner step);
    ``first_order``: −(1/N)Σᵢ ∇L^val_Tᵢ(θ'ᵢ), first-order MAML (the Hessian term dropped);
    ``reptile``: (1/N)Σᵢ (θ̃ᵢ − θ), θ̃ᵢ after ``reptile_steps`` inner steps on the support set
    (Reptile moves θ ← θ + ε·reptile). ``finite_difference`` is ``−maml`` by central
    differences of the MAML objective, the independent check. Their lengths differ in kind
    (a gradient, a displacement); compare directions.
    """

    maml: np.ndarray
    first_order: np.ndarray
    reptile: np.ndarray
    finite_difference: np.ndarray
    reptile_steps: int

    @property
    def first_order_angle(self) -> float:
        """Degrees between the first-order MAML and MAML steps."""
        return _angle(self.first_order, self.maml)

    @property
    def reptile_angle(self) -> float:
        """Degrees between the Reptile and MAML steps."""
        return _angle(self.reptile, self.maml)

    @property
    def finite_difference_error(self) -> float:
        scale = max(np.linalg.norm(self.finite_difference), 1e-12)
        return float(np.linalg.norm(-self.maml - self.finite_difference) / scale)


def update_directions(batch: TaskBatch, w: float, b: float, *, inner_lr: float, model: str = "sine",
                      reptile_steps: int = 5, eps: float = 1e-6) -> UpdateDirections:
    """MAML's, first-order MAML's and Reptile's update directions at θ = (w, b).

    MAML and first-order MAML are :func:`mtlviz.functional.meta_gradient` (one inner step,
    ``first_order`` off and on); Reptile is :func:`mtlviz.functional.reptile_direction` with
    the same α on the support sets. All three run the package's one inner loop.

    References
    ----------
    Finn, Abbeel & Levine, ICML 2017 (MAML, first-order MAML, section 5.2); Nichol, Achiam &
    Schulman, arXiv:1803.02999, 2018 (Reptile).
    """
    check_int("reptile_steps", reptile_steps, 1, Fn.MAX_INNER_STEPS)
    parts = meta_gradient_parts(batch, w, b, inner_lr=inner_lr, eps=eps, model=model)
    net = _make_model(model)
    xs, ys, _, _ = _as_float64(batch)
    reptile = Fn.reptile_direction(net, theta_params(w, b, model), xs, ys, inner_lr=inner_lr,
                                   n_inner_steps=reptile_steps)
    return UpdateDirections(-parts.full, -parts.first_order, _theta_of(reptile), parts.finite_difference,
                            reptile_steps)
