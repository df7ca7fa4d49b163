"""Task families and samplers. Every sampler takes ``random_state``.

A *task* T is a small learning problem; a meta-learner sees many tasks drawn from a family
p(T) and must adapt quickly to a new one. Each task here comes with a support set (the K
examples the learner adapts on, D^tr) and a query set (fresh examples it is scored on, D^val).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Tuple

import torch

from .._validation import check_int, check_random_state, check_range, check_real, check_tensor

__all__ = ["TaskBatch", "SinusoidTasks", "LineTasks", "QueryIsSupport", "TaskPool", "MAX_POOL_SIZE"]


class TaskBatch(NamedTuple):
    """A meta-batch of N regression tasks; the first dimension indexes the tasks.

    x_support, y_support: (N, K, 1); x_query, y_query: (N, Q, 1); amplitude, phase: (N,).
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    amplitude: torch.Tensor
    phase: torch.Tensor

    @property
    def data(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_support, y_support, x_query, y_query), the arguments of ``functional.meta_loss``."""
        return self.x_support, self.y_support, self.x_query, self.y_query

    def task(self, i: int) -> "TaskBatch":
        """The i-th task alone, as a batch of one."""
        return TaskBatch(*(t[i : i + 1] for t in self))


class SinusoidTasks:
    """The sinusoid regression family of Finn et al. (2017): y = A sin(x − φ).

    Each task draws A ~ U[0.1, 5.0] and φ ~ U[0, π]; its inputs are x ~ U[−5, 5].

    Parameters
    ----------
    amplitude_range, phase_range, x_range : (float, float)
        The ranges of A, φ and x; the defaults are the paper's.

    References
    ----------
    Finn, Abbeel & Levine, ICML 2017, section 5.1.
    """

    def __init__(self, amplitude_range=(0.1, 5.0), phase_range=(0.0, math.pi), x_range=(-5.0, 5.0)):
        self.amplitude_range = check_range("amplitude_range", amplitude_range)
        self.phase_range = check_range("phase_range", phase_range)
        self.x_range = check_range("x_range", x_range)

    def __repr__(self):
        return (f"SinusoidTasks(amplitude_range={self.amplitude_range}, phase_range="
                f"({self.phase_range[0]:.4g}, {self.phase_range[1]:.4g}), x_range={self.x_range})")

    @staticmethod
    def function(x: torch.Tensor, amplitude, phase) -> torch.Tensor:
        """The true curve of a task, A sin(x − φ); broadcasts over leading dimensions."""
        amplitude = torch.as_tensor(amplitude, dtype=x.dtype)
        phase = torch.as_tensor(phase, dtype=x.dtype)
        if amplitude.ndim:  # (N,) task parameters against (N, K, 1) inputs
            amplitude = amplitude.view(-1, *([1] * (x.ndim - 1)))
            phase = phase.view(-1, *([1] * (x.ndim - 1)))
        return amplitude * torch.sin(x - phase)

    def mean_function(self, x: torch.Tensor) -> torch.Tensor:
        """The family's mean task E[y | x], over A and φ drawn from their ranges.

        E[A sin(x − φ)] = E[A] · (cos(x − φ_max) − cos(x − φ_min)) / (φ_max − φ_min); with the
        paper's ranges, −(2·E[A]/π)·cos x ≈ −1.62 cos x: the function a network trained on all
        tasks pooled learns (lesson 03), not y = 0.
        """
        check_tensor("x", x, floating=True)
        mean_amplitude = sum(self.amplitude_range) / 2
        low, high = self.phase_range
        return mean_amplitude * (torch.cos(x - high) - torch.cos(x - low)) / (high - low)

    @staticmethod
    def _check_dtype(dtype):
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch dtype (torch.float32 or torch.float64); got {dtype!r}")
        return dtype

    def _uniform(self, shape, bounds, generator, dtype):
        low, high = bounds
        return low + (high - low) * torch.rand(shape, generator=generator, dtype=dtype)

    def sample_points(self, amplitude: float, phase: float, n_points: int, random_state=None,
                      dtype=torch.float32):
        """Draw ``n_points`` inputs x ~ U[x_range] of one task and return ``(x, y)``, each (n, 1)."""
        amplitude = check_real("amplitude", amplitude, 0.0)
        phase = check_real("phase", phase)
        n_points = check_int("n_points", n_points, 1, 100_000)
        self._check_dtype(dtype)
        gen = check_random_state(random_state)
        x = self._uniform((n_points, 1), self.x_range, gen, dtype)
        return x, self.function(x, amplitude, phase)

    def sample_batch(self, n_tasks: int, n_support: int, n_query: int, random_state=None,
                     dtype=torch.float32) -> TaskBatch:
        """Draw ``n_tasks`` tasks, each with ``n_support`` support and ``n_query`` query points.

        Parameters
        ----------
        n_tasks : int
            N, the meta-batch size, in [1, 100000].
        n_support : int
            K, support points per task, in [1, 100000].
        n_query : int
            Query points per task, in [1, 100000].
        random_state : int, torch.Generator or None
            Seed or generator; the same seed gives the same tasks.
        """
        n_tasks = check_int("n_tasks", n_tasks, 1, 100_000)
        n_support = check_int("n_support", n_support, 1, 100_000)
        n_query = check_int("n_query", n_query, 1, 100_000)
        self._check_dtype(dtype)
        gen = check_random_state(random_state)
        amplitude = self._uniform((n_tasks,), self.amplitude_range, gen, dtype)
        phase = self._uniform((n_tasks,), self.phase_range, gen, dtype)
        x = self._uniform((n_tasks, n_support + n_query, 1), self.x_range, gen, dtype)
        y = self.function(x, amplitude, phase)
        return TaskBatch(x[:, :n_support], y[:, :n_support], x[:, n_support:], y[:, n_support:], amplitude, phase)


class LineTasks(SinusoidTasks):
    """Straight-line regression tasks y = a·x + c, for models small enough to draw (lesson 02).

    Each task draws its slope a ~ U[slope_range] and intercept c ~ U[intercept_range]; inputs
    x ~ U[x_range]. Fitted with f_θ(x) = w·x + b, every quantity of MAML lives in the (w, b) plane.
    The batch's ``amplitude`` and ``phase`` fields carry a and c.
    """

    def __init__(self, slope_range=(-2.0, 2.0), intercept_range=(-2.0, 2.0), x_range=(-2.0, 2.0)):
        # Checked under their own names first (the parent would report amplitude_range, phase_range).
        super().__init__(amplitude_range=check_range("slope_range", slope_range),
                         phase_range=check_range("intercept_range", intercept_range), x_range=x_range)

    def __repr__(self):
        return f"LineTasks(slope_range={self.amplitude_range}, intercept_range={self.phase_range}, x_range={self.x_range})"

    def sample_points(self, slope: float, intercept: float, n_points: int, random_state=None,
                      dtype=torch.float32):
        """Draw ``n_points`` inputs x ~ U[x_range] of the line a·x + c and return ``(x, y)``, each (n, 1)."""
        slope = check_real("slope", slope)
        intercept = check_real("intercept", intercept)
        n_points = check_int("n_points", n_points, 1, 100_000)
        self._check_dtype(dtype)
        x = self._uniform((n_points, 1), self.x_range, check_random_state(random_state), dtype)
        return x, self.function(x, slope, intercept)

    def mean_function(self, x: torch.Tensor) -> torch.Tensor:
        """The family's mean task E[y | x] = E[a]·x + E[c]."""
        check_tensor("x", x, floating=True)
        return sum(self.amplitude_range) / 2 * x + sum(self.phase_range) / 2

    @staticmethod
    def function(x: torch.Tensor, amplitude, phase) -> torch.Tensor:
        """The true line of a task, a·x + c (``amplitude`` = a, ``phase`` = c)."""
        slope = torch.as_tensor(amplitude, dtype=x.dtype)
        intercept = torch.as_tensor(phase, dtype=x.dtype)
        if slope.ndim:
            slope = slope.view(-1, *([1] * (x.ndim - 1)))
            intercept = intercept.view(-1, *([1] * (x.ndim - 1)))
        return slope * x + intercept


class QueryIsSupport:
    """A task family whose query set is its support set: the bug of the seed's code example.

    Wraps another family; ``sample_batch`` draws as usual, then scores each task on the very
    points it adapted on (the seed computes its inner and outer losses on the same ``x, y``).
    Meta-training then rewards memorising K points rather than generalising from them.
    Taught in ``notebooks/04_seed_code_example_corrected.ipynb``.
    """

    def __init__(self, tasks):
        if not hasattr(tasks, "sample_batch"):
            raise ValueError(f"tasks must be a task family with a sample_batch method; got {type(tasks).__name__}")
        self.tasks = tasks

    def __repr__(self):
        return f"QueryIsSupport({self.tasks!r})"

    def sample_batch(self, n_tasks: int, n_support: int, n_query: int, random_state=None, dtype=torch.float32) -> TaskBatch:
        """Like the wrapped family's, with ``x_query, y_query`` equal to the support set
        (``n_query`` is ignored: the query set has the K support points)."""
        batch = self.tasks.sample_batch(n_tasks, n_support, 1, random_state, dtype=dtype)
        return batch._replace(x_query=batch.x_support, y_query=batch.y_support)


#: Largest fixed pool :class:`TaskPool` draws (lesson 11's largest finite T is 1000).
MAX_POOL_SIZE = 100_000


class TaskPool:
    """A fixed pool of T tasks of a family: meta-training on T tasks instead of unlimited ones.

    The pool draws T task parameters (A, φ for the sinusoids) once, from ``random_state``; the
    first T tasks of a pool of any size are the same, so pools are nested (T = 5 ⊂ T = 10).
    ``sample_batch`` then picks N tasks from the pool, uniformly with replacement, and draws
    *fresh* support and query points x for each. What is fixed is the set of tasks, not the data
    points: a learner can only overfit to which functions it has seen (meta-overfitting across
    tasks), not memorise K particular points (the seed's bug of lesson 04 and
    :class:`QueryIsSupport` are that other failure). Taught in ``notebooks/11_how_many_tasks.ipynb``.

    Parameters
    ----------
    tasks : SinusoidTasks or LineTasks
        The family whose tasks the pool holds.
    n_tasks : int
        T, the pool's size, in [1, 100000].
    random_state : int, torch.Generator or None
        Seeds the draw of the pool's task parameters.

    Attributes
    ----------
    amplitude, phase : (T,) tensors
        The pool's task parameters (float64, exact; batches are cast to their dtype).
    """

    def __init__(self, tasks, n_tasks: int, random_state=None):
        if not isinstance(tasks, SinusoidTasks):
            raise ValueError(f"tasks must be a SinusoidTasks or LineTasks family; got {type(tasks).__name__}")
        self.tasks = tasks
        self.n_tasks = check_int("n_tasks", n_tasks, 1, MAX_POOL_SIZE)
        gen = check_random_state(random_state)
        unit = torch.rand((self.n_tasks, 2), generator=gen, dtype=torch.float64)  # task i: row i, so pools nest
        (a_low, a_high), (p_low, p_high) = tasks.amplitude_range, tasks.phase_range
        self.amplitude = a_low + (a_high - a_low) * unit[:, 0]
        self.phase = p_low + (p_high - p_low) * unit[:, 1]

    def __repr__(self):
        return f"TaskPool({self.tasks!r}, n_tasks={self.n_tasks})"

    def __len__(self) -> int:
        return self.n_tasks

    def batch_of(self, indices: torch.Tensor, n_support: int, n_query: int, random_state=None,
                 dtype=torch.float32) -> TaskBatch:
        """The pool's tasks ``indices`` (a 1-D integer tensor), each with fresh points x ~ U[x_range]."""
        if not isinstance(indices, torch.Tensor) or indices.ndim != 1 or indices.dtype not in (torch.int32, torch.int64):
            raise ValueError("indices must be a 1-D integer tensor")
        if len(indices) and not (0 <= int(indices.min()) and int(indices.max()) < self.n_tasks):
            raise ValueError(f"indices must be in [0, {self.n_tasks - 1}] (the pool's tasks); "
                             f"got {int(indices.min())} … {int(indices.max())}")
        n_support = check_int("n_support", n_support, 1, 100_000)
        n_query = check_int("n_query", n_query, 1, 100_000)
        self.tasks._check_dtype(dtype)
        gen = check_random_state(random_state)
        amplitude = self.amplitude[indices].to(dtype)
        phase = self.phase[indices].to(dtype)
        x = self.tasks._uniform((len(indices), n_support + n_query, 1), self.tasks.x_range, gen, dtype)
        y = self.tasks.function(x, amplitude, phase)
        return TaskBatch(x[:, :n_support], y[:, :n_support], x[:, n_support:], y[:, n_support:], amplitude, phase)

    def sample_batch(self, n_tasks: int, n_support: int, n_query: int, random_state=None,
                     dtype=torch.float32) -> TaskBatch:
        """Draw ``n_tasks`` of the pool's tasks (uniformly, with replacement), each with fresh
        ``n_support`` support and ``n_query`` query points; the signature of
        :meth:`SinusoidTasks.sample_batch`, so every estimator's ``fit`` takes a pool."""
        n_tasks = check_int("n_tasks", n_tasks, 1, 100_000)
        gen = check_random_state(random_state)
        indices = torch.randint(0, self.n_tasks, (n_tasks,), generator=gen)
        return self.batch_of(indices, n_support, n_query, gen, dtype)
