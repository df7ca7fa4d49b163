"""The maths of gradient-based meta-learning as pure functions over parameter dicts.

Parameters are a plain ``dict[str, Tensor]`` passed to :func:`torch.func.functional_call`, so
adapting a model returns *new* parameters and never mutates a module. The one-task inner loop
reads like the formula of the lesson (seed §4)::

    θ'ᵢ = θ − α ∇θ L_Tᵢ(θ)                                  (inner update, one step)
    min_θ  Σᵢ L_Tᵢ(θ'ᵢ)                                      (outer objective)

and a meta-batch is one :func:`torch.func.vmap` over the tasks.

References
----------
Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
ICML 2017. Taught in ``notebooks/03_maml_inner_and_outer_loop.ipynb``.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from ._validation import DivergenceError, check_bool, check_int, check_labels, check_real, check_tensor

Params = Dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = [
    "Params",
    "get_params",
    "forward",
    "mse_loss",
    "task_loss",
    "inner_update",
    "loss_gradient",
    "adapt_steps",
    "adapt",
    "adapt_trajectory",
    "meta_loss",
    "batched_meta_loss",
    "meta_gradient",
    "meta_value_and_grad",
    "reptile_direction",
    "has_diverged",
    "inner_lr_hint",
    "check_task",
    "DivergenceError",
    "stable_inner_lr",
    "query_loss_curve",
    "largest_stable_inner_lr",
    "compile_meta_value_and_grad",
    "CompileWarning",
]

#: Largest inner learning rate any function here accepts.
MAX_INNER_LR = 10.0
#: Largest number of inner steps any function here accepts.
MAX_INNER_STEPS = 100


def get_params(model: nn.Module, *, requires_grad: bool = False) -> Params:
    """Copy a module's parameters into a new dict (detached from the module)."""
    return {
        name: p.detach().clone().requires_grad_(requires_grad) for name, p in model.named_parameters()
    }


def forward(model: nn.Module, params: Params, x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` with the parameters ``params`` instead of its own: f_θ(x).

    Any module works through :func:`torch.func.functional_call`. A model may also define
    ``functional_forward(params, x)``, a pure function computing the same thing, which is used
    instead: for small networks it halves the cost of a meta-step (see benchmarks/).
    """
    functional_forward = getattr(model, "functional_forward", None)
    if functional_forward is not None:
        return functional_forward(params, x)
    return functional_call(model, params, (x,))


def mse_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, the default loss L of the regression lessons.

    Equal to ``torch.nn.functional.mse_loss``, written with elementary ops because their
    double-backward under ``vmap`` is cheaper than the fused kernel's.
    """
    difference = prediction - target
    return (difference * difference).mean()


#: What the entry points check targets against: real values, one per output of the model.
mse_loss.target_kind = "values"


def task_loss(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn = mse_loss):
    """L_T(θ): the loss of f_θ on one task's points ``(x, y)``."""
    return loss_fn(forward(model, params, x), y)


def inner_update(params: Params, grads: Params, inner_lr: float) -> Params:
    """One inner step, θ' = θ − α ∇θ L. Returns new tensors; ``params`` is left unchanged."""
    return {name: p - inner_lr * grads[name] for name, p in params.items()}


# -- The boundary: what every public entry point below checks once, before any work ----------------
# The building blocks above (forward, task_loss, inner_update, loss_gradient) and adapt_steps run
# inside loops and transforms and check nothing; the entry points check their arguments once, and
# ``check_inputs=False`` lets a caller that already did (an estimator, MAML.fit after its first
# batch, a grid under vmap) skip the checks and the divergence test of the result.


def _check_adapt_args(inner_lr, n_inner_steps, first_order=False, loss_fn=mse_loss):
    check_real("inner_lr", inner_lr, 0.0, MAX_INNER_LR)
    check_int("n_inner_steps", n_inner_steps, 0, MAX_INNER_STEPS)
    check_bool("first_order", first_order)
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be a function L(prediction, target) such as functional.mse_loss; "
                         f"got {type(loss_fn).__name__}")


def _check_model_and_params(model, params, name: str = "params") -> torch.dtype:
    """``model`` is a module (or has ``functional_forward``); ``params`` holds exactly its parameters,
    of its shapes, finite. Returns their dtype, which the inputs must share."""
    if not (isinstance(model, nn.Module) or callable(getattr(model, "functional_forward", None))):
        raise ValueError(f"model must be a torch.nn.Module such as mtlviz.MLP((1, 40, 40, 1)); "
                         f"got {type(model).__name__}")
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{name} must be a non-empty dict of parameter name to tensor "
                         f"(functional.get_params(model)); got {type(params).__name__}")
    expected = {n: p.shape for n, p in model.named_parameters()} if isinstance(model, nn.Module) else {}
    if expected:
        missing = [n for n in expected if n not in params]
        unknown = [n for n in params if n not in expected]
        if missing or unknown:
            problem = f"missing {missing}" if missing else f"names the model does not have: {unknown}"
            raise ValueError(f"{name} must hold exactly the model's parameters {list(expected)}; {problem}")
    dtype = None
    for key, tensor in params.items():
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            found = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"{name}[{key!r}] must be a floating-point torch.Tensor; got {found}")
        if key in expected and tensor.shape != expected[key]:
            raise ValueError(f"{name}[{key!r}] must have shape {tuple(expected[key])} for this model; "
                             f"got {tuple(tensor.shape)}")
        dtype = tensor.dtype if dtype is None else dtype
    if not _all_finite(params.values()):
        key = next(key for key, tensor in params.items() if not bool(torch.isfinite(tensor).all()))
        raise ValueError(f"{name}[{key!r}] must be finite; it holds NaN or infinite values")
    return dtype


def _input_words(shape) -> str:
    if len(shape) == 1:
        return f"{shape[0]} input feature{'s' if shape[0] != 1 else ''} per point"
    if len(shape) == 3:
        return f"{shape[0]}-channel {shape[1]}×{shape[2]} images"
    return f"inputs of shape {tuple(shape)}"


def _check_points(model, dtype, x, y, x_name, y_name, loss_fn, lead):
    """``x``: ``lead`` leading dimensions ((K,) or (N, K)) then one input of the model; ``y``: the
    same leading dimensions, then one target per model output ("values") or nothing (labels)."""
    lead_names = ("N", "K") if lead == 2 else ("K",)
    check_tensor(x_name, x, floating=True)
    if y is not None:
        check_tensor(y_name, y)
    input_shape = getattr(model, "input_shape", None)
    if input_shape is not None:
        if x.ndim != lead + len(input_shape) or tuple(x.shape[lead:]) != tuple(input_shape):
            want = ", ".join(lead_names + tuple(str(d) for d in input_shape))
            raise ValueError(f"{x_name} must have shape ({want}) for this model ({_input_words(input_shape)}); "
                             f"got shape {tuple(x.shape)}")
    elif x.ndim < lead + 1:
        raise ValueError(f"{x_name} must have shape ({', '.join(lead_names)}, features...); got shape {tuple(x.shape)}")
    if lead == 2 and x.shape[0] < 1:
        raise ValueError(f"{x_name} must hold at least 1 task; got shape {tuple(x.shape)}")
    if x.shape[lead - 1] < 1:
        raise ValueError(f"{x_name} must hold at least 1 point{' per task' if lead == 2 else ''}; "
                         f"got shape {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{x_name} must have the parameters' dtype {dtype}; got {x.dtype}")
    if y is None:  # inputs only (predict)
        return
    lead_shape = tuple(x.shape[:lead])
    kind = getattr(loss_fn, "target_kind", None)
    n_outputs = getattr(model, "output_size", None)
    if kind == "labels":
        check_labels(y_name, y, n_outputs)
        if tuple(y.shape) != lead_shape:
            raise ValueError(f"{y_name} must have shape {lead_shape}, one class label per point of {x_name}; "
                             f"got shape {tuple(y.shape)}")
        return
    if lead == 1 and y.ndim >= 1 and y.shape[0] != x.shape[0]:
        raise ValueError(f"{x_name} and {y_name} must hold the same number of points; got {x.shape[0]} and {y.shape[0]}")
    if y.ndim < lead or tuple(y.shape[:lead]) != lead_shape:
        raise ValueError(f"{y_name} must have the same leading dimensions {lead_shape} as {x_name}; "
                         f"got shape {tuple(y.shape)}")
    if kind == "values":
        if not y.is_floating_point() or (dtype is not None and y.dtype != dtype):
            raise ValueError(f"{y_name} must hold real targets of the parameters' dtype {dtype}; got {y.dtype}")
        if n_outputs is not None and tuple(y.shape) != lead_shape + (n_outputs,):
            want = ", ".join(lead_names + (str(n_outputs),))
            raise ValueError(f"{y_name} must have shape ({want}), one target per output of the model; "
                             f"got shape {tuple(y.shape)}")


def check_task(
    model: nn.Module,
    params: Params,
    x: torch.Tensor,
    y: Optional[torch.Tensor],
    *,
    loss_fn: LossFn = mse_loss,
    batched: bool = False,
    x_name: str = "x_support",
    y_name: str = "y_support",
) -> None:
    """The check every entry point runs once: ``model`` a module, ``params`` exactly its
    parameters (shapes, finite), ``x`` finite points the model takes (``(K, *input_shape)``, or
    ``(N, K, *input_shape)`` with ``batched``, in θ's dtype, at least one point) and ``y`` their
    targets: ``(K, output_size)`` reals for the squared error, ``(K,)`` integer labels in
    ``[0, output_size − 1]`` for ``nets.cross_entropy`` (``y=None``: inputs only). Raises ``ValueError`` naming the argument
    and what it must be. The model's ``input_shape``/``output_size`` are used where it has them
    (:class:`~mtlviz.nets.MLP`, :class:`~mtlviz.nets.ConvNet`).
    """
    dtype = _check_model_and_params(model, params)
    _check_points(model, dtype, x, y, x_name, y_name, loss_fn, 2 if batched else 1)


def _check_batch(model, params, x_support, y_support, x_query, y_query, loss_fn):
    dtype = _check_model_and_params(model, params)
    _check_points(model, dtype, x_support, y_support, "x_support", "y_support", loss_fn, 2)
    _check_points(model, dtype, x_query, y_query, "x_query", "y_query", loss_fn, 2)
    if x_query.shape[0] != x_support.shape[0] or x_query.shape[2:] != x_support.shape[2:]:
        raise ValueError(f"x_query must hold the same tasks N and features as x_support {tuple(x_support.shape)}; "
                         f"got shape {tuple(x_query.shape)}")


# -- Divergence: a result that is NaN or infinite raises, with the α to try ------------------------

#: Tasks of a meta-batch searched for a stable α when a result diverged (the search is the slow part).
_HINT_TASKS = 16


def inner_lr_hint(stable_inner_lr: Optional[float]) -> str:
    """"try α below 0.3": the hint the dashboards and :class:`DivergenceError` give, from the
    largest stable α (:func:`largest_stable_inner_lr`) rounded down to two significant digits
    (so that the suggested α is itself below the limit); "try a smaller α" when none is known."""
    if stable_inner_lr is None or not math.isfinite(stable_inner_lr) or stable_inner_lr <= 0:
        return "try a smaller α"
    exponent = math.floor(math.log10(stable_inner_lr)) - 1
    shown = math.floor(stable_inner_lr / 10**exponent) * 10**exponent
    return f"try α below {shown:.2g}"


def _all_finite(tensors) -> bool:
    """True if no tensor holds NaN or inf: one scan of them all (a third of the time of one check
    per tensor on the sinusoid MLP's six)."""
    flat = [t.detach().reshape(-1) for t in tensors]
    return not flat or bool(torch.cat(flat).isfinite().all())


def divergence_error(what: str, model, params, x_support, y_support, *, inner_lr: float, n_inner_steps: int,
                     loss_fn: LossFn = mse_loss, batched: bool = False) -> DivergenceError:
    """The :class:`DivergenceError` for ``what`` (a result found NaN or infinite), with the α to try:
    the largest α for which the same inner steps do not diverge on the support set(s), searched
    on up to 16 tasks of a batch. For the estimators, which check their own results."""
    steps = f"{n_inner_steps} inner step{'s' if n_inner_steps != 1 else ''}"
    if inner_lr == 0 or n_inner_steps == 0:
        return DivergenceError(f"{what} is NaN or infinite with no adaptation ({steps} at α = {inner_lr:g}): "
                               "θ or the inputs are too large for this network")
    theta = {name: p.detach() for name, p in params.items()}
    tasks = list(zip(x_support[:_HINT_TASKS], y_support[:_HINT_TASKS])) if batched else [(x_support, y_support)]
    stable = [_largest_stable_inner_lr(model, theta, xs, ys, n_inner_steps, min(float(inner_lr), MAX_INNER_LR),
                                       loss_fn, 0.05) for xs, ys in tasks]
    lowest = None if any(s is None for s in stable) else min(stable)
    hint = inner_lr_hint(lowest if lowest is not None and lowest < inner_lr else None)
    return DivergenceError(f"{what} diverged: NaN or infinite after {steps} at α = {inner_lr:g}; {hint}")


def _check_result(tensors, what, model, params, x_support, y_support, inner_lr, n_inner_steps, loss_fn, batched):
    if _use_func_grad():  # inside vmap/grad/compile the values are not concrete; the caller checks
        return
    if not _all_finite(tensors):
        raise divergence_error(what, model, params, x_support, y_support, inner_lr=inner_lr,
                               n_inner_steps=n_inner_steps, loss_fn=loss_fn, batched=batched)


def _use_func_grad() -> bool:
    """True while ``torch.compile`` traces, or inside a :mod:`torch.func` transform (the tasks'
    ``vmap`` of :func:`meta_loss`): there the inner gradient must be ``torch.func.grad``.

    ``torch.compiler.is_compiling()`` comes first: Dynamo reads it as the constant True, so it
    never traces the functorch query after it, whose non-tensor result would break the graph.
    """
    return torch.compiler.is_compiling() or torch._C._functorch.maybe_current_level() is not None


def loss_gradient(loss: Callable[[Params], torch.Tensor], params: Params, *, create_graph: bool = True) -> Params:
    """∇θ L(θ) as a dict, differentiable with respect to ``params`` when ``create_graph`` is set.

    Inside a :mod:`torch.func` transform or ``torch.compile`` this is ``torch.func.grad(loss)(params)``.
    Outside them (a dashboard adapting to one task) it is the same gradient from ``torch.autograd.grad``:
    ``torch.func.grad`` imports ``torch._dynamo`` on its first call, which costs every dashboard
    kernel ~2 s of CPU and ~70 MB (``benchmarks/kernel_footprint.py``), and it keeps each step's
    graph while an adapted parameter is alive. Parameters that do not require a gradient are
    differentiated as fresh leaves, so the result is then a plain tensor, as ``torch.func.grad``'s.
    """
    if _use_func_grad():
        return grad(loss)(params)
    tracked = any(p.requires_grad for p in params.values())
    with torch.enable_grad():
        inputs = {name: p if p.requires_grad else p.detach().requires_grad_() for name, p in params.items()}
        value = loss(inputs)
        grads = torch.autograd.grad(value, list(inputs.values()), create_graph=create_graph and tracked,
                                    allow_unused=True)
    return {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(params.items(), grads)}


def adapt_steps(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order, loss_fn):
    """Yield θ, then θ' after each inner step (the single inner loop of the package)."""

    def support_loss(p):
        return task_loss(model, p, x_support, y_support, loss_fn)

    adapted = params
    yield adapted
    for _ in range(n_inner_steps):
        grads = loss_gradient(support_loss, adapted, create_graph=not first_order)  # ∇θ L_T(θ), support set
        if first_order:
            # First-order MAML: treat the inner gradient as a constant, so ∂θ'/∂θ = I.
            grads = {name: g.detach() for name, g in grads.items()}
        adapted = inner_update(adapted, grads, inner_lr)  # θ' = θ − α∇θL
        yield adapted


def adapt(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int = 1,
    first_order: bool = False,
    loss_fn: LossFn = mse_loss,
    check_inputs: bool = True,
) -> Params:
    """Adapt ``params`` to one task by ``n_inner_steps`` of gradient descent on its support set.

    Parameters
    ----------
    model : nn.Module
        The architecture f; its own parameters are not used.
    params : dict of str to Tensor
        θ, the starting point (the meta-learned initialisation).
    x_support, y_support : Tensor
        The task's support set D^tr.
    inner_lr : float
        α, in [0, 10].
    n_inner_steps : int
        Number of inner steps, in [0, 100].
    first_order : bool
        Drop the second-order term of the meta-gradient (FOMAML).
    loss_fn : callable
        L(prediction, target); mean squared error by default.
    check_inputs : bool
        Check the arguments (:func:`check_task`) and the result; False for a caller that did.

    Returns
    -------
    dict of str to Tensor
        θ'. Differentiable with respect to ``params`` (second order unless ``first_order``).

    Raises
    ------
    ValueError
        An argument out of its range, naming it.
    DivergenceError
        θ' is NaN or infinite (α too large); the message says which α to try.
    """
    if check_inputs:
        _check_adapt_args(inner_lr, n_inner_steps, first_order, loss_fn)
        check_task(model, params, x_support, y_support, loss_fn=loss_fn)
    adapted = _adapt(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order, loss_fn)
    if check_inputs:
        _check_result(adapted.values(), "adapt", model, params, x_support, y_support, inner_lr, n_inner_steps,
                      loss_fn, False)
    return adapted


def _adapt(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order, loss_fn):
    *_, adapted = adapt_steps(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order, loss_fn)
    return adapted


def _adapted_query_loss(model, params, x_support, y_support, x_query, y_query, inner_lr, n_inner_steps,
                        first_order, support_loss_fn, query_loss_fn, multi_step_loss):
    """The query loss after the inner steps: after the last one (MAML), or with ``multi_step_loss``
    the mean over the query losses after steps 1 … n (the multi-step loss of MAML++, Antoniou,
    Edwards & Storkey, ICLR 2019, with equal weights)."""
    if not multi_step_loss or n_inner_steps <= 1:
        adapted = _adapt(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order, support_loss_fn)
        return task_loss(model, adapted, x_query, y_query, query_loss_fn)
    _, *trajectory = adapt_steps(model, params, x_support, y_support, inner_lr, n_inner_steps, first_order,
                                 support_loss_fn)  # θ'ᵢ after steps 1 … n (θ itself is not scored)
    total = task_loss(model, trajectory[0], x_query, y_query, query_loss_fn)
    for adapted in trajectory[1:]:
        total = total + task_loss(model, adapted, x_query, y_query, query_loss_fn)
    return total / n_inner_steps


def adapt_trajectory(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int = 1,
    loss_fn: LossFn = mse_loss,
    check_inputs: bool = True,
) -> List[Params]:
    """Like :func:`adapt`, but return ``[θ, θ'₁, …, θ'ₙ]``, the parameters after every step.

    Used by the dashboards to draw the prediction after each inner step. No graph is kept. A
    curve for drawing: where the steps diverge its entries are NaN or infinite instead of raising
    (:func:`has_diverged` on the losses tells). ``check_inputs=False`` skips the argument checks.
    """
    if check_inputs:
        _check_adapt_args(inner_lr, n_inner_steps, False, loss_fn)
        check_task(model, params, x_support, y_support, loss_fn=loss_fn)
    with torch.enable_grad():
        steps = adapt_steps(model, params, x_support, y_support, inner_lr, n_inner_steps, True, loss_fn)
        return [{name: p.detach() for name, p in step.items()} for step in steps]


def meta_loss(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int = 1,
    first_order: bool = False,
    loss_fn: LossFn = mse_loss,
    check_inputs: bool = True,
    multi_step_loss: bool = False,
) -> torch.Tensor:
    """The MAML objective on a meta-batch: (1/N) Σᵢ L_Tᵢ(θ'ᵢ) on each task's query set.

    The tensors carry the tasks in their first dimension: ``x_support`` is ``(N, K, d)``,
    ``x_query`` is ``(N, Q, d)``. Each task is adapted on its support set and scored on its
    query set (the split that the seed's formula leaves implicit); the tasks are batched with
    one ``vmap``. With ``n_inner_steps=0`` this is ordinary joint training on all tasks.
    The mean rather than the seed's sum only rescales the gradient by 1/N. A NaN or infinite
    value raises :class:`DivergenceError` naming the α to try. ``check_inputs=False`` skips the
    argument checks and that test (used inside ``torch.compile`` and ``vmap``, after checking
    outside). ``multi_step_loss=True`` scores each task by the mean of its query losses after
    inner steps 1 … n instead of after step n only (MAML++'s multi-step loss, Antoniou et al.
    2019; the same objective when n = 1): a θ from which further steps stay stable.
    """
    if check_inputs:
        _check_adapt_args(inner_lr, n_inner_steps, first_order, loss_fn)
        check_bool("multi_step_loss", multi_step_loss)
        _check_batch(model, params, x_support, y_support, x_query, y_query, loss_fn)

    def one_task(xs, ys, xq, yq):  # L_Tᵢ(θ'ᵢ) on the query set, θ'ᵢ adapted on the support set
        return _adapted_query_loss(model, params, xs, ys, xq, yq, inner_lr, n_inner_steps, first_order,
                                   loss_fn, loss_fn, multi_step_loss)

    loss = vmap(one_task)(x_support, y_support, x_query, y_query).mean()
    if check_inputs:
        _check_result([loss], "meta_loss", model, params, x_support, y_support, inner_lr, n_inner_steps, loss_fn, True)
    return loss


# -- Performance variants of meta_loss -----------------------------------------------------------
# The same objective, computed faster. meta_loss above is the formula; these two only rearrange
# its arithmetic, and the tests hold them to it and to the plain loop of mtlviz.reference.


def batched_meta_loss(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int = 1,
    first_order: bool = False,
    loss_fn: LossFn = mse_loss,
    check_inputs: bool = True,
    multi_step_loss: bool = False,
) -> torch.Tensor:
    """:func:`meta_loss` without ``vmap``: one copy of θ per task, all tasks adapted at once.

    θ is expanded to ``(N, ...)``, one copy θᵢ per task, and the package's one inner loop runs on
    the summed support loss Σᵢ L_Tᵢ(θᵢ). Task j's loss does not depend on θᵢ (i ≠ j), so the
    gradient of the sum with respect to θᵢ is ∇L_Tᵢ(θᵢ): every task takes its own step, with plain
    autograd and batched matrix products (about twice as fast as the ``vmap`` of :func:`meta_loss`
    on the sinusoid MLP, ``benchmarks/maml_speed.py``). Same arguments and value as
    :func:`meta_loss`.

    It needs a model whose ``functional_forward`` accepts parameters with a leading task
    dimension (``model.batches_tasks``, as :class:`~mtlviz.nets.MLP`) and the default loss,
    a mean over the points of equal-sized tasks; for anything else it returns :func:`meta_loss`.
    """
    if not (getattr(model, "batches_tasks", False) and loss_fn is mse_loss):
        return meta_loss(model, params, x_support, y_support, x_query, y_query, inner_lr=inner_lr,
                         n_inner_steps=n_inner_steps, first_order=first_order, loss_fn=loss_fn,
                         check_inputs=check_inputs, multi_step_loss=multi_step_loss)
    if check_inputs:
        _check_adapt_args(inner_lr, n_inner_steps, first_order, loss_fn)
        check_bool("multi_step_loss", multi_step_loss)
        _check_batch(model, params, x_support, y_support, x_query, y_query, loss_fn)
    n_tasks = x_support.shape[0]

    def summed_task_losses(prediction, target):
        return n_tasks * loss_fn(prediction, target)  # Σᵢ L_Tᵢ: the mean over N tasks' points, times N

    per_task = {name: p.expand(n_tasks, *p.shape) for name, p in params.items()}  # θᵢ = θ for each task
    # θ'ᵢ for every task, then (1/N) Σᵢ L_Tᵢ(θ'ᵢ) on the query sets
    loss = _adapted_query_loss(model, per_task, x_support, y_support, x_query, y_query, inner_lr, n_inner_steps,
                               first_order, summed_task_losses, loss_fn, multi_step_loss)
    if check_inputs:
        _check_result([loss], "meta_loss", model, params, x_support, y_support, inner_lr, n_inner_steps, loss_fn, True)
    return loss


class CompileWarning(RuntimeWarning):
    """``torch.compile`` failed here; the computation went on without it (slower, same values)."""


def _root_cause(error: BaseException) -> str:
    """``Type: first line`` of the innermost exception (torch.compile wraps a backend's error)."""
    while (inner := getattr(error, "inner_exception", None) or error.__cause__) is not None:
        error = inner
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return f"{type(error).__name__}: {first_line}"


class _ThinLayerForward:
    """A batched ``nn.Sequential`` of ``Linear`` and ``ReLU`` layers (the :class:`~mtlviz.nets.MLP`),
    with every layer whose input or output width is 1 written as a broadcast product.

    Used only inside the compiled meta-gradient. ``model.functional_forward`` computes a batched
    layer as ``baddbmm``: for the sinusoid network's first (1 → 40) and last (40 → 1) layers that is
    a matrix product with a dimension of 1, which Inductor hands to the BLAS library as an opaque
    call, twice more for each backward pass. As ``x * w`` (and ``(x * w).sum(-1)``) those layers
    and their first and second derivatives become element-wise code that Inductor fuses with its
    neighbours: 12 instead of 16 library calls per second-order meta-step, ~15% faster
    (``benchmarks/maml_speed.py``). Same values to float32 rounding (tests/test_functional.py).
    """

    batches_tasks = True

    def __init__(self, model: nn.Module):
        self.model = model

    @staticmethod
    def applies_to(model) -> bool:
        """True for a task-batching ``nn.Sequential`` of ``Linear`` layers with ``ReLU`` between them."""
        return (getattr(model, "batches_tasks", False) and isinstance(model, nn.Sequential) and len(model) > 0
                and all(isinstance(layer, nn.Linear if index % 2 == 0 else nn.ReLU)
                        for index, layer in enumerate(model))
                and isinstance(model[len(model) - 1], nn.Linear))

    def functional_forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.model):
            if isinstance(layer, nn.ReLU):
                x = torch.relu(x)
                continue
            weight, bias = params[f"{index}.weight"], params[f"{index}.bias"]  # (N, out, in), (N, out)
            if weight.ndim != 3:
                x = F.linear(x, weight, bias)
            elif weight.shape[2] == 1:  # in = 1: (N, K, 1) * (N, 1, out)
                x = x * weight.transpose(1, 2) + bias.unsqueeze(1)
            elif weight.shape[1] == 1:  # out = 1: Σ over in of (N, K, in) * (N, 1, in)
                x = (x * weight).sum(-1, keepdim=True) + bias.unsqueeze(1)
            else:  # (N, K, in) @ (N, in, out) + (N, 1, out)
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
        return x


def _meta_value_and_grad(model, params, x_support, y_support, x_query, y_query, inner_lr, n_inner_steps,
                         first_order, loss_fn, multi_step_loss=False):
    """(∇θ L, L) of :func:`batched_meta_loss`, entirely in :mod:`torch.func` (what is compiled)."""
    if _ThinLayerForward.applies_to(model):
        model = _ThinLayerForward(model)

    def objective(theta):
        return batched_meta_loss(model, theta, x_support, y_support, x_query, y_query, inner_lr=inner_lr,
                                 n_inner_steps=n_inner_steps, first_order=first_order, loss_fn=loss_fn,
                                 check_inputs=False, multi_step_loss=multi_step_loss)

    return torch.func.grad_and_value(objective)(params)


#: Inductor settings of :func:`compile_meta_value_and_grad`, what makes its meta-step fast
#: (``tests/test_compiled_meta_step.py``; RESULTS.md's "MAML speed").
INDUCTOR_OPTIONS = {"cpp_wrapper": True}


#: What the shipped files trained through the compiled path were made with (``sinusoid_fomaml.pt``,
#: lesson 11's ``task_pool.pt``): Inductor's scalar loops, called from Python, built without a
#: vector instruction set. Their commands asked for that with ``cpp.vec_isa_ok=False`` as the
#: first compilation of their process, which left torch's cached list of usable instruction sets
#: empty. Within a process that had compiled the fast path first, that option was ignored on a
#: CPU with AVX-512: torch 2.13 caches ``VecAVX512.__bool__`` without the option, so the "shipped"
#: code came out vectorised (on an AMD EPYC, 2026-12-05; ``tests/test_compiled_meta_step.py``);
#: and after a shipped compilation the fast path had no instruction set left. A vector width that
#: no instruction set has (``cpp.simdlen=1``) picks none, whatever was compiled before, and
#: leaves the cached list alone.
SHIPPED_FILES_OPTIONS = {"cpp.simdlen": 1}
_shipped_files_code = {"depth": 0}


@contextlib.contextmanager
def shipped_files_code():
    """Meta-gradients compiled by :func:`compile_meta_value_and_grad` within this context run the
    code the shipped files trained through the compiled path were made with
    (:data:`SHIPPED_FILES_OPTIONS`), so that their commands give back the same bits.

    The fast code (:data:`INDUCTOR_OPTIONS`) sums in another order; over 15,000 steps that
    rounding moves a run elsewhere, and FOMAML's one-step recipe from seed 0 then ends at query
    MSE 0.645 / 0.471 ± 0.209 / 0.415 ± 0.169 after 1 / 5 / 10 steps instead of the shipped
    0.624 / 0.372 / 0.328 (RESULTS.md). Same numbers per step to rounding, about 30% slower.
    """
    _shipped_files_code["depth"] += 1
    try:
        yield
    finally:
        _shipped_files_code["depth"] -= 1


def compile_meta_value_and_grad(*, backend: str = "inductor") -> Callable[..., Tuple[torch.Tensor, Params]]:
    """:func:`meta_value_and_grad` under ``torch.compile``: same arguments and numbers, faster.

    What is compiled is the whole meta-gradient, ``torch.func.grad_and_value`` of
    :func:`batched_meta_loss`, as one graph (``fullgraph=True``: a graph break raises instead of
    silently running most of the work eagerly). Arguments are checked in eager mode, outside the
    graph. The first call with new shapes, step count or order compiles (about 15 s on 2 CPU
    cores for one inner step from a cold cache, 2-4 s once Inductor's on-disk cache is warm); α
    is passed as a tensor, so changing it does not recompile.

    If compiling fails on this platform (no C++ compiler, an unsupported Python), one
    :class:`CompileWarning` says so and every call computes the same numbers eagerly instead.
    ``check_inputs=False`` skips the argument checks (about 50 µs of a 0.33 ms step): for a
    training loop that checked its first batch, as ``MAML.fit`` does.
    ``backend`` is ``torch.compile``'s ("aot_eager" traces the same graph without generating
    code: the tests use it to check for graph breaks quickly).
    """
    # Inductor's vectorised C++ (at::vec) and its C++ wrapper (the graph's calls made from C++, not
    # Python): 0.30-0.32 ms per second-order one-step meta-gradient against 0.43 ms without either
    # (alternating runs on a quiet machine, 2026-12-04), for a cold compile of 15 s instead of 6.
    fast = not _shipped_files_code["depth"]
    options = dict(INDUCTOR_OPTIONS if fast else SHIPPED_FILES_OPTIONS) if backend == "inductor" else None
    compiled = torch.compile(_meta_value_and_grad, fullgraph=True, dynamic=False, backend=backend, options=options)

    state = {"failed": False, "inner_lr": None, "alpha": None}

    def compiled_meta_value_and_grad(model, params, x_support, y_support, x_query, y_query, *, inner_lr,
                                     n_inner_steps=1, first_order=False, loss_fn=mse_loss, check_inputs=True,
                                     multi_step_loss=False):
        if check_inputs:
            _check_adapt_args(inner_lr, n_inner_steps, first_order, loss_fn)
            check_bool("multi_step_loss", multi_step_loss)
            _check_batch(model, params, x_support, y_support, x_query, y_query, loss_fn)
        if not state["failed"]:
            theta = {name: p.detach() for name, p in params.items()}
            if state["inner_lr"] != inner_lr:  # α as a 0-d tensor, made once per value
                state["inner_lr"], state["alpha"] = inner_lr, torch.tensor(float(inner_lr))
            try:
                grads, value = compiled(model, theta, x_support, y_support, x_query, y_query,
                                        state["alpha"], n_inner_steps, first_order, loss_fn, multi_step_loss)
            except Exception as error:  # a platform without a working compiler: warn once, go on eagerly
                state["failed"] = True
                warnings.warn(f"torch.compile failed here ({_root_cause(error)}); meta-training goes on "
                              "without it (same results, slower)", CompileWarning, stacklevel=2)
        if state["failed"]:  # the same numbers, eagerly (arguments already checked above)
            value, grads = meta_value_and_grad(model, params, x_support, y_support, x_query, y_query,
                                               inner_lr=inner_lr, n_inner_steps=n_inner_steps,
                                               first_order=first_order, loss_fn=loss_fn, check_inputs=False,
                                               multi_step_loss=multi_step_loss)
        if check_inputs:
            _check_result([value, *grads.values()], "meta_value_and_grad", model, params, x_support, y_support,
                          inner_lr, n_inner_steps, loss_fn, True)
        return value, grads

    return compiled_meta_value_and_grad


def _check_gradients(grads, kwargs, model, params, batch):
    if kwargs.get("check_inputs", True) and len(batch) >= 2:
        _check_result(grads.values(), "the meta-gradient", model, params, batch[0], batch[1],
                      kwargs.get("inner_lr"), kwargs.get("n_inner_steps", 1), kwargs.get("loss_fn", mse_loss), True)


def _check_differentiable(params, kwargs):
    if kwargs.get("check_inputs", True) and isinstance(params, dict):
        frozen = [name for name, p in params.items() if isinstance(p, torch.Tensor) and not p.requires_grad]
        if frozen:
            raise ValueError(f"params must require grad to be differentiated (get_params(model, requires_grad=True)); "
                             f"{frozen[0]!r} does not")


def meta_gradient(model: nn.Module, params: Params, *batch: torch.Tensor, **kwargs) -> Params:
    """∇θ of :func:`meta_loss`; ``params`` must require grad. Same arguments as ``meta_loss``;
    a NaN or infinite gradient raises :class:`DivergenceError`."""
    _check_differentiable(params, kwargs)
    loss = meta_loss(model, params, *batch, **kwargs)
    grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
    _check_gradients(grads, kwargs, model, params, batch)
    return grads


def meta_value_and_grad(model: nn.Module, params: Params, *batch: torch.Tensor,
                        **kwargs) -> Tuple[torch.Tensor, Params]:
    """The meta-loss and its gradient ∇θ, as :func:`mtlviz.meta.maml.outer_step` needs them.

    The value of :func:`meta_loss`, computed by :func:`batched_meta_loss` (the same numbers,
    faster); ``params`` must require grad. Same arguments as ``meta_loss``; the loss comes back
    detached. :func:`compile_meta_value_and_grad` makes a compiled function with this contract.
    """
    _check_differentiable(params, kwargs)
    loss = batched_meta_loss(model, params, *batch, **kwargs)
    grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
    _check_gradients(grads, kwargs, model, params, batch)
    return loss.detach(), grads


def reptile_direction(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int = 1,
    loss_fn: LossFn = mse_loss,
) -> Params:
    """Reptile's update direction (1/N) Σᵢ (θ̃ᵢ − θ), where θ̃ᵢ is θ after ``n_inner_steps`` steps
    of gradient descent on task i's support set; Reptile then moves θ ← θ + ε·direction.

    The steps are :func:`adapt_steps` (the package's one inner loop), first order: Reptile never
    differentiates through them. ``x_support`` is ``(N, K, d)``, the tasks batched with ``vmap``.
    With one step the direction is −α (1/N) Σᵢ ∇L_Tᵢ(θ), plain joint training on the support
    sets; MAML-like terms appear from two steps on (Nichol et al. 2018, section 5). No graph is
    kept.

    References
    ----------
    Nichol, Achiam & Schulman, "On First-Order Meta-Learning Algorithms", arXiv:1803.02999, 2018,
    algorithm 2 and section 5. Taught in ``notebooks/02_maml_formula_made_visible.ipynb``.
    """
    _check_adapt_args(inner_lr, n_inner_steps, False, loss_fn)
    check_task(model, params, x_support, y_support, loss_fn=loss_fn, batched=True)
    params = {name: p.detach() for name, p in params.items()}

    def one_task(xs, ys):
        adapted = _adapt(model, params, xs, ys, inner_lr, n_inner_steps, True, loss_fn)  # θ̃ᵢ
        return {name: adapted[name] - params[name] for name in params}  # θ̃ᵢ − θ

    with torch.enable_grad():
        if getattr(model, "batches_tasks", False) and loss_fn is mse_loss:
            steps = _batched_reptile_steps(model, params, x_support, y_support, inner_lr, n_inner_steps)
        else:
            steps = vmap(one_task)(x_support, y_support)
    direction = {name: step.mean(0).detach() for name, step in steps.items()}
    _check_result(direction.values(), "reptile_direction", model, params, x_support, y_support, inner_lr,
                  n_inner_steps, loss_fn, True)
    return direction


def _each_task_steps(model, params, x_support, y_support, inner_lr, n_inner_steps):
    """One copy of θ per task, ``(N, ...)``, and the first-order inner loop on the summed support
    loss Σᵢ L_Tᵢ(θᵢ) (each θᵢ gets its own task's gradient): ``(per_task, steps)``, ``steps``
    yielding θᵢ after 0…n steps for every task at once. The vmap-free path of
    :func:`query_loss_curve` and :func:`reptile_direction` (as :func:`batched_meta_loss` does it):
    the same numbers, and no ``torch._dynamo`` import, which ``torch.func.grad`` inside ``vmap``
    costs a dashboard kernel (~1.2 CPU-s)."""
    n_tasks = x_support.shape[0]

    def summed_task_losses(prediction, target):
        return n_tasks * mse_loss(prediction, target)  # Σᵢ L_Tᵢ(θᵢ): each θᵢ gets its own task's gradient

    per_task = {name: p.expand(n_tasks, *p.shape) for name, p in params.items()}
    return per_task, adapt_steps(model, per_task, x_support, y_support, inner_lr, n_inner_steps, True,
                                 summed_task_losses)


def _batched_reptile_steps(model, params, x_support, y_support, inner_lr, n_inner_steps) -> Params:
    """θ̃ᵢ − θ for every task without ``vmap`` (lesson 02 draws Reptile's arrow at page open)."""
    per_task, steps = _each_task_steps(model, params, x_support, y_support, inner_lr, n_inner_steps)
    *_, adapted = steps
    return {name: adapted[name] - per_task[name] for name in params}


def has_diverged(losses: torch.Tensor, *, growth: float = 100.0) -> bool:
    """True if a sequence of losses became non-finite or grew ``growth`` times above its start.

    Gradient descent with too large a step overshoots and its loss explodes; the dashboards use
    this to show a message instead of a plot of NaNs. ``growth`` is in [1, inf).
    """
    check_real("growth", growth, 1.0, None)
    try:
        losses = torch.as_tensor(losses)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"losses must be a sequence of numbers; got {type(losses).__name__}") from None
    if losses.numel() == 0 or not (losses.is_floating_point() or losses.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"losses must hold at least 1 number; got {losses.numel()} of dtype {losses.dtype}")
    if not bool(torch.isfinite(losses).all()):
        return True
    start = float(losses[0])
    return bool((losses > growth * max(start, 1e-8)).any())


def stable_inner_lr(
    model: nn.Module,
    params: Params,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = mse_loss,
    n_iterations: int = 30,
) -> float:
    """Estimate 2/λ_max, the largest α for which gradient descent is locally stable.

    On a quadratic, θ ← θ − α∇L converges only if α < 2/λ_max, where λ_max is the largest
    eigenvalue of the Hessian. λ_max is found by power iteration on Hessian-vector products
    (double backward), never forming the Hessian; ``n_iterations`` in [1, 1000].
    """
    check_int("n_iterations", n_iterations, 1, 1000)
    _check_adapt_args(0.0, 0, False, loss_fn)
    check_task(model, params, x, y, loss_fn=loss_fn, x_name="x", y_name="y")
    names = list(params)
    leaves = [params[name].detach().requires_grad_(True) for name in names]
    with torch.enable_grad():
        loss = task_loss(model, dict(zip(names, leaves)), x, y, loss_fn)
        grads = torch.autograd.grad(loss, leaves, create_graph=True)
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in leaves]
    eigenvalue = 0.0
    for _ in range(n_iterations):
        norm = math.sqrt(sum(float((t * t).sum()) for t in v)) or 1.0
        v = [t / norm for t in v]
        # H v by double backward: ∇θ (∇θL · v)
        hv = torch.autograd.grad(grads, leaves, grad_outputs=v, retain_graph=True)
        eigenvalue = sum(float((a * b).sum()) for a, b in zip(hv, v))  # Rayleigh quotient vᵀHv
        v = list(hv)
    return 2.0 / eigenvalue if eigenvalue > 0 else math.inf


def largest_stable_inner_lr(
    model: nn.Module,
    params: Params,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    n_inner_steps: int,
    high: float,
    loss_fn: LossFn = mse_loss,
    rtol: float = 0.05,
    check_inputs: bool = True,
) -> Optional[float]:
    """The largest α ≤ ``high`` for which ``n_inner_steps`` of gradient descent on ``(x, y)`` do
    not diverge (:func:`has_diverged`), found by bisection on log α; None if even 1e-8 diverges.

    Unlike :func:`stable_inner_lr`, which is exact only for a quadratic loss, this runs the
    actual steps, so it also accounts for the loss changing shape along the way. ``high`` is in
    (0, 10], ``rtol`` (the bracket's relative width at the end) in [1e-6, 1].
    """
    if check_inputs:
        check_real("high", high, 0.0, MAX_INNER_LR, low_inclusive=False)
        check_int("n_inner_steps", n_inner_steps, 1, MAX_INNER_STEPS)
        check_real("rtol", rtol, 1e-6, 1.0)
        _check_adapt_args(high, n_inner_steps, False, loss_fn)
        check_task(model, params, x, y, loss_fn=loss_fn, x_name="x", y_name="y")
    return _largest_stable_inner_lr(model, {name: p.detach() for name, p in params.items()}, x, y, n_inner_steps,
                                    high, loss_fn, rtol)


def _largest_stable_inner_lr(model, params, x, y, n_inner_steps, high, loss_fn, rtol):

    def diverges(inner_lr):
        with torch.enable_grad():
            steps = adapt_steps(model, params, x, y, inner_lr, n_inner_steps, True, loss_fn)
            losses = torch.stack([task_loss(model, p, x, y, loss_fn).detach() for p in steps])
        return has_diverged(losses)

    if not diverges(high):
        return high
    low = high
    while diverges(low):
        low /= 10.0
        if low < 1e-8:
            return None
    high = min(high, low * 10.0)
    while high / low > 1.0 + rtol:
        middle = math.sqrt(low * high)
        if diverges(middle):
            high = middle
        else:
            low = middle
    return low


def query_loss_curve(
    model: nn.Module,
    params: Params,
    x_support: torch.Tensor,
    y_support: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    *,
    inner_lr: float,
    n_inner_steps: int,
    loss_fn: LossFn = mse_loss,
    check_inputs: bool = True,
) -> torch.Tensor:
    """Query loss of every task after 0, 1, …, n inner steps: a ``(N, n_inner_steps + 1)`` tensor.

    Each task of the batch (first dimension) is adapted on its own support set and scored on
    its own query set after every step; the tasks are batched with ``vmap``. No graph is kept.
    A curve for drawing: entries are NaN or infinite where adaptation diverged (no error).
    ``check_inputs=False`` skips the argument checks.
    """
    if check_inputs:
        _check_adapt_args(inner_lr, n_inner_steps, False, loss_fn)
        _check_batch(model, params, x_support, y_support, x_query, y_query, loss_fn)
    params = {name: p.detach() for name, p in params.items()}
    if getattr(model, "batches_tasks", False) and loss_fn is mse_loss:
        return _batched_query_loss_curve(model, params, x_support, y_support, x_query, y_query, inner_lr,
                                         n_inner_steps)

    def one_task(xs, ys, xq, yq):
        steps = adapt_steps(model, params, xs, ys, inner_lr, n_inner_steps, True, loss_fn)
        return torch.stack([task_loss(model, p, xq, yq, loss_fn) for p in steps])

    with torch.enable_grad():
        return vmap(one_task)(x_support, y_support, x_query, y_query).detach()


def _batched_query_loss_curve(model, params, x_support, y_support, x_query, y_query, inner_lr, n_inner_steps):
    """:func:`query_loss_curve` without ``vmap`` (:func:`_each_task_steps`): the same numbers, and a
    dashboard kernel evaluating a test batch does not import ``torch._dynamo``."""

    def per_task_query_loss(p):  # (N,): L_Tᵢ(θᵢ) on task i's query set
        return ((forward(model, p, x_query) - y_query) ** 2).flatten(1).mean(1)

    with torch.enable_grad():
        _, steps = _each_task_steps(model, params, x_support, y_support, inner_lr, n_inner_steps)
        return torch.stack([per_task_query_loss(p).detach() for p in steps], dim=1)
