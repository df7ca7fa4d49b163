"""Bad input gives a ValueError that names the parameter and its allowed range.

A student who types ``inner_lr=-1`` must read what to change, not a stack of tensor errors.
The ranges in the expected messages are the documented ones (numpydoc of each function).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mtlviz import MAML, MLP, JointTraining, SinusoidTasks
from mtlviz import functional as Fn
from mtlviz._validation import check_int, check_random_state, check_real, check_tensor

pytestmark = pytest.mark.usefixtures("torch_one_thread")

NAN = float("nan")


def one_task():
    """A tiny network, its θ and one task's support and query sets, shapes (K, 1)."""
    model = MLP((1, 8, 1))
    x_support, y_support = SinusoidTasks().sample_points(1.0, 0.5, 5, random_state=0)
    x_query, y_query = SinusoidTasks().sample_points(1.0, 0.5, 6, random_state=1)
    return model, Fn.get_params(model), x_support, y_support, x_query, y_query


def meta_batch():
    """A tiny network, its θ (requiring grad) and a 3-task meta-batch, shapes (N, K, 1)."""
    model = MLP((1, 8, 1))
    return model, Fn.get_params(model, requires_grad=True), SinusoidTasks().sample_batch(3, 5, 6, random_state=0)


def call_adapt(inner_lr=0.1, n_inner_steps=1, x_support=None, y_support=None):
    model, params, xs, ys, _, _ = one_task()
    xs = xs if x_support is None else x_support
    ys = ys if y_support is None else y_support
    return Fn.adapt(model, params, xs, ys, inner_lr=inner_lr, n_inner_steps=n_inner_steps)


def call_meta_loss(inner_lr=0.1, n_inner_steps=1, replace=None):
    model, params, batch = meta_batch()
    data = dict(zip(["x_support", "y_support", "x_query", "y_query"], batch.data))
    data.update(replace or {})
    return Fn.meta_loss(model, params, *data.values(), inner_lr=inner_lr, n_inner_steps=n_inner_steps)


def call_curve(inner_lr=0.1, n_inner_steps=1):
    model, params, batch = meta_batch()
    return Fn.query_loss_curve(model, params, *batch.data, inner_lr=inner_lr, n_inner_steps=n_inner_steps)


def call_trajectory(inner_lr=0.1, n_inner_steps=1):
    model, params, xs, ys, _, _ = one_task()
    return Fn.adapt_trajectory(model, params, xs, ys, inner_lr=inner_lr, n_inner_steps=n_inner_steps)


# -- functional --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda: call_adapt(inner_lr=-1), r"inner_lr must be in \[0, 10\]; got -1", id="adapt-inner_lr-negative"),
        pytest.param(lambda: call_adapt(inner_lr=11), r"inner_lr must be in \[0, 10\]; got 11", id="adapt-inner_lr-too-large"),
        pytest.param(lambda: call_adapt(inner_lr=NAN), r"inner_lr must be a finite number in \[0, 10\]; got nan",
                     id="adapt-inner_lr-nan"),
        pytest.param(lambda: call_adapt(inner_lr="0.1"), r"inner_lr must be a real number in \[0, 10\]",
                     id="adapt-inner_lr-string"),
        pytest.param(lambda: call_adapt(n_inner_steps=-1), r"n_inner_steps must be in \[0, 100\]; got -1",
                     id="adapt-n_inner_steps-negative"),
        pytest.param(lambda: call_adapt(n_inner_steps=101), r"n_inner_steps must be in \[0, 100\]; got 101",
                     id="adapt-n_inner_steps-too-large"),
        pytest.param(lambda: call_adapt(n_inner_steps=2.0), r"n_inner_steps must be an integer in \[0, 100\]",
                     id="adapt-n_inner_steps-float"),
        pytest.param(lambda: call_meta_loss(inner_lr=-1), r"inner_lr must be in \[0, 10\]; got -1",
                     id="meta_loss-inner_lr-negative"),
        pytest.param(lambda: call_meta_loss(inner_lr=NAN), r"inner_lr must be a finite number in \[0, 10\]",
                     id="meta_loss-inner_lr-nan"),
        pytest.param(lambda: call_meta_loss(n_inner_steps=-1), r"n_inner_steps must be in \[0, 100\]; got -1",
                     id="meta_loss-n_inner_steps-negative"),
        pytest.param(lambda: call_trajectory(inner_lr=-1), r"inner_lr must be in \[0, 10\]; got -1",
                     id="adapt_trajectory-inner_lr-negative"),
        pytest.param(lambda: call_curve(inner_lr=-1), r"inner_lr must be in \[0, 10\]; got -1",
                     id="query_loss_curve-inner_lr-negative"),
        pytest.param(lambda: call_curve(n_inner_steps=101), r"n_inner_steps must be in \[0, 100\]; got 101",
                     id="query_loss_curve-n_inner_steps-too-large"),
    ],
)
def test_functional_rejects_bad_hyperparameters(call, message):
    """If this fails, a wrong α or step count in a lesson gives a tensor traceback instead of the allowed range."""
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda: call_adapt(x_support=torch.full((5, 1), NAN)), r"x_support must be finite",
                     id="adapt-x_support-nan"),
        pytest.param(lambda: call_adapt(x_support=torch.zeros(5), y_support=torch.zeros(5)),
                     r"x_support must have", id="adapt-x_support-1d"),
        pytest.param(lambda: call_meta_loss(replace={"y_query": torch.full((3, 6, 1), NAN)}),
                     r"y_query must be finite", id="meta_loss-y_query-nan"),
        pytest.param(lambda: call_meta_loss(replace={"x_support": torch.zeros(3, 5)}),
                     r"x_support must have", id="meta_loss-x_support-missing-feature-dim"),
    ],
)
def test_functional_rejects_bad_tensors(call, message):
    """If this fails, a NaN or a mis-shaped tensor gives NaN losses or a matmul error deep inside vmap."""
    with pytest.raises(ValueError, match=message):
        call()


def test_functional_accepts_the_ends_of_its_ranges():
    """If this fails, documented values such as α = 0 or 0 inner steps are refused."""
    model, params, xs, ys, _, _ = one_task()
    unchanged = Fn.adapt(model, params, xs, ys, inner_lr=0, n_inner_steps=3)
    assert all(torch.equal(unchanged[name], params[name]) for name in params)
    assert Fn.adapt(model, params, xs, ys, inner_lr=10, n_inner_steps=0).keys() == params.keys()
    assert Fn.adapt(model, params, xs, ys, inner_lr=10.0, n_inner_steps=1).keys() == params.keys()


# -- estimators: hyperparameters are checked in fit, not __init__ ----------------------------

@pytest.mark.parametrize(
    "hyperparameters, message",
    [
        ({"inner_lr": -1}, r"inner_lr must be in \[0, 10\]; got -1"),
        ({"inner_lr": NAN}, r"inner_lr must be a finite number in \[0, 10\]; got nan"),
        ({"outer_lr": 0}, r"outer_lr must be in \(0, 1\]; got 0"),
        ({"outer_lr": 2.0}, r"outer_lr must be in \(0, 1\]; got 2"),
        ({"n_inner_steps": 101}, r"n_inner_steps must be in \[0, 100\]; got 101"),
        ({"meta_batch_size": 0}, r"meta_batch_size must be in \[1, 10000\]; got 0"),
        ({"n_outer_steps": -1}, r"n_outer_steps must be in \[0, "),
        ({"k_shot": 0}, r"k_shot must be in \[1, 10000\]; got 0"),
        ({"k_shot": NAN}, r"k_shot must be an integer in \[1, 10000\]; got nan"),
        ({"k_query": 0}, r"k_query must be in \[1, 10000\]; got 0"),
        ({"first_order": "yes"}, r"first_order must be True or False; got 'yes'"),
        ({"model": "mlp"}, r"model must be a torch\.nn\.Module or None; got str"),
        ({"random_state": -1}, r"random_state must be in \[0, "),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
@pytest.mark.parametrize("cls", [MAML, JointTraining])
def test_fit_rejects_bad_hyperparameters_that_init_accepted(cls, hyperparameters, message):
    """If this fails, a bad hyperparameter either crashes the constructor (breaking sklearn-style cloning) or trains silently."""
    settings = {"n_outer_steps": 1, "meta_batch_size": 2, **hyperparameters}
    estimator = cls(**settings)  # __init__ stores, never checks
    assert all(estimator.get_params()[k] is v for k, v in hyperparameters.items())
    with pytest.raises(ValueError, match=message):
        estimator.fit(SinusoidTasks())
    assert not hasattr(estimator, "params_")


def test_fit_rejects_something_that_is_not_a_task_family():
    """If this fails, passing a tensor instead of SinusoidTasks() gives an AttributeError mid-training."""
    with pytest.raises(ValueError, match=r"tasks must be a task family with a sample_batch method; got Tensor"):
        MAML(n_outer_steps=1).fit(torch.zeros(3))


@pytest.fixture(scope="module")
def fitted():
    return MAML(MLP((1, 8, 1)), n_outer_steps=1, meta_batch_size=2, k_shot=5, random_state=0).fit(SinusoidTasks())


POINTS = torch.linspace(-1, 1, 5).unsqueeze(1)


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda m: m.adapt(torch.zeros(5), torch.zeros(5, 1)),
                     r"x_support must have shape \(K, 1\) for this model \(1 input feature per point\); got shape \(5,\)", id="adapt-x_support-1d"),
        pytest.param(lambda m: m.adapt(torch.zeros(5, 2), torch.zeros(5, 1)),
                     r"x_support must have shape \(K, 1\) for this model \(1 input feature per point\); got shape \(5, 2\)", id="adapt-x_support-2-features"),
        pytest.param(lambda m: m.adapt(POINTS, torch.full((5, 1), NAN)),
                     r"y_support must be finite", id="adapt-y_support-nan"),
        pytest.param(lambda m: m.adapt(torch.zeros(0, 1), torch.zeros(0, 1)),
                     r"x_support must hold at least 1 point; got shape \(0, 1\)", id="adapt-empty"),
        pytest.param(lambda m: m.adapt(POINTS, torch.zeros(4, 1)),
                     r"x_support and y_support must hold the same number of points; got 5 and 4", id="adapt-lengths"),
        pytest.param(lambda m: m.adapt([[0.0]], torch.zeros(1, 1)),
                     r"x_support must be a torch\.Tensor; got list", id="adapt-list"),
        pytest.param(lambda m: m.adapt(POINTS, POINTS, inner_lr=-1),
                     r"inner_lr must be in \[0, 10\]; got -1", id="adapt-inner_lr-negative"),
        pytest.param(lambda m: m.adapt(POINTS, POINTS, inner_lr=NAN),
                     r"inner_lr must be a finite number in \[0, 10\]", id="adapt-inner_lr-nan"),
        pytest.param(lambda m: m.adapt(POINTS, POINTS, n_inner_steps=-1),
                     r"n_inner_steps must be in \[0, 100\]; got -1", id="adapt-n_inner_steps-negative"),
        pytest.param(lambda m: m.predict(torch.zeros(5)),
                     r"x must have shape \(K, 1\) for this model \(1 input feature per point\); got shape \(5,\)", id="predict-x-1d"),
        pytest.param(lambda m: m.predict(torch.full((5, 1), NAN)), r"x must be finite", id="predict-x-nan"),
        pytest.param(lambda m: m.trace_adaptation(POINTS, POINTS, torch.zeros(5), POINTS),
                     r"x_eval must have shape \(K, 1\) for this model", id="trace-x_eval-1d"),
        pytest.param(lambda m: m.trace_adaptation(POINTS, POINTS, POINTS, POINTS, inner_lr=-1),
                     r"inner_lr must be in \[0, 10\]; got -1", id="trace-inner_lr-negative"),
        pytest.param(lambda m: m.score(tuple(SinusoidTasks().sample_batch(2, 5, 5, random_state=0))),
                     r"batch must be a TaskBatch; got tuple", id="score-not-a-batch"),
        pytest.param(lambda m: m.score(SinusoidTasks().sample_batch(2, 5, 5, random_state=0), inner_lr=-1),
                     r"inner_lr must be in \[0, 10\]; got -1", id="score-inner_lr-negative"),
    ],
)
def test_fitted_estimator_rejects_bad_input(fitted, call, message):
    """If this fails, a wrong tensor or α in a lesson gives a matmul traceback instead of the expected shape or range."""
    with pytest.raises(ValueError, match=message):
        call(fitted)


# -- tasks and models --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda: SinusoidTasks().sample_batch(0, 5, 5), r"n_tasks must be in \[1, 100000\]; got 0",
                     id="n_tasks-zero"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, 0, 5), r"n_support must be in \[1, 100000\]; got 0",
                     id="n_support-zero"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, 5, 0), r"n_query must be in \[1, 100000\]; got 0",
                     id="n_query-zero"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, 2.5, 5),
                     r"n_support must be an integer in \[1, 100000\]; got 2\.5", id="n_support-float"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, NAN, 5),
                     r"n_support must be an integer in \[1, 100000\]; got nan", id="n_support-nan"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, 5, 5, random_state=-1),
                     r"random_state must be in \[0, ", id="random_state-negative"),
        pytest.param(lambda: SinusoidTasks().sample_batch(2, 5, 5, random_state="seed"),
                     r"random_state must be an integer in \[0, ", id="random_state-string"),
        pytest.param(lambda: SinusoidTasks().sample_points(-1.0, 0.0, 5), r"amplitude must be in \[0, inf\]; got -1",
                     id="amplitude-negative"),
        pytest.param(lambda: SinusoidTasks().sample_points(1.0, NAN, 5),
                     r"phase must be a finite number in \[-inf, inf\]; got nan", id="phase-nan"),
        pytest.param(lambda: SinusoidTasks().sample_points(1.0, 0.0, 0), r"n_points must be in \[1, 100000\]; got 0",
                     id="n_points-zero"),
        pytest.param(lambda: SinusoidTasks(amplitude_range=(5.0, 0.1)),
                     r"amplitude_range\[1\] must be in \(5, inf\]; got 0\.1", id="amplitude_range-reversed"),
        pytest.param(lambda: SinusoidTasks(x_range=5.0),
                     r"x_range must be a pair \(low, high\) with low < high; got 5\.0", id="x_range-not-a-pair"),
        pytest.param(lambda: SinusoidTasks(phase_range=(NAN, 1.0)),
                     r"phase_range\[0\] must be a finite number", id="phase_range-nan"),
        pytest.param(lambda: MLP((1, 0, 1)), r"sizes\[1\] must be in \[1, 4096\]; got 0", id="mlp-zero-width"),
        pytest.param(lambda: MLP((1, 5000)), r"sizes\[1\] must be in \[1, 4096\]; got 5000", id="mlp-too-wide"),
        pytest.param(lambda: MLP((1, 2.5, 1)), r"sizes\[1\] must be an integer in \[1, 4096\]", id="mlp-float-width"),
        pytest.param(lambda: MLP((1,)), r"sizes must list at least 2 layer widths \(input and output\)",
                     id="mlp-one-layer"),
    ],
)
def test_tasks_and_models_reject_bad_input(call, message):
    """If this fails, a bad task or network setting gives an obscure torch error instead of the allowed range."""
    with pytest.raises(ValueError, match=message):
        call()


# -- the checks themselves ---------------------------------------------------------------------

def test_check_real_interval_ends_and_types():
    """If this fails, inclusive/exclusive bounds such as outer_lr in (0, 1] are enforced the wrong way round."""
    assert check_real("a", 0, 0.0, 1.0) == 0.0 and isinstance(check_real("a", 1, 0.0, 1.0), float)
    assert check_real("a", 1.0, 0.0, 1.0, low_inclusive=False) == 1.0
    with pytest.raises(ValueError, match=r"a must be in \(0, 1\]; got 0"):
        check_real("a", 0.0, 0.0, 1.0, low_inclusive=False)
    with pytest.raises(ValueError, match=r"a must be in \[0, 1\); got 1"):
        check_real("a", 1.0, 0.0, 1.0, high_inclusive=False)
    with pytest.raises(ValueError, match=r"a must be a finite number in \[0, 1\]; got inf"):
        check_real("a", math.inf, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"a must be a real number in \[0, 1\]; got True"):
        check_real("a", True, 0.0, 1.0)


def test_check_int_accepts_integers_only():
    """If this fails, booleans or floats slip through as step counts and sizes."""
    assert check_int("n", np.int64(3), 1, 5) == 3 and type(check_int("n", np.int64(3), 1, 5)) is int
    for bad in (True, 3.0, "3"):
        with pytest.raises(ValueError, match=r"n must be an integer in \[1, 5\]"):
            check_int("n", bad, 1, 5)
    with pytest.raises(ValueError, match=r"n must be in \[1, 5\]; got 6"):
        check_int("n", 6, 1, 5)


def test_check_tensor_returns_the_tensor_and_checks_shape_and_values():
    """If this fails, valid tensors are rejected or copied, or wrong ones pass."""
    good = torch.zeros(4, 1)
    assert check_tensor("x", good, ndim=2, last_dims=(1,), min_first=1) is good
    assert check_tensor("counts", torch.tensor([1, 2]), ndim=1) is not None  # integer tensors have no NaN
    with pytest.raises(ValueError, match=r"x must have 3 dimensions, shape \(n, n, 1\); got shape \(4, 1\)"):
        check_tensor("x", good, ndim=3, last_dims=(1,))
    with pytest.raises(ValueError, match=r"x must be finite"):
        check_tensor("x", torch.tensor([[math.inf]]))


def test_check_random_state_seeds_reproducibly():
    """If this fails, random_state=0 gives different tasks on each call, or a passed generator is replaced."""
    generator = torch.Generator()
    assert check_random_state(generator) is generator
    first, again = check_random_state(5), check_random_state(5)
    assert torch.equal(torch.rand(3, generator=first), torch.rand(3, generator=again))
    assert isinstance(check_random_state(None), torch.Generator)
