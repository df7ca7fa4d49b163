"""Argument checks shared by every public function.

Each check raises ``ValueError`` naming the parameter and its allowed range, so a student who
types ``inner_lr=-1`` reads what to change instead of a stack of tensor errors.
"""
from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence

import torch

__all__ = [
    "check_real",
    "check_int",
    "check_tensor",
    "check_random_state",
]


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


def check_int(name: str, value, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``."""
    interval = _interval(low, high, True, True)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {interval}; got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in {interval}; got {value}")
    return value


def check_tensor(
    name: str,
    value,
    *,
    ndim: Optional[int] = None,
    last_dims: Sequence[Optional[int]] = (),
    min_first: int = 0,
) -> torch.Tensor:
    """Check that ``value`` is a finite floating tensor of the expected shape.

    ``last_dims`` gives the sizes required of the trailing dimensions (``None`` for any size);
    ``min_first`` the smallest size allowed for the first dimension.
    """
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
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
