"""Unit tests of mtlviz.functional (the maths) and mtlviz.data.tasks (the data it is fed).

Every expected value comes from an independent reference: float64 central finite differences,
the plain per-task loop of ``mtlviz.reference``, ordinary ``torch.autograd`` on the module's own
parameters, closed-form Hessians and least-squares fits, or ``math.sin``. No number here was
pasted from an earlier run.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from mtlviz import MLP, SinusoidTasks, sinusoid_mlp
from mtlviz import functional as Fn
from mtlviz.reference import loop_meta_gradient, loop_meta_loss

pytestmark = pytest.mark.usefixtures("torch_one_thread")

F64 = torch.float64


def seeded_mlp(sizes, seed: int) -> MLP:
    """A float64 MLP initialised from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(sizes).double()


def float64_problem(n_tasks=4, n_support=5, n_query=7, seed=0):
    """The paper's 1-40-40-1 network in float64, its θ (requiring grad) and a float64 meta-batch."""
    model = sinusoid_mlp(seed).double()
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(n_tasks, n_support, n_query, random_state=seed + 1, dtype=F64)
    return model, params, batch


def module_query_loss(model, x_query, y_query):
    """(1/N) Σᵢ MSE on each query set, with the module's own parameters (no functional_call)."""
    losses = [F.mse_loss(model(x_query[i]), y_query[i]) for i in range(x_query.shape[0])]
    return torch.stack(losses).mean()


def assert_params_close(actual, expected, **tolerance):
    assert set(actual) == set(expected)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], **tolerance, msg=lambda m, n=name: f"{n}: {m}")


# -- meta-gradient -----------------------------------------------------------------------------

@pytest.mark.parametrize("n_inner_steps", [1, 3])
def test_meta_gradient_matches_float64_finite_differences(n_inner_steps):
    """If this fails, MAML's outer step does not follow the slope of its own objective and θ trains wrongly."""
    model, params, batch = float64_problem()
    settings = dict(inner_lr=0.03, n_inner_steps=n_inner_steps)
    second_order = Fn.meta_gradient(model, params, *batch.data, **settings)
    first_order = Fn.meta_gradient(model, params, *batch.data, first_order=True, **settings)

    def loss_at(shift):
        shifted = {name: p.detach() + shift[name] for name, p in params.items()}
        return float(Fn.meta_loss(model, shifted, *batch.data, **settings))

    generator = torch.Generator().manual_seed(7)
    eps = 1e-6
    numeric, analytic, analytic_first_order = [], [], []
    for _ in range(6):  # six random directions d: compare dL/dε(θ + εd) with ∇θL · d
        direction = {name: torch.randn(p.shape, generator=generator, dtype=F64) for name, p in params.items()}
        plus = loss_at({name: eps * d for name, d in direction.items()})
        minus = loss_at({name: -eps * d for name, d in direction.items()})
        numeric.append((plus - minus) / (2 * eps))
        analytic.append(sum(float((second_order[n] * d).sum()) for n, d in direction.items()))
        analytic_first_order.append(sum(float((first_order[n] * d).sum()) for n, d in direction.items()))
    numeric = torch.tensor(numeric, dtype=F64)

    def relative_error(values):
        return float((torch.tensor(values, dtype=F64) - numeric).norm() / numeric.norm())

    assert relative_error(analytic) <= 1e-5
    # The check has power: dropping the second-order term is visible at this α.
    assert relative_error(analytic_first_order) > 1e-3


@pytest.mark.parametrize("objective", [Fn.meta_loss, Fn.batched_meta_loss], ids=["vmap", "batched"])
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("n_inner_steps", [0, 1, 2, 5])
def test_meta_gradient_matches_plain_per_task_loop(objective, first_order, n_inner_steps):
    """If this fails, MAML (the vmap formula the lesson shows, or the batched variant MAML.fit
    trains with) disagrees with the textbook loop: the course would teach and train a wrong θ."""
    model, params, batch = float64_problem()
    settings = dict(inner_lr=0.02, n_inner_steps=n_inner_steps, first_order=first_order)
    value = objective(model, params, *batch.data, **settings)
    torch.testing.assert_close(value, loop_meta_loss(model, params, *batch.data, **settings), rtol=1e-10, atol=1e-12)
    assert_params_close(
        dict(zip(params, torch.autograd.grad(value, list(params.values())))),
        loop_meta_gradient(model, params, *batch.data, **settings),
        rtol=1e-8, atol=1e-11,
    )



@pytest.mark.parametrize("objective", [Fn.meta_loss, Fn.batched_meta_loss], ids=["vmap", "batched"])
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("n_inner_steps", [2, 3])
def test_multi_step_loss_matches_the_plain_loop_and_averages_the_steps(objective, first_order, n_inner_steps):
    """If this fails, MAML(multi_step_loss=True) (the recipe of `train_sinusoid --multi-step-loss`)
    trains on something other than the mean of the query losses after each inner step, which
    RESULTS.md and the command's help say it does."""
    model, params, batch = float64_problem()
    settings = dict(inner_lr=0.02, n_inner_steps=n_inner_steps, first_order=first_order)
    value = objective(model, params, *batch.data, multi_step_loss=True, **settings)
    torch.testing.assert_close(value, loop_meta_loss(model, params, *batch.data, multi_step_loss=True, **settings),
                               rtol=1e-10, atol=1e-12)
    assert_params_close(
        dict(zip(params, torch.autograd.grad(value, list(params.values())))),
        loop_meta_gradient(model, params, *batch.data, multi_step_loss=True, **settings),
        rtol=1e-8, atol=1e-11,
    )
    # The same number as averaging the plain objective over 1 ... n steps by hand.
    by_hand = sum(Fn.meta_loss(model, params, *batch.data, inner_lr=0.02, n_inner_steps=n, first_order=first_order)
                  for n in range(1, n_inner_steps + 1)) / n_inner_steps
    torch.testing.assert_close(value, by_hand, rtol=1e-10, atol=1e-12)
    last_step_only = objective(model, params, *batch.data, **settings)
    assert abs(float(value - last_step_only)) > 1e-6  # the option changes the objective


def test_multi_step_loss_with_one_step_is_maml_and_takes_only_a_bool():
    """If this fails, multi_step_loss changes MAML's one-step objective (it must not: one step has
    one query loss), or a string like "no" silently switches it on."""
    model, params, batch = float64_problem()
    one = Fn.batched_meta_loss(model, params, *batch.data, inner_lr=0.02, multi_step_loss=True)
    torch.testing.assert_close(one, Fn.batched_meta_loss(model, params, *batch.data, inner_lr=0.02),
                               rtol=0, atol=0)
    for objective in (Fn.meta_loss, Fn.batched_meta_loss):
        with pytest.raises(ValueError, match="multi_step_loss must be True or False"):
            objective(model, params, *batch.data, inner_lr=0.02, n_inner_steps=2, multi_step_loss="no")

def test_batched_meta_loss_leaves_other_models_and_losses_to_the_vmap_formula():
    """If this fails, a model whose forward cannot take one parameter set per task (or a loss
    that is not a mean over points) would get a wrong meta-loss from the batched variant."""
    model, params, batch = float64_problem()
    settings = dict(inner_lr=0.02, n_inner_steps=2)

    def summed_squares(prediction, target):  # not a mean: Σᵢ L_Tᵢ ≠ N · L(all points)
        return ((prediction - target) ** 2).sum()

    torch.testing.assert_close(Fn.batched_meta_loss(model, params, *batch.data, loss_fn=summed_squares, **settings),
                               Fn.meta_loss(model, params, *batch.data, loss_fn=summed_squares, **settings))
    wrapped = torch.nn.Sequential(model)  # a module without functional_forward: functional_call under vmap
    names = {f"0.{name}": p for name, p in params.items()}
    torch.testing.assert_close(Fn.batched_meta_loss(wrapped, names, *batch.data, **settings),
                               loop_meta_loss(model, params, *batch.data, **settings), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_inner_steps", [1, 3])
def test_first_order_meta_gradient_is_query_gradient_at_adapted_params(n_inner_steps):
    """If this fails, first-order MAML is not FOMAML: its gradient is not ∇L_query evaluated at θ'."""
    model, params, batch = float64_problem()
    x_support, y_support, x_query, y_query = batch.data
    n_tasks = x_support.shape[0]
    expected = {name: torch.zeros_like(p) for name, p in params.items()}
    for i in range(n_tasks):
        adapted = Fn.adapt(model, params, x_support[i], y_support[i],
                           inner_lr=0.02, n_inner_steps=n_inner_steps, first_order=True)
        adapted = {name: p.detach().requires_grad_(True) for name, p in adapted.items()}
        query_loss = F.mse_loss(Fn.forward(model, adapted, x_query[i]), y_query[i])
        for name, g in zip(adapted, torch.autograd.grad(query_loss, list(adapted.values()))):
            expected[name] += g / n_tasks
    actual = Fn.meta_gradient(model, params, *batch.data, inner_lr=0.02, n_inner_steps=n_inner_steps,
                              first_order=True)
    assert_params_close(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_zero_inner_steps_gives_joint_training_gradient(first_order):
    """If this fails, the joint-training baseline (no inner step) trains on something other than the plain loss."""
    model, params, batch = float64_problem()
    _, _, x_query, y_query = batch.data
    expected = torch.autograd.grad(module_query_loss(model, x_query, y_query), list(model.parameters()))
    actual = Fn.meta_gradient(model, params, *batch.data, inner_lr=0.5, n_inner_steps=0, first_order=first_order)
    assert_params_close(actual, dict(zip(params, expected)), rtol=1e-10, atol=1e-13)


# -- inner loop --------------------------------------------------------------------------------

def test_inner_update_is_theta_minus_alpha_grad_and_returns_new_tensors():
    """If this fails, the lesson's formula θ' = θ − α∇θL is implemented wrongly or overwrites θ."""
    params = {"w": torch.tensor([1.0, -2.0]), "b": torch.tensor([0.5])}
    grads = {"w": torch.tensor([4.0, 8.0]), "b": torch.tensor([-2.0])}
    before = {name: p.clone() for name, p in params.items()}
    updated = Fn.inner_update(params, grads, 0.25)
    assert_params_close(updated, {"w": torch.tensor([0.0, -4.0]), "b": torch.tensor([1.0])})
    assert_params_close(params, before, rtol=0, atol=0)
    assert all(updated[name] is not params[name] for name in params)


def test_adapt_returns_new_tensors_and_leaves_params_and_module_unchanged():
    """If this fails, adapting to one task silently changes θ (learn2learn's stale-output bug)."""
    model, params, batch = float64_problem()
    params_before = {name: p.detach().clone() for name, p in params.items()}
    module_before = {name: p.detach().clone() for name, p in model.named_parameters()}
    adapted = Fn.adapt(model, params, batch.x_support[0], batch.y_support[0], inner_lr=0.02, n_inner_steps=3)
    assert_params_close(params, params_before, rtol=0, atol=0)
    assert_params_close(dict(model.named_parameters()), module_before, rtol=0, atol=0)
    assert set(adapted) == set(params)
    assert all(adapted[name] is not params[name] for name in params)
    assert any(not torch.equal(adapted[name], params_before[name]) for name in params)


def test_one_adapt_step_equals_gradient_step_computed_by_autograd():
    """If this fails, adapt's θ' is not one gradient step of the support loss from θ."""
    model, params, batch = float64_problem()
    x_support, y_support = batch.x_support[1], batch.y_support[1]
    support_loss = F.mse_loss(model(x_support), y_support)
    grads = torch.autograd.grad(support_loss, list(model.parameters()))
    expected = {name: p.detach() - 0.02 * g for (name, p), g in zip(model.named_parameters(), grads)}
    adapted = Fn.adapt(model, params, x_support, y_support, inner_lr=0.02, n_inner_steps=1)
    assert_params_close(adapted, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("first_order", [False, True])
def test_adapt_outside_vmap_gives_the_same_theta_prime_and_meta_gradient_as_inside(first_order):
    """If this fails, a dashboard adapting one task (plain autograd) would show a different θ' or
    teach a different meta-gradient than the meta-batch (torch.func under vmap) computes."""
    model, params, batch = float64_problem(n_tasks=3)

    def query_loss(p, xs, ys, xq, yq):
        adapted = Fn.adapt(model, p, xs, ys, inner_lr=0.03, n_inner_steps=3, first_order=first_order)
        return Fn.task_loss(model, adapted, xq, yq)

    plain = torch.stack([query_loss(params, *(t[i] for t in batch.data)) for i in range(3)]).mean()
    plain_grads = torch.autograd.grad(plain, list(params.values()))
    inside = Fn.meta_loss(model, params, *batch.data, inner_lr=0.03, n_inner_steps=3, first_order=first_order)
    inside_grads = torch.autograd.grad(inside, list(params.values()))
    torch.testing.assert_close(plain, inside, rtol=1e-12, atol=1e-14)
    for name, a, b in zip(params, plain_grads, inside_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13, msg=lambda m, n=name: f"{n}: {m}")


def test_loss_gradient_of_parameters_without_grad_is_a_plain_tensor():
    """If this fails, a dashboard's adapted θ' would carry an autograd graph (memory grows with
    every slider move, and ``.numpy()`` on it raises)."""
    model, params, batch = float64_problem()
    plain = {name: p.detach() for name, p in params.items()}
    adapted = Fn.adapt(model, plain, batch.x_support[0], batch.y_support[0], inner_lr=0.02, n_inner_steps=2)
    assert not any(p.requires_grad for p in adapted.values())
    with torch.no_grad():  # a dashboard callback may run under no_grad: adapting still works
        again = Fn.adapt(model, plain, batch.x_support[0], batch.y_support[0], inner_lr=0.02, n_inner_steps=2)
    assert_params_close(again, adapted, rtol=0, atol=0)


def test_unused_parameter_gets_a_zero_gradient():
    """If this fails, a parameter the loss ignores (a frozen head, say) breaks adaptation."""
    params = {"used": torch.tensor([1.0, 2.0]), "unused": torch.tensor([3.0])}
    grads = Fn.loss_gradient(lambda p: (p["used"] ** 2).sum(), params)
    assert torch.equal(grads["used"], torch.tensor([2.0, 4.0]))
    assert torch.equal(grads["unused"], torch.zeros(1))


@pytest.mark.parametrize("n_inner_steps", [0, 1, 4])
def test_adapt_trajectory_has_one_entry_per_step_plus_start(n_inner_steps):
    """If this fails, the dashboard's step-by-step plot is off by one or ends somewhere adapt() does not."""
    model, params, batch = float64_problem()
    x_support, y_support = batch.x_support[0], batch.y_support[0]
    trajectory = Fn.adapt_trajectory(model, params, x_support, y_support, inner_lr=0.02,
                                     n_inner_steps=n_inner_steps)
    assert len(trajectory) == n_inner_steps + 1
    assert_params_close(trajectory[0], {name: p.detach() for name, p in params.items()}, rtol=0, atol=0)
    final = Fn.adapt(model, params, x_support, y_support, inner_lr=0.02, n_inner_steps=n_inner_steps,
                     first_order=True)
    assert_params_close(trajectory[-1], {name: p.detach() for name, p in final.items()}, rtol=1e-12, atol=1e-14)
    assert not any(p.requires_grad for step in trajectory for p in step.values())


@pytest.mark.parametrize("n_inner_steps", [0, 3])
def test_query_loss_curve_shape_and_end_points(n_inner_steps):
    """If this fails, the loss-vs-steps plot starts from a wrong pre-adaptation loss or has the wrong length."""
    model, params, batch = float64_problem(n_tasks=3)
    x_support, y_support, x_query, y_query = batch.data
    curve = Fn.query_loss_curve(model, params, *batch.data, inner_lr=0.02, n_inner_steps=n_inner_steps)
    assert curve.shape == (3, n_inner_steps + 1)
    assert not curve.requires_grad
    with torch.no_grad():
        unadapted = torch.stack([F.mse_loss(model(x_query[i]), y_query[i]) for i in range(3)])
    torch.testing.assert_close(curve[:, 0], unadapted, rtol=1e-12, atol=1e-14)
    adapted_losses = torch.stack([
        Fn.task_loss(model, Fn.adapt(model, params, x_support[i], y_support[i], inner_lr=0.02,
                                     n_inner_steps=n_inner_steps), x_query[i], y_query[i])
        for i in range(3)
    ]).detach()
    torch.testing.assert_close(curve[:, -1], adapted_losses, rtol=1e-10, atol=1e-12)


def test_query_loss_curve_batched_path_equals_the_vmap_path():
    """The MLP takes the batched path (no vmap: a dashboard kernel then never imports
    torch._dynamo); if this fails, lessons 03/04's loss-after-k-steps numbers depend on the path.
    A loss that is not ``mse_loss`` itself sends the same computation through ``vmap``."""
    model, params, batch = float64_problem(n_tasks=4)
    batched = Fn.query_loss_curve(model, params, *batch.data, inner_lr=0.05, n_inner_steps=3)
    through_vmap = Fn.query_loss_curve(model, params, *batch.data, inner_lr=0.05, n_inner_steps=3,
                                       loss_fn=lambda prediction, target: Fn.mse_loss(prediction, target))
    torch.testing.assert_close(batched, through_vmap, rtol=1e-12, atol=1e-14)


# -- divergence --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "losses, growth, expected",
    [
        ([1.0, 0.5, 0.2, 0.1], 100.0, False),
        ([1.0, 2.0, 50.0], 100.0, False),
        ([1.0, 2.0, 150.0], 100.0, True),
        ([1.0, 2.0, 150.0], 1000.0, False),
        ([1.0, 2.0, 15.0], 10.0, True),
        ([1.0, float("nan")], 100.0, True),
        ([1.0, float("inf")], 100.0, True),
        ([float("nan"), 1.0], 100.0, True),
    ],
)
def test_has_diverged(losses, growth, expected):
    """If this fails, the dashboard plots NaNs instead of a 'diverged' message, or cries wolf on a good run."""
    assert Fn.has_diverged(torch.tensor(losses), growth=growth) is expected


def linear_problem():
    """f(x) = w x + b in float64 on 20 sinusoid points: its MSE Hessian is known in closed form."""
    model = seeded_mlp((1, 1), seed=3)
    params = Fn.get_params(model)
    x, y = SinusoidTasks().sample_points(2.0, 0.5, 20, random_state=4, dtype=F64)
    # L = (1/n) Σ (w x + b − y)²  ⇒  H = (2/n) [[Σx², Σx], [Σx, n]] in the order (w, b)
    n = x.shape[0]
    hessian = (2.0 / n) * torch.tensor([[float((x * x).sum()), float(x.sum())], [float(x.sum()), float(n)]],
                                       dtype=F64)
    return model, params, x, y, hessian


def test_stable_inner_lr_matches_closed_form_hessian():
    """If this fails, the 'try α below …' hint quotes a wrong stability limit."""
    model, params, x, y, hessian = linear_problem()
    expected = 2.0 / float(torch.linalg.eigvalsh(hessian).max())
    assert Fn.stable_inner_lr(model, params, x, y) == pytest.approx(expected, rel=0.01)


def test_stable_inner_lr_matches_explicit_hessian_of_a_small_network():
    """If this fails, the stability limit is wrong for the ReLU networks the dashboards actually use."""
    model = seeded_mlp((1, 6, 1), seed=5)
    params = Fn.get_params(model)
    x, y = SinusoidTasks().sample_points(3.0, 1.0, 10, random_state=6, dtype=F64)
    names = list(params)
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]

    def loss_of_flat(flat):
        pieces = dict(zip(names, (t.view(s) for t, s in zip(flat.split(sizes), shapes))))
        return F.mse_loss(torch.func.functional_call(model, pieces, (x,)), y)

    flat = torch.cat([params[n].flatten() for n in names])
    eigenvalues = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of_flat, flat))
    largest, most_negative = float(eigenvalues.max()), float(eigenvalues.min())
    assert largest > 2 * abs(most_negative), "test setup: power iteration needs a dominant positive eigenvalue"
    assert Fn.stable_inner_lr(model, params, x, y) == pytest.approx(2.0 / largest, rel=0.01)


@pytest.mark.parametrize("factor, diverges", [(0.95, False), (1.05, True)])
def test_gradient_descent_converges_below_stable_inner_lr_and_diverges_above(factor, diverges):
    """If this fails, α just below the suggested limit still blows up (or α above it is wrongly called unsafe)."""
    model, params, x, y, _ = linear_problem()
    inner_lr = factor * Fn.stable_inner_lr(model, params, x, y)
    trajectory = Fn.adapt_trajectory(model, params, x, y, inner_lr=inner_lr, n_inner_steps=100)
    losses = torch.stack([Fn.task_loss(model, p, x, y) for p in trajectory])
    assert Fn.has_diverged(losses) is diverges
    if not diverges:
        design = torch.cat([x, torch.ones_like(x)], dim=1)
        best = torch.linalg.lstsq(design, y).solution
        optimum = float(F.mse_loss(design @ best, y))
        assert float(losses[-1]) == pytest.approx(optimum, rel=1e-6, abs=1e-12)


# -- tasks: the sinusoid family of Finn et al. (2017) ----------------------------------------

def test_sample_batch_shapes_and_dtype():
    """If this fails, meta_loss receives tensors of the wrong shape and the lessons crash."""
    batch = SinusoidTasks().sample_batch(6, 5, 11, random_state=0, dtype=F64)
    assert batch.x_support.shape == batch.y_support.shape == (6, 5, 1)
    assert batch.x_query.shape == batch.y_query.shape == (6, 11, 1)
    assert batch.amplitude.shape == batch.phase.shape == (6,)
    assert all(t.dtype == F64 for t in batch)
    assert len(batch.data) == 4 and batch.data[3] is batch.y_query
    one = batch.task(2)
    assert one.x_support.shape == (1, 5, 1)
    assert torch.equal(one.amplitude, batch.amplitude[2:3])


def test_same_seed_gives_same_batch_and_different_seed_a_different_one():
    """If this fails, a lesson's printed numbers change on every run (or every seed shows the same tasks)."""
    tasks = SinusoidTasks()
    first = tasks.sample_batch(4, 5, 5, random_state=11)
    again = tasks.sample_batch(4, 5, 5, random_state=11)
    from_generator = tasks.sample_batch(4, 5, 5, random_state=torch.Generator().manual_seed(11))
    other = tasks.sample_batch(4, 5, 5, random_state=12)
    for a, b, c in zip(first, again, from_generator):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(first.amplitude, other.amplitude)
    assert not torch.equal(first.x_support, other.x_support)


def test_sample_batch_ranges_are_the_papers():
    """If this fails, the tasks are not Finn et al.'s (A in [0.1, 5], φ in [0, π], x in [-5, 5])."""
    batch = SinusoidTasks().sample_batch(2000, 5, 5, random_state=0, dtype=F64)
    x = torch.cat([batch.x_support, batch.x_query], dim=1)
    for values, low, high in [(batch.amplitude, 0.1, 5.0), (batch.phase, 0.0, math.pi), (x, -5.0, 5.0)]:
        assert float(values.min()) >= low and float(values.max()) <= high
        # and the whole range is used, not a narrower one (2000+ uniform draws reach within 5 %)
        margin = 0.05 * (high - low)
        assert float(values.min()) < low + margin and float(values.max()) > high - margin


def test_sample_batch_targets_are_a_sin_x_minus_phi():
    """If this fails, the regression targets are not y = A sin(x − φ), so every lesson plot is wrong."""
    batch = SinusoidTasks().sample_batch(3, 4, 6, random_state=5, dtype=F64)
    for x, y in [(batch.x_support, batch.y_support), (batch.x_query, batch.y_query)]:
        for i in range(3):
            amplitude, phase = float(batch.amplitude[i]), float(batch.phase[i])
            for j in range(x.shape[1]):
                assert float(y[i, j, 0]) == pytest.approx(amplitude * math.sin(float(x[i, j, 0]) - phase),
                                                          rel=1e-12, abs=1e-12)


def test_sample_points_targets_and_shape():
    """If this fails, the dashboard's 'new task' points do not lie on the curve it draws."""
    x, y = SinusoidTasks().sample_points(2.5, 1.2, 9, random_state=3, dtype=F64)
    assert x.shape == y.shape == (9, 1)
    assert float(x.min()) >= -5.0 and float(x.max()) <= 5.0
    for xi, yi in zip(x[:, 0].tolist(), y[:, 0].tolist()):
        assert yi == pytest.approx(2.5 * math.sin(xi - 1.2), rel=1e-12, abs=1e-12)


# -- forward: the fast path and the model-agnostic path agree ------------------------------------

def test_mlp_functional_forward_equals_functional_call():
    """If MLP's hand-written forward drifted from the module, every lesson would teach wrong numbers."""
    from torch.func import functional_call

    model = MLP((3, 7, 5, 2))
    params = {name: torch.randn_like(p) for name, p in model.named_parameters()}
    x = torch.randn(11, 3)
    assert torch.allclose(Fn.forward(model, params, x), functional_call(model, params, (x,)), atol=1e-6)


def test_meta_gradient_of_a_plain_module_without_functional_forward():
    """MAML is model-agnostic: any nn.Module must work through functional_call, with the same gradient."""
    torch.manual_seed(3)
    plain = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    assert not hasattr(plain, "functional_forward")
    params = Fn.get_params(plain, requires_grad=True)
    batch = SinusoidTasks().sample_batch(4, 5, 6, random_state=0, dtype=torch.float64)
    ours = Fn.meta_gradient(plain, params, *batch.data, inner_lr=0.05, n_inner_steps=2)
    theirs = loop_meta_gradient(plain, params, *batch.data, inner_lr=0.05, n_inner_steps=2)
    for name in params:
        assert torch.allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-12)


def _diverges(model, params, x, y, inner_lr, n_inner_steps):
    steps = Fn.adapt_trajectory(model, params, x, y, inner_lr=inner_lr, n_inner_steps=n_inner_steps)
    return Fn.has_diverged(torch.stack([Fn.task_loss(model, p, x, y) for p in steps]))


def test_largest_stable_inner_lr_brackets_the_divergence_threshold():
    """The dashboard's hint 'try α below X' must name an α that works, and not a needlessly small one."""
    model = sinusoid_mlp(0)
    params = Fn.get_params(model)
    x, y = SinusoidTasks().sample_points(3.0, 1.0, 5, random_state=0)
    found = Fn.largest_stable_inner_lr(model, params, x, y, n_inner_steps=10, high=5.0)
    assert found is not None and found < 5.0
    assert not _diverges(model, params, x, y, found, 10)
    assert _diverges(model, params, x, y, found * 1.2, 10)


def test_largest_stable_inner_lr_returns_high_when_it_does_not_diverge():
    """A setting that converges needs no hint: the search must return the α it was given."""
    model = sinusoid_mlp(0)
    x, y = SinusoidTasks().sample_points(1.0, 0.5, 5, random_state=0)
    assert Fn.largest_stable_inner_lr(model, Fn.get_params(model), x, y, n_inner_steps=3, high=1e-3) == 1e-3


def test_reptile_direction_batched_path_equals_the_vmap_path():
    """reptile_direction takes the vmap-free path for the MLP (so lesson 02 does not import
    torch._dynamo); it must give the vmap formula's direction."""
    from mtlviz.nets import MLP
    from mtlviz.data.tasks import SinusoidTasks

    class Unbatched(MLP):
        batches_tasks = False  # forces the vmap path

    torch.manual_seed(0)
    batched, plain = MLP((1, 8, 1)), Unbatched((1, 8, 1))
    plain.load_state_dict(batched.state_dict())
    batch = SinusoidTasks().sample_batch(4, 5, 5, random_state=0)
    params = Fn.get_params(batched)
    for steps in (1, 3):
        fast = Fn.reptile_direction(batched, params, batch.x_support, batch.y_support, inner_lr=0.05, n_inner_steps=steps)
        slow = Fn.reptile_direction(plain, params, batch.x_support, batch.y_support, inner_lr=0.05, n_inner_steps=steps)
        for name in params:
            assert torch.allclose(fast[name], slow[name], atol=1e-6, rtol=1e-5), (name, steps)
