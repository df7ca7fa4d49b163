"""First-order MAML and Reptile (mtlviz.meta.reptile, lesson 09) keep MAML's contract and do
what their papers say, checked against independent recombinations of mtlviz.functional (never
against numbers pasted from an earlier run)."""
from __future__ import annotations

import pytest
import torch

from mtlviz import MAML, SinusoidTasks, WeightsError
from mtlviz import functional as Fn
from mtlviz.meta.reptile import FOMAML, Reptile
from mtlviz.pretrained import load_sinusoid, weights_path

pytestmark = pytest.mark.usefixtures("torch_one_thread")

QUICK = dict(n_outer_steps=3, meta_batch_size=4, k_shot=5, k_query=5, random_state=0)


@pytest.fixture(scope="module")
def tasks():
    return SinusoidTasks()


def test_fomaml_is_maml_with_first_order_fixed(tasks):
    """If this fails, 'FOMAML' in lesson 09 would not be the first-order MAML of Finn et al.:
    the same seed must give bit-identical θ to MAML(first_order=True)."""
    fomaml = FOMAML(**QUICK).fit(tasks)
    reference = MAML(first_order=True, **QUICK).fit(tasks)
    second = MAML(first_order=False, **QUICK).fit(tasks)
    assert all(torch.equal(fomaml.params_[n], reference.params_[n]) for n in fomaml.params_)
    assert not all(torch.equal(fomaml.params_[n], second.params_[n]) for n in fomaml.params_)
    assert "first_order" not in fomaml.get_params()
    with pytest.raises(ValueError, match="no hyperparameter 'first_order'"):
        fomaml.set_params(first_order=False)


def test_reptile_step_moves_theta_by_epsilon_times_the_direction(tasks):
    """One Reptile step is θ + ε · (1/N) Σ (θ̃ᵢ − θ) on the support and query points together,
    recomputed here from functional.reptile_direction on the same batch."""
    generator = torch.Generator().manual_seed(0)
    reptile = Reptile(n_outer_steps=1, meta_batch_size=3, k_shot=4, k_query=2, outer_lr=0.5, n_inner_steps=3,
                      inner_lr=0.02, random_state=generator)
    records = list(reptile.fit_iter(tasks))
    # The same draws: the seed drawn for θ₀, then the batch.
    replay = torch.Generator().manual_seed(0)
    from mtlviz._validation import draw_seed

    theta0 = Fn.get_params(reptile._init_model(draw_seed(replay)))
    batch = tasks.sample_batch(3, 4, 2, replay)
    x = torch.cat([batch.x_support, batch.x_query], 1)
    y = torch.cat([batch.y_support, batch.y_query], 1)
    direction = Fn.reptile_direction(reptile.model_, theta0, x, y, inner_lr=0.02, n_inner_steps=3)
    for name, p in reptile.params_.items():
        torch.testing.assert_close(p.detach(), theta0[name] + 0.5 * direction[name])
    # The recorded loss is θ₀'s mean squared error on the batch, before the step.
    assert records[0]["loss"] == pytest.approx(float(((Fn.forward(reptile.model_, theta0, x) - y) ** 2).mean()),
                                               rel=1e-6)


def test_reptile_with_one_inner_step_is_joint_training_sgd(tasks):
    """Nichol et al. 2018, section 5: with one inner step Reptile's direction is −α ∇ of the pooled loss."""
    reptile = Reptile(**{**QUICK, "n_outer_steps": 1, "n_inner_steps": 1})
    model = reptile._init_model(0)
    theta = Fn.get_params(model)
    batch = tasks.sample_batch(4, 5, 5, 3)
    direction = Fn.reptile_direction(model, theta, batch.x_support, batch.y_support, inner_lr=0.1, n_inner_steps=1)
    grads = [Fn.loss_gradient(lambda p, i=i: Fn.task_loss(model, p, batch.x_support[i], batch.y_support[i]), theta)
             for i in range(4)]
    for name in theta:
        torch.testing.assert_close(direction[name], -0.1 * torch.stack([g[name] for g in grads]).mean(0))


@pytest.mark.parametrize("cls", [FOMAML, Reptile])
def test_save_load_round_trip(cls, tasks, tmp_path):
    """A saved model must predict exactly as before, and say which algorithm made it."""
    model = cls(**QUICK).fit(tasks)
    model.save(tmp_path / "m.pt")
    again = cls.load(tmp_path / "m.pt")
    assert again.get_params().keys() == model.get_params().keys()
    x = torch.linspace(-5, 5, 7)[:, None]
    torch.testing.assert_close(again.predict(x), model.predict(x))
    with pytest.raises(WeightsError, match="holds a 'maml' model"):
        cls.load(weights_path("maml"))


@pytest.mark.parametrize("name, value, message", [
    ("n_inner_steps", 0, r"n_inner_steps must be in \[1, 100\]"),
    ("outer_lr", 1.5, r"outer_lr must be in \(0, 1\]"),
    ("outer_lr_schedule", "linear", "outer_lr_schedule must be one of"),
])
def test_reptile_refuses_bad_hyperparameters(name, value, message, tasks):
    """Bad input names the parameter and its range before any training."""
    with pytest.raises(ValueError, match=message):
        Reptile(**{**QUICK, name: value}).fit(tasks)


@pytest.mark.parametrize("kind, cls", [("fomaml", FOMAML), ("reptile", Reptile)])
def test_shipped_first_order_weights_load_small_and_adapt(kind, cls, tasks):
    """Lesson 09 loads these files; each must be small, of its class, and better after 10 steps
    than before on fresh tasks (what adaptation is for)."""
    path = weights_path(kind)
    assert path.stat().st_size < 50_000
    model = load_sinusoid(kind)
    assert type(model) is cls
    batch = tasks.sample_batch(50, 5, 50, 123)
    curve = model.query_loss_curve(batch, inner_lr=0.01, n_inner_steps=10)
    assert float(curve[:, 10].mean()) < float(curve[:, 0].mean())


def test_shipped_weights_missing_name_the_command(tmp_path):
    with pytest.raises(WeightsError, match=r"python -m mtlviz\.pretrained\.train_first_order"):
        load_sinusoid("reptile", path=tmp_path / "none.pt")


def test_reptile_update_exercise_accepts_the_update_and_names_the_slips():
    """Lesson 09's checked exercise: a right answer passes, the usual slips get their own hint,
    changing an input in place is caught, and a missing return is named."""
    from mtlviz.exercises import check_reptile_update

    def mean_step(theta, adapted, name):
        return torch.stack([a[name] - theta[name] for a in adapted]).mean(0)

    def right(theta, adapted, epsilon):
        return {n: theta[n] + epsilon * mean_step(theta, adapted, n) for n in theta}

    def away(theta, adapted, epsilon):
        return {n: theta[n] - epsilon * mean_step(theta, adapted, n) for n in theta}

    def summed(theta, adapted, epsilon):
        return {n: theta[n] + epsilon * len(adapted) * mean_step(theta, adapted, n) for n in theta}

    def in_place(theta, adapted, epsilon):
        for n in theta:
            theta[n] += epsilon * mean_step(theta, adapted, n)
        return theta

    assert check_reptile_update(right).passed
    assert "towards" in check_reptile_update(away).message
    assert "average" in check_reptile_update(summed).message
    assert "in place" in check_reptile_update(in_place).message
    assert "return" in check_reptile_update(lambda theta, adapted, epsilon: None).message
