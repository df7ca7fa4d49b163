"""Lesson 02's maths: objective grids, adapted points, meta-gradient parts, the by-hand exercise."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlviz import functional as Fn
from mtlviz.meta import landscape
from mtlviz.exercises import check_line_inner_step
from mtlviz.data.tasks import LineTasks


@pytest.fixture(scope="module")
def batch():
    return LineTasks().sample_batch(3, 5, 7, random_state=1)


def test_joint_and_maml_objectives_coincide_at_zero_alpha(batch):
    """The lesson's claim 'at α = 0 the landscapes are equal' must hold exactly."""
    grids = landscape.objective_grids(batch, inner_lr=0.0, n_points=15)
    assert np.array_equal(grids["joint"].values, grids["maml"].values)
    assert not np.allclose(landscape.objective_grids(batch, inner_lr=0.2, n_points=15)["maml"].values,
                           grids["joint"].values)


def test_grid_values_equal_meta_loss_at_the_same_theta(batch):
    """A contour drawn in the wrong place would teach a wrong landscape: check grid points one by one."""
    grids = landscape.objective_grids(batch, inner_lr=0.2, n_points=7)
    model = landscape.line_model()
    data = tuple(t.double() for t in batch.data)
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        w, b = grids["maml"].w[i], grids["maml"].b[j]
        direct = Fn.meta_loss(model, landscape.theta_params(w, b), *data, inner_lr=0.2)
        assert grids["maml"].values[i, j] == pytest.approx(float(direct), rel=1e-10)


def test_adapted_points_equal_the_closed_form_gradient_step(batch):
    """The arrows θ → θ'ᵢ must be the textbook step for squared error on a line."""
    w, b, alpha = 0.3, -0.7, 0.15
    points = landscape.adapted_points(batch, w, b, inner_lr=alpha)
    for i in range(batch.x_support.shape[0]):
        x = batch.x_support[i, :, 0].double().numpy()
        y = batch.y_support[i, :, 0].double().numpy()
        e = w * x + b - y
        assert points[i] == pytest.approx([w - alpha * 2 * np.mean(e * x), b - alpha * 2 * np.mean(e)], rel=1e-6)


def test_meta_gradient_parts(batch):
    """Exact gradient = finite differences; first order = query gradient at θ'; no Hessian term at α = 0."""
    parts = landscape.meta_gradient_parts(batch, 0.4, 0.2, inner_lr=0.25)
    assert parts.finite_difference_error < 1e-7
    assert np.linalg.norm(parts.hessian_term) > 1e-3
    model = landscape.line_model()
    grads = []
    for i in range(batch.x_support.shape[0]):
        adapted = landscape.adapted_points(batch.task(i), 0.4, 0.2, inner_lr=0.25)[0]
        params = {k: v.requires_grad_(True) for k, v in landscape.theta_params(*adapted).items()}
        loss = Fn.task_loss(model, params, batch.x_query[i].double(), batch.y_query[i].double())
        g = torch.autograd.grad(loss, list(params.values()))
        grads.append([float(g[0]), float(g[1])])
    assert parts.first_order == pytest.approx(np.mean(grads, axis=0), rel=1e-8)
    still = landscape.meta_gradient_parts(batch, 0.4, 0.2, inner_lr=0.0)
    assert np.allclose(still.hessian_term, 0.0)


def test_check_line_inner_step_messages():
    """The by-hand exercise must accept the right step and name the usual slips."""
    def right(w, b, x, y, a):
        e = w * x + b - y
        return w - a * 2 * np.mean(e * x), b - a * 2 * np.mean(e)

    def uphill(w, b, x, y, a):
        e = w * x + b - y
        return w + a * 2 * np.mean(e * x), b + a * 2 * np.mean(e)

    def summed(w, b, x, y, a):
        e = w * x + b - y
        return w - a * 2 * np.sum(e * x), b - a * 2 * np.sum(e)

    assert check_line_inner_step(right)
    assert "up the gradient" in str(check_line_inner_step(uphill))
    assert "not a sum" in str(check_line_inner_step(summed))
    assert "swapped" in str(check_line_inner_step(lambda w, b, x, y, a: right(w, b, x, y, a)[::-1]))
    assert "two numbers" in str(check_line_inner_step(lambda *args: 3.0))


def test_bad_grid_arguments_name_the_parameter(batch):
    """A wrong grid size or α must say what to change."""
    with pytest.raises(ValueError, match=r"n_points must be in \[2, 400\]"):
        landscape.objective_grids(batch, inner_lr=0.1, n_points=1)
    with pytest.raises(ValueError, match=r"inner_lr must be in \[0, 10\]"):
        landscape.objective_grids(batch, inner_lr=-0.1)


def test_task_optima_are_where_each_tasks_support_loss_is_flat():
    """If this fails, lesson 02 marks a task's minimum θ*ᵢ off the centre of its loss contours."""
    import torch

    from mtlviz.data.tasks import LineTasks
    from mtlviz import functional as Fn
    from mtlviz.meta.landscape import line_model, task_optima, theta_params

    batch = LineTasks().sample_batch(4, 5, 10, random_state=0)
    optima = task_optima(batch)
    assert optima.shape == (4, 2)
    model = line_model()
    for i, (w, b) in enumerate(optima):
        params = {k: v.double().requires_grad_(True) for k, v in theta_params(float(w), float(b)).items()}
        loss = Fn.task_loss(model, params, batch.x_support[i].double(), batch.y_support[i].double())
        grads = torch.autograd.grad(loss, list(params.values()))
        assert max(float(g.abs().max()) for g in grads) < 1e-6
