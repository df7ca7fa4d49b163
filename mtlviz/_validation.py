"""Argument checks shared by every public function, and the error a diverging computation raises.

Each check raises ``ValueError`` naming the parameter and its allowed range, so a student who
types ``inner_lr=-1`` reads what to change instead of a stack of tensor errors. Public entry points
check their arguments once, at the boundary; the functions they call on the way down trust them.

:class:`DivergenceError` is what a public call raises when its result is NaN or infinite (gradient
descent with too large a step): its message says which step size to lower, and below what where
that can be computed (:func:`mtlviz.functional.inner_lr_hint`).
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Tuple

import torch

__all__ = [
    "DivergenceError",
    "check_real",
    "check_int",
    "check_range",
    "check_bool",
    "check_choice",
    "check_tensor",
    "check_labels",
    "check_random_state",
]


class DivergenceError(RuntimeError):
    """A public call's result became NaN or infinite: gradient descent overshot (too large a step).

    The message names the call, the step size in use and what to try instead, e.g.
    ``adapt diverged: the adapted parameters θ' are NaN or infinite after 5 inner steps at
    α = 2; try α below 0.3``. Curves meant for drawing (``adapt_trajectory``,
    ``query_loss_curve``, ``trace_adaptation``) do not raise: they carry the non-finite values,
    which :func:`mtlviz.functional.has_diverged` detects and the dashboards show as a warning.
    A ``RuntimeError``, so the dashboards' guard shows it as one line.
    """


def _interval(low, high, low_inclusive, high_inclusive) -> str:
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_real(
    name: str,
    value,
    low: Optional[float] = None,
    high: Optional[float] = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float if it is a finite real number in the interval."""
    interval = _interval(low, high, low_inclusive, high_inclusive)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {interval}; got {value!r}")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number in {interval}; got {value}")
    too_low = low is not None and (value < low or (value == low and not low_inclusive))
    too_high = high is not None and (value > high or (value == high and not high_inclusive))
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}; got {value:g}")
    return value


def check_range(name: str, value) -> Tuple[float, float]:
    """A pair ``(low, high)`` of finite reals with ``low < high``, e.g. a task family's parameter
    range or a plot's axis limits."""
    try:
        low, high = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) with low < high; got {value!r}") from None
    low = check_real(f"{name}[0]", low)
    high = check_real(f"{name}[1]", high, low, low_inclusive=False)
    return (low, high)


def check_int(name: str, value, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``."""
    interval = _interval(low, high, True, True)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {interval}; got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in {interval}; got {value}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (not 1, "no" or None)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return value


def check_choice(name: str, value, choices: Sequence):
    """Return ``value`` if it is one of ``choices`` (compared only with values of the same type)."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_tensor(
    name: str,
    value,
    *,
    ndim: Optional[int] = None,
    last_dims: Sequence[Optional[int]] = (),
    min_first: int = 0,
    floating: bool = False,
) -> torch.Tensor:
    """Check that ``value`` is a tensor of the expected shape whose floating values are finite.

    ``last_dims`` gives the sizes required of the trailing dimensions (``None`` for any size);
    ``min_first`` the smallest size allowed for the first dimension; ``floating`` requires a
    floating-point dtype (inputs and regression targets; class labels are integers).
    """
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise ValueError(f"{name} must hold floating-point values (torch.float32); got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        want = ", ".join("n" if d is None else str(d) for d in ([None] * (ndim - len(last_dims)) + list(last_dims)))
        raise ValueError(f"{name} must have {ndim} dimensions, shape ({want}); got shape {tuple(value.shape)}")
    for offset, size in enumerate(reversed(list(last_dims)), start=1):
        if size is not None and (value.ndim < offset or value.shape[-offset] != size):
            raise ValueError(
                f"{name} must have size {size} in dimension {-offset}; got shape {tuple(value.shape)}"
            )
    if value.ndim and value.shape[0] < min_first:
        raise ValueError(f"{name} must hold at least {min_first} rows; got shape {tuple(value.shape)}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or infinite values")
    return value


def check_labels(name: str, value, n_classes: Optional[int] = None) -> torch.Tensor:
    """Check that ``value`` is a tensor of integer class labels in ``[0, n_classes - 1]``.

    Float labels (even whole ones) and booleans are refused: ``cross_entropy`` reads float targets
    as class probabilities, which is not what a label tensor means.
    """
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of class labels; got {type(value).__name__}")
    high = "n_classes - 1" if n_classes is None else str(n_classes - 1)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels in [0, {high}] (torch.int64); got dtype {value.dtype}")
    if value.numel():
        low_found, high_found = int(value.min()), int(value.max())
        if low_found < 0 or (n_classes is not None and high_found >= n_classes):
            bad = low_found if low_found < 0 else high_found
            raise ValueError(f"{name} must hold class labels in [0, {high}]; got {bad}")
    return value


def check_random_state(random_state) -> torch.Generator:
    """Turn ``None``, an int seed or a ``torch.Generator`` into a ``torch.Generator``."""
    if isinstance(random_state, torch.Generator):
        return random_state
    gen = torch.Generator()
    if random_state is None:
        gen.seed()
        return gen
    seed = check_int("random_state", random_state, 0, 2**63 - 1)
    gen.manual_seed(seed)
    return gen


def draw_seed(generator: torch.Generator) -> int:
    """Draw a fresh int seed from ``generator`` (for code that needs an int, not a generator)."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
