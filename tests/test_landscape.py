"""Lesson 02's maths: objective grids, adapted points, meta-gradient parts, the by-hand exercise."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mtlviz import functional as Fn
from mtlviz.meta import landscape
from mtlviz.exercises import check_line_inner_step
from mtlviz.data.tasks import LineTasks, TaskBatch


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


# -- The line's closed form (issue 13, item 2) ---------------------------------------------------

def _gradient_descent_optimum(batch, inner_lr, model="line", max_steps=3000):
    """MAML's optimum by plain gradient descent on the plain per-task loop's objective
    (mtlviz.reference, no vmap, no torch.func): an independent reference for the closed form.
    The step is 1/λ_max of that objective's Hessian (autograd, at the start)."""
    from mtlviz.reference import loop_meta_loss

    net = landscape.line_model() if model == "line" else landscape.sine_model()
    data = tuple(t.double() for t in batch.data)

    def objective(theta):
        return loop_meta_loss(net, landscape.theta_params(theta[0], theta[1], model), *data, inner_lr=inner_lr)

    theta = torch.zeros(2, dtype=torch.float64)
    lr = 1.0 / float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(objective, theta)).max())
    theta.requires_grad_(True)
    for _ in range(max_steps):
        (g,) = torch.autograd.grad(objective(theta), [theta])
        if float(g.norm()) < 1e-11:
            break
        with torch.no_grad():
            theta -= lr * g
    return theta.detach().numpy(), float(g.norm())


@pytest.mark.parametrize("inner_lr", [0.0, 0.15, 0.3])
def test_linear_closed_form_is_the_minimum_of_the_maml_objective(inner_lr):
    """If this fails, lesson 02 teaches a wrong formula for MAML's optimum: the closed form must be
    where gradient descent on the (independently computed) MAML objective ends, the grid's best
    point must lie within one grid step of it, and L-BFGS from the grid must agree."""
    batch = LineTasks().sample_batch(4, 5, 10, random_state=0)
    closed = landscape.linear_maml_optimum(batch, inner_lr=inner_lr)
    descended, gradient_norm = _gradient_descent_optimum(batch, inner_lr)
    assert gradient_norm < 1e-9
    assert closed == pytest.approx(descended, abs=1e-8)
    grids = landscape.objective_grids(batch, inner_lr=inner_lr, n_points=61)  # step 0.1
    assert np.abs(grids["maml"].argmin() - closed).max() <= 0.1
    assert landscape.numerical_maml_optimum(batch, inner_lr=inner_lr) == pytest.approx(closed, abs=1e-6)


def test_linear_joint_optimum_is_least_squares_on_the_pooled_query_points():
    """α = 0: the closed form is joint training, ordinary least squares on all query points."""
    batch = LineTasks().sample_batch(4, 5, 10, random_state=3)
    x = batch.x_query.double().reshape(-1).numpy()
    y = batch.y_query.double().reshape(-1).numpy()
    pooled = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)[0]
    terms = landscape.linear_maml_terms(batch, inner_lr=0.2)
    assert terms.joint_optimum == pytest.approx(pooled, abs=1e-10)
    assert landscape.linear_maml_optimum(batch, inner_lr=0.0) == pytest.approx(pooled, abs=1e-10)


def test_linear_maml_optimum_is_a_curvature_weighted_average_of_the_task_lines():
    """θ_MAML = (Σ Wᵢ)⁻¹ Σ Wᵢ θ*ᵢ with Wᵢ = (I − αHᵢ^tr) Hᵢ^val (I − αHᵢ^tr): for these noise-free
    lines each task's support and query optima are its true line, so the targets mᵢ are θ*ᵢ."""
    batch = LineTasks().sample_batch(4, 5, 10, random_state=0)
    alpha = 0.15
    terms = landscape.linear_maml_terms(batch, inner_lr=alpha)
    true_lines = np.stack([batch.amplitude.double().numpy(), batch.phase.double().numpy()], 1)
    assert terms.targets == pytest.approx(true_lines, abs=1e-5)  # float32 data
    assert terms.targets == pytest.approx(landscape.task_optima(batch), abs=1e-6)  # y rounded to float32
    xs = batch.x_support.double().numpy()[..., 0]
    xq = batch.x_query.double().numpy()[..., 0]
    for i in range(4):  # the Hessians written out: H = 2·[[mean x², mean x], [mean x, 1]]
        h_tr = 2 * np.array([[np.mean(xs[i] ** 2), np.mean(xs[i])], [np.mean(xs[i]), 1.0]])
        h_val = 2 * np.array([[np.mean(xq[i] ** 2), np.mean(xq[i])], [np.mean(xq[i]), 1.0]])
        a = np.eye(2) - alpha * h_tr
        assert terms.weights[i] == pytest.approx(a @ h_val @ a, abs=1e-12)
    weighted = np.linalg.solve(terms.weights.sum(0), np.einsum("nij,nj->i", terms.weights, true_lines))
    assert terms.optimum == pytest.approx(weighted, abs=1e-5)


def test_maml_objective_curvature_is_the_average_weight():
    """The 'flattening': the MAML objective's Hessian (autograd, twice) is (1/N) Σᵢ AᵢHᵢ^valAᵢ,
    smaller than joint training's (1/N) Σᵢ Hᵢ^val in every direction while 0 < αλ(Hᵢ^tr) < 2."""
    batch = LineTasks().sample_batch(4, 5, 10, random_state=0)
    data = tuple(t.double() for t in batch.data)
    model = landscape.line_model()
    for alpha in [0.0, 0.15, 0.3]:
        def objective(theta):
            return Fn.meta_loss(model, landscape.theta_params(theta[0], theta[1]), *data, inner_lr=alpha)

        hessian = torch.autograd.functional.hessian(objective, torch.tensor([0.3, -0.2], dtype=torch.float64))
        terms = landscape.linear_maml_terms(batch, inner_lr=alpha)
        assert terms.maml_hessian == pytest.approx(hessian.numpy(), abs=1e-10)
    assert np.linalg.eigvalsh(terms.maml_hessian).max() < np.linalg.eigvalsh(terms.joint_hessian).min()


def test_with_shared_hessians_maml_and_joint_optima_coincide():
    """If every task has the same support inputs and the same query inputs (so the same
    Hessians), MAML's optimum is joint training's for every α: the gap comes from the Hessians.
    With noisy labels (support and query optima differ) the equality needs more than a shared
    Hessian, and the test shows that too."""
    gen = torch.Generator().manual_seed(5)
    n_tasks = 5
    xs = torch.rand(1, 6, 1, generator=gen, dtype=torch.float64).mul(4).sub(2).expand(n_tasks, 6, 1)
    xq = torch.rand(1, 9, 1, generator=gen, dtype=torch.float64).mul(4).sub(2).expand(n_tasks, 9, 1)
    slope = torch.rand(n_tasks, 1, 1, generator=gen, dtype=torch.float64) * 4 - 2
    intercept = torch.rand(n_tasks, 1, 1, generator=gen, dtype=torch.float64) * 4 - 2
    batch = TaskBatch(xs, slope * xs + intercept, xq, slope * xq + intercept, slope[:, 0, 0], intercept[:, 0, 0])
    for alpha in [0.05, 0.15, 0.3]:
        terms = landscape.linear_maml_terms(batch, inner_lr=alpha)
        assert terms.optimum == pytest.approx(terms.joint_optimum, abs=1e-10)
    noisy = batch._replace(y_support=batch.y_support + 0.3 * torch.randn(xs.shape, generator=gen, dtype=torch.float64))
    terms = landscape.linear_maml_terms(noisy, inner_lr=0.15)
    assert np.linalg.norm(terms.optimum - terms.joint_optimum) > 1e-3
    assert terms.optimum == pytest.approx(terms.targets.mean(0), abs=1e-10)  # equal weights: the plain mean of mᵢ


def test_optimum_gap_shrinks_as_k_grows():
    """What lesson 02's K control shows, measured: the mean distance between the MAML and joint
    optima (closed form) over 400 meta-batches of 4 line tasks (K support, 2K query points),
    at α = 0.15, falls with every step K = 2, 5, 20, 100 (each drop larger than both 95%
    intervals) and at K = 100 is under a third of its value at K = 2."""
    gap = landscape.optimum_gap_by_support_size([2, 5, 20, 100], inner_lr=0.15, n_batches=400, random_state=7)
    for k in range(3):
        assert gap.mean[k] - gap.mean[k + 1] > gap.ci95[k] + gap.ci95[k + 1]
    assert gap.mean[-1] < gap.mean[0] / 3


def test_the_gap_comes_mostly_from_the_support_sets():
    """Issue 13's claim, checked: with 5 support points and the query sets made large the gap
    stays; with large support sets and 10 query points it mostly goes (α = 0.15, 300 draws)."""
    def mean_gap(k, q):
        batch = LineTasks().sample_batch(4 * 300, k, q, random_state=11, dtype=torch.float64)
        gaps = []
        for i in range(300):
            part = TaskBatch(*(t[4 * i: 4 * i + 4] for t in batch))
            terms = landscape.linear_maml_terms(part, inner_lr=0.15)
            gaps.append(np.linalg.norm(terms.optimum - terms.joint_optimum))
        return np.mean(gaps)

    lesson, big_query, big_support = mean_gap(5, 10), mean_gap(5, 1000), mean_gap(1000, 10)
    assert big_query > 0.8 * lesson
    assert big_support < 0.2 * lesson


# -- The sine, and three update rules -------------------------------------------------------------

@pytest.fixture(scope="module")
def sine_batch():
    from mtlviz.widgets.formula_dashboard import SINE_TASKS

    return SINE_TASKS.sample_batch(4, 10, 20, random_state=1)


def test_sine_maml_optimum_is_a_stationary_point_and_truly_differs(sine_batch):
    """If this fails, lesson 02's nonlinear example does not show what it says: MAML's minimum of
    f_θ(x) = w·sin(x − b) must be a minimum (finite-difference gradient ~0) and stay far from
    joint training's when every task has 200 support and 400 query points, not only 10."""
    from mtlviz.widgets.formula_dashboard import SINE_LIMITS, SINE_TASKS

    optimum = landscape.numerical_maml_optimum(sine_batch, inner_lr=0.2, model="sine", limits=SINE_LIMITS)
    parts = landscape.meta_gradient_parts(sine_batch, *optimum, inner_lr=0.2, model="sine")
    assert np.linalg.norm(parts.finite_difference) < 1e-6
    big = SINE_TASKS.sample_batch(4, 200, 400, random_state=1)
    for batch in [sine_batch, big]:
        joint = landscape.numerical_maml_optimum(batch, inner_lr=0.0, model="sine", limits=SINE_LIMITS)
        maml = landscape.numerical_maml_optimum(batch, inner_lr=0.2, model="sine", limits=SINE_LIMITS)
        assert np.linalg.norm(maml - joint) > 0.5
    line_gap = landscape.optimum_gap_by_support_size([200], inner_lr=0.15, n_batches=100)
    assert line_gap.mean[0] < 0.1


def test_update_directions_against_independent_references(sine_batch):
    """MAML's step = −(finite differences of the MAML objective, float64); first-order MAML's
    = −mean of each task's query gradient at θ'ᵢ (autograd, task by task); Reptile with one
    step = −α × mean support gradient (Nichol et al. 2018, section 5), written out by hand
    for w·sin(x − b); Reptile with k steps = mean of θ'ᵢ after k inner steps minus θ."""
    w, b, alpha = 1.0, 0.5, 0.2
    d = landscape.update_directions(sine_batch, w, b, inner_lr=alpha, model="sine", reptile_steps=1)
    assert d.finite_difference_error < 1e-7
    model = landscape.sine_model()
    xs, ys, xq, yq = (t.double() for t in sine_batch.data)
    adapted = landscape.adapted_points(sine_batch, w, b, inner_lr=alpha, model="sine")
    query_grads = []
    for i in range(4):
        params = {k: v.requires_grad_(True) for k, v in landscape.theta_params(*adapted[i], "sine").items()}
        loss = Fn.task_loss(model, params, xq[i], yq[i])
        query_grads.append([float(g) for g in torch.autograd.grad(loss, list(params.values()))])
    assert d.first_order == pytest.approx(-np.mean(query_grads, axis=0), rel=1e-10)
    x, y = xs[..., 0].numpy(), ys[..., 0].numpy()
    error = w * np.sin(x - b) - y
    support_grad = np.array([np.mean(2 * error * np.sin(x - b), axis=1),
                             np.mean(2 * error * -w * np.cos(x - b), axis=1)]).mean(1)
    assert d.reptile == pytest.approx(-alpha * support_grad, rel=1e-10)
    d5 = landscape.update_directions(sine_batch, w, b, inner_lr=alpha, model="sine", reptile_steps=5)
    five = landscape.adapted_points(sine_batch, w, b, inner_lr=alpha, model="sine", n_inner_steps=5)
    assert d5.reptile == pytest.approx((five - [w, b]).mean(0), rel=1e-10)
    assert d5.maml == pytest.approx(d.maml) and d5.first_order == pytest.approx(d.first_order)
    assert 5 < d5.first_order_angle < 60 and 5 < d5.reptile_angle < 90  # three different directions here


def test_reptile_direction_is_first_order_and_leaves_theta_alone():
    """functional.reptile_direction: no graph to θ, θ unchanged, shapes of θ, and the one-step
    identity on the line (−α × mean support gradient, by hand)."""
    batch = LineTasks().sample_batch(3, 5, 5, random_state=2, dtype=torch.float64)
    params = {k: v.clone().requires_grad_(True) for k, v in landscape.theta_params(0.4, -0.3).items()}
    before = {k: v.detach().clone() for k, v in params.items()}
    step = Fn.reptile_direction(landscape.line_model(), params, batch.x_support, batch.y_support, inner_lr=0.1)
    assert all(not v.requires_grad and v.shape == params[k].shape for k, v in step.items())
    assert all(torch.equal(params[k].detach(), before[k]) for k in params)
    x, y = batch.x_support[..., 0].numpy(), batch.y_support[..., 0].numpy()
    error = 0.4 * x - 0.3 - y
    expected = -0.1 * np.array([np.mean(2 * error * x, 1).mean(), np.mean(2 * error, 1).mean()])
    assert [float(step["0.weight"]), float(step["0.bias"])] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"n_inner_steps must be in \[0, 100\]"):
        Fn.reptile_direction(landscape.line_model(), params, batch.x_support, batch.y_support, inner_lr=0.1,
                             n_inner_steps=-1)


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="model must be one of line, sine; got 'cubic'"):
        landscape.theta_params(0.0, 0.0, "cubic")


@pytest.mark.parametrize("model", ["line", "sine"])
def test_grid_objective_without_vmap_equals_meta_loss_point_by_point(model):
    """Lesson 02's contour plots and optimum search evaluate the objective for many θ at once
    without vmap (so the lesson does not import torch._dynamo); each value must still be the
    MAML objective of mtlviz.functional.meta_loss at that θ."""
    import torch

    from mtlviz import functional as Fn
    from mtlviz.data.tasks import LineTasks, SinusoidTasks
    from mtlviz.meta.landscape import _as_float64, _make_model, _objective_at_points, theta_params

    family = LineTasks() if model == "line" else SinusoidTasks()
    data = _as_float64(family.sample_batch(4, 5, 5, random_state=0))
    net = _make_model(model)
    w = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    b = torch.tensor([0.5, 0.0, -0.7], dtype=torch.float64)
    for steps in (0, 1, 2):
        values = _objective_at_points(net, model, data, w, b, 0.1, steps)
        for g in range(3):
            expected = Fn.meta_loss(net, theta_params(w[g], b[g], model), *data, inner_lr=0.1, n_inner_steps=steps)
            assert float(values[g]) == pytest.approx(float(expected), rel=1e-10), (model, steps, g)


def test_newton_minimiser_finds_minima_also_from_negative_curvature():
    """Lesson 02's numerical optima (joint and MAML, sine model) come from this minimiser; it must
    reach the minimum of a quadratic and escape a maximum's neighbourhood (negative curvature)."""
    import math

    import torch

    from mtlviz.meta.landscape import _newton_minimise

    quadratic = _newton_minimise(lambda t: (t[0] - 1) ** 2 + 10 * (t[1] + 2) ** 2,
                                 torch.tensor([5.0, 5.0], dtype=torch.float64))
    assert quadratic.tolist() == pytest.approx([1.0, -2.0], abs=1e-9)
    valley = _newton_minimise(lambda t: torch.cos(t[0]) + (t[1] - 0.5) ** 2,
                              torch.tensor([0.1, 0.0], dtype=torch.float64))
    assert [abs(valley[0].item()), valley[1].item()] == pytest.approx([math.pi, 0.5], abs=1e-7)  # either minimum ±π
