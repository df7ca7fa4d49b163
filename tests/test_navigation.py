"""Lesson 10's point robot: the environment, the policy gradient, MAML's meta-gradient through it,
the shipped policies and the dashboard, checked against independent references written here
(torch.distributions, torch.nn.functional, plain per-task loops)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mtlviz import WeightsError
from mtlviz.data import navigation as nav
from mtlviz.meta import rl
from mtlviz.meta.rl import DivergenceError, NavigationPolicy, random_policy
from mtlviz.pretrained import load_navigation, navigation_path
from mtlviz.pretrained.train_navigation import SETTINGS, train

pytestmark = pytest.mark.usefixtures("torch_one_thread")


# -- the environment -----------------------------------------------------------------------------

def test_step_clips_the_action_and_rewards_minus_the_distance():
    """A wrong clip or reward would teach a different task than the paper's (section 5.3)."""
    positions = torch.tensor([[[0.0, 0.0], [0.2, 0.2]]])
    actions = torch.tensor([[[0.5, -0.05], [-3.0, 0.0]]])
    goals = torch.tensor([[0.2, 0.3]])
    new, reward = nav.step(positions, actions, goals)
    assert torch.allclose(new, torch.tensor([[[0.1, -0.05], [0.1, 0.2]]]))
    assert torch.allclose(reward, torch.tensor([[-math.hypot(0.1, 0.35), -math.hypot(0.1, 0.1)]]))


def test_goals_are_uniform_in_the_arena_and_seeded():
    goals = nav.sample_goals(1000, random_state=3)
    assert goals.abs().max() <= nav.ARENA
    assert goals.mean(0).abs().max() < 0.04 and goals.min() < -0.49 and goals.max() > 0.49
    assert torch.equal(goals, nav.sample_goals(1000, random_state=3))
    assert not torch.equal(goals, nav.sample_goals(1000, random_state=4))


@pytest.mark.parametrize("goal, name", [((0.6, 0.0), "goal_x"), ((0.0, -0.51), "goal_y"),
                                        ((float("nan"), 0.0), "goal_x"), (("a", 0.0), "goal_x")])
def test_a_goal_outside_the_arena_is_refused_naming_the_coordinate(goal, name):
    with pytest.raises(ValueError, match=rf"{name} must .*\[-0.5, 0.5\]"):
        nav.check_goal(*goal)


def test_goal_tensors_outside_the_arena_or_malformed_are_refused():
    with pytest.raises(ValueError, match="goals must lie in the arena"):
        nav.check_goals(torch.tensor([[0.1, 0.7]]))
    with pytest.raises(ValueError, match="goals must have 2 dimensions"):
        nav.check_goals(torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="goals must be finite"):
        nav.check_goals(torch.tensor([[0.1, float("nan")]]))


# -- the policy and REINFORCE --------------------------------------------------------------------

def small_policy(seed=0, hidden=8, n_tasks=3):
    theta = rl.init_policy(hidden, 0.2, torch.Generator().manual_seed(seed))
    return theta, rl.expand_params(theta, n_tasks)


def reference_mean(theta, observations):
    """μ_θ(s) with torch.nn.functional.linear (weights stored (in, out) in mtlviz)."""
    hidden = F.relu(F.linear(observations, theta["w0"].T, theta["b0"]))
    hidden = F.relu(F.linear(hidden, theta["w1"].T, theta["b1"]))
    return F.linear(hidden, theta["w2"].T, theta["b2"])


def reference_loss(theta, rollouts, task, curvature=False):
    """REINFORCE with the leave-one-out baseline for one task, written as a loop over rollouts;
    ``curvature``: log π written as the ratio π/⊥π (ProMP's form, same value of the gradient)."""
    rewards = rollouts.rewards[task].double()
    n_rollouts, horizon = rewards.shape
    to_go = torch.zeros_like(rewards)
    running = torch.zeros(n_rollouts, dtype=torch.float64)
    for t in reversed(range(horizon)):
        running = rewards[:, t] + rl.DISCOUNT * running
        to_go[:, t] = running
    advantage = torch.stack([to_go[r] - torch.cat([to_go[:r], to_go[r + 1:]]).mean(0) for r in range(n_rollouts)])
    advantage = advantage / advantage.std()
    dist = torch.distributions.Normal(reference_mean(theta, rollouts.observations[task]), theta["log_std"].exp())
    log_prob = dist.log_prob(rollouts.actions[task]).sum(-1)
    if curvature:
        log_prob = (log_prob - log_prob.detach()).exp()
    return -(log_prob * advantage.float()).mean()


def test_rollouts_are_deterministic_given_a_seed_and_start_at_the_origin():
    """nbval compares the lesson's rollouts: the same seed must give the same trajectories."""
    _, params = small_policy()
    goals = nav.sample_goals(3, random_state=0)
    first = rl.collect_rollouts(params, goals, 4, 10, torch.Generator().manual_seed(5))
    again = rl.collect_rollouts(params, goals, 4, 10, torch.Generator().manual_seed(5))
    other = rl.collect_rollouts(params, goals, 4, 10, torch.Generator().manual_seed(6))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first.positions, other.positions)
    assert first.positions.shape == (3, 4, 11, 2) and bool((first.positions[:, :, 0] == 0).all())
    steps = first.positions.diff(dim=2)
    assert steps.abs().max() <= nav.MAX_ACTION + 1e-7  # every move clipped


def test_log_probs_match_torch_distributions():
    theta, params = small_policy()
    rollouts = rl.collect_rollouts(params, nav.sample_goals(3, random_state=1), 5, 7, torch.Generator().manual_seed(0))
    expected = torch.distributions.Normal(reference_mean(theta, rollouts.observations),
                                          theta["log_std"].exp()).log_prob(rollouts.actions).sum(-1)
    assert torch.allclose(rl.log_probs(params, rollouts), expected, atol=1e-5)


def test_surrogate_loss_matches_a_per_rollout_reference():
    """A wrong baseline or advantage would bias the policy gradient the lesson's inner loop follows."""
    theta, params = small_policy()
    rollouts = rl.collect_rollouts(params, nav.sample_goals(3, random_state=1), 5, 12, torch.Generator().manual_seed(0))
    losses = rl.surrogate_loss(params, rollouts)
    expected = torch.stack([reference_loss(theta, rollouts, task) for task in range(3)])
    assert torch.allclose(losses, expected, atol=1e-5)


def test_inner_step_takes_each_tasks_own_gradient():
    """All tasks step at once; each must move by its own task's gradient, not the batch's."""
    theta, params = small_policy()
    rollouts = rl.collect_rollouts(params, nav.sample_goals(3, random_state=2), 5, 12, torch.Generator().manual_seed(1))
    params = {name: value.detach().requires_grad_() for name, value in params.items()}
    adapted = rl.inner_step(params, rollouts, 0.05)
    for task in range(3):
        leaf = {name: value.clone().requires_grad_() for name, value in theta.items()}
        grads = torch.autograd.grad(reference_loss(leaf, rollouts, task), list(leaf.values()))
        for (name, value), grad in zip(theta.items(), grads):
            assert torch.allclose(adapted[name][task], value - 0.05 * grad, atol=1e-5), name


def test_the_maml_meta_gradient_matches_a_per_task_create_graph_loop():
    """The outer step differentiates through the inner step (second order); an independent
    per-task loop with torch.distributions must give the same gradient for θ."""
    theta, _ = small_policy(hidden=6, n_tasks=2)
    theta = {name: value.requires_grad_() for name, value in theta.items()}
    goals = nav.sample_goals(2, random_state=3)
    expanded = rl.expand_params(theta, 2)
    before = rl.collect_rollouts(expanded, goals, 4, 9, torch.Generator().manual_seed(2))
    adapted = rl.inner_step(expanded, before, 0.1, create_graph=True)
    after = rl.collect_rollouts(adapted, goals, 4, 9, torch.Generator().manual_seed(3))
    ours = torch.autograd.grad(rl.surrogate_loss(adapted, after).mean(), list(theta.values()))
    total = 0.0
    for task in range(2):
        grads = torch.autograd.grad(reference_loss(theta, before, task, curvature=True), list(theta.values()),
                                    create_graph=True)
        task_adapted = {name: value - 0.1 * grad for (name, value), grad in zip(theta.items(), grads)}
        total = total + reference_loss(task_adapted, after, task) / 2
    expected = torch.autograd.grad(total, list(theta.values()))
    for name, a, b in zip(theta, ours, expected):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4), name
    # the curvature term is really there: without it (plain log π twice differentiated) the gradient differs
    plain = 0.0
    for task in range(2):
        grads = torch.autograd.grad(reference_loss(theta, before, task), list(theta.values()), create_graph=True)
        task_adapted = {name: value - 0.1 * grad for (name, value), grad in zip(theta.items(), grads)}
        plain = plain + reference_loss(task_adapted, after, task) / 2
    without = torch.autograd.grad(plain, list(theta.values()))
    assert not all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(ours, without))
    # and the second-order part is not zero: dropping it (first order) gives another gradient
    first_order = rl.inner_step(expanded, before, 0.1, create_graph=False)
    first_order = {name: value.detach().requires_grad_() for name, value in first_order.items()}
    fo = torch.autograd.grad(rl.surrogate_loss(first_order, after).mean(), list(first_order.values()))
    assert not torch.allclose(fo[0].sum(0), ours[0], atol=1e-4)


def test_the_curvature_form_changes_no_value_of_the_inner_gradient():
    """ProMP's ratio form must move θ' exactly as plain REINFORCE does (only second derivatives differ)."""
    _, params = small_policy()
    rollouts = rl.collect_rollouts(params, nav.sample_goals(3, random_state=4), 5, 12, torch.Generator().manual_seed(1))
    params = {name: value.detach().requires_grad_() for name, value in params.items()}
    plain = torch.autograd.grad(rl.surrogate_loss(params, rollouts).sum(), list(params.values()))
    ratio = torch.autograd.grad(rl.surrogate_loss(params, rollouts, curvature=True).sum(), list(params.values()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, ratio))


def test_a_diverging_inner_step_raises_instead_of_returning_nan():
    """A huge α: the first step gives weights near 1e30, whose outputs overflow; the second step's
    gradient is then NaN, which must be an error rather than NaN trajectories."""
    _, params = small_policy()
    goals = nav.sample_goals(3, random_state=2)
    generator = torch.Generator().manual_seed(1)
    with pytest.raises(DivergenceError, match=r"inner_lr \(α\)"):
        for _ in range(2):
            params = {name: value.detach().requires_grad_() for name, value in params.items()}
            params = rl.inner_step(params, rl.collect_rollouts(params, goals, 5, 12, generator), 1e30)


# -- the estimator -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return {"maml": load_navigation("maml"), "pretrained": load_navigation("pretrained")}


@pytest.mark.parametrize("changes, name", [(dict(n_steps=11), "n_steps"), (dict(n_steps=-1), "n_steps"),
                                           (dict(n_rollouts=1), "n_rollouts"), (dict(n_rollouts=201), "n_rollouts"),
                                           (dict(inner_lr=-0.1), "inner_lr"), (dict(inner_lr=float("inf")), "inner_lr")])
def test_adapt_refuses_counts_and_step_sizes_out_of_range(shipped, changes, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        shipped["maml"].adapt(torch.tensor([[0.1, 0.1]]), **changes)


def test_adapt_refuses_goals_outside_the_arena(shipped):
    with pytest.raises(ValueError, match="goals must lie in the arena"):
        shipped["maml"].adapt(torch.tensor([[0.1, 0.9]]))


def test_a_policy_whose_outputs_overflow_raises_divergence_not_nan_trajectories(shipped):
    """Actions are clipped, so an overflowing policy still draws finite paths; its log-probabilities
    are NaN, and adapting must say so instead of stepping to a NaN policy."""
    broken = NavigationPolicy(**shipped["pretrained"].get_params())
    broken.params_ = {name: value.clone() for name, value in shipped["pretrained"].params_.items()}
    broken.params_["b2"] = torch.tensor([float("inf"), -float("inf")])  # μ_θ(s) overflowed
    with pytest.raises(DivergenceError, match="smaller inner_lr"):
        broken.adapt(torch.tensor([[0.3, 0.3]]), n_steps=1)


def test_bad_hyperparameters_are_refused_at_fit():
    with pytest.raises(ValueError, match="mode must be one of"):
        NavigationPolicy(mode="trpo").fit()
    with pytest.raises(ValueError, match=r"n_rollouts must be in \[2, 200\]"):
        NavigationPolicy(n_rollouts=1).fit()


def test_adapt_is_reproducible_from_its_seed(shipped):
    goals = torch.tensor([[0.3, -0.2], [-0.4, 0.1]])
    first = shipped["maml"].adapt(goals, n_steps=2, random_state=7)
    again = shipped["maml"].adapt(goals, n_steps=2, random_state=7)
    assert np.array_equal(first.positions, again.positions) and np.array_equal(first.returns, again.returns)
    assert first.positions.shape == (3, 2, 20, 101, 2) and first.returns.shape == (3, 2)


def test_the_shipped_files_are_what_the_training_command_makes(shipped):
    """Retrain the first 3 outer steps of each shipped policy with the command's settings: the
    training curve must match the shipped one (else the files are stale or not reproducible)."""
    for mode, policy in shipped.items():
        assert {k: v for k, v in policy.get_params().items() if k != "mode"} == SETTINGS
        again = train(mode, n_outer_steps=3)
        assert again.history_ == pytest.approx(policy.history_[:3], rel=1e-5)
        assert len(policy.history_) == SETTINGS["n_outer_steps"]


def test_meta_training_improves_the_return_after_one_step(shipped):
    """The shipped MAML training curve (minus the post-update return) must have come down."""
    history = shipped["maml"].history_
    assert np.mean(history[-30:]) < 0.5 * np.mean(history[:30])


def test_a_bad_weights_file_names_the_regenerating_command(tmp_path):
    bad = tmp_path / "navigation_maml.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="python -m mtlviz.pretrained.train_navigation"):
        load_navigation("maml", path=bad)
    with pytest.raises(WeightsError, match="missing.*train_navigation"):
        load_navigation("maml", path=tmp_path / "absent.pt")
    with pytest.raises(ValueError, match="mode must be one of"):
        navigation_path("trpo")


def test_random_policy_is_untrained_and_seeded():
    first, again = random_policy(3), random_policy(3)
    assert first.history_ == [] and all(torch.equal(first.params_[n], again.params_[n]) for n in first.params_)


# -- the dashboard -------------------------------------------------------------------------------

@pytest.fixture
def dashboard(shipped):
    from mtlviz.widgets.navigation_dashboard import NavigationDashboard

    return NavigationDashboard({"MAML": shipped["maml"], "pretrained": shipped["pretrained"]}, goal=(0.3, -0.2))


def test_dashboard_draws_rollouts_of_every_stage_for_both_policies(dashboard):
    for name in ("MAML", "pretrained"):
        for stage_lines in dashboard._lines[name]:
            for line in stage_lines:
                x, y = line.get_data()
                assert len(x) == 101 and np.isfinite(x).all() and np.isfinite(y).all()
        assert len(dashboard._return_lines[name].get_xdata()) == 4
    assert dashboard.status_kind == "info" and "MAML:" in dashboard.status and "pretrained:" in dashboard.status


def test_dashboard_goal_outside_the_arena_is_one_line_and_keeps_the_drawing(dashboard):
    drawn = dashboard._lines["MAML"][1][0].get_data()[0].copy()
    dashboard.x_box.value = 0.9
    assert dashboard.status_kind == "error" and "goal_x must be in [-0.5, 0.5]" in dashboard.status
    assert "\n" not in dashboard.status
    assert np.array_equal(dashboard._lines["MAML"][1][0].get_data()[0], drawn)
    dashboard.x_box.value = 0.1
    assert dashboard.status_kind == "info" and "goal (0.10, -0.20)" in dashboard.status


def test_dashboard_click_moves_the_goal_and_a_click_outside_the_arena_is_refused(dashboard):
    plane = dashboard._planes["pretrained"]
    dashboard._on_click(SimpleNamespace(inaxes=plane, xdata=-0.25, ydata=0.4))
    assert (dashboard.goal_x, dashboard.goal_y) == (-0.25, 0.4)
    assert dashboard.results["MAML"].goals.tolist() == [[-0.25, pytest.approx(0.4)]]
    dashboard._on_click(SimpleNamespace(inaxes=plane, xdata=0.7, ydata=0.0))
    assert dashboard.status_kind == "error" and "goal_x" in dashboard.status
    assert (dashboard.goal_x, dashboard.goal_y) == (-0.25, 0.4)
    dashboard._on_click(SimpleNamespace(inaxes=dashboard._returns_ax, xdata=0.1, ydata=0.1))  # not a plane: ignored
    assert (dashboard.goal_x, dashboard.goal_y) == (-0.25, 0.4)


def test_dashboard_random_goals_are_a_fixed_sequence(dashboard, shipped):
    from mtlviz.widgets.navigation_dashboard import NavigationDashboard

    other = NavigationDashboard({"MAML": shipped["maml"]}, goal=(0.0, 0.0))
    dashboard.random_button.click()
    other.random_button.click()
    assert (dashboard.goal_x, dashboard.goal_y) == (other.goal_x, other.goal_y)
    expected = nav.sample_goals(1, random_state=0)[0]
    assert dashboard.goal_x == pytest.approx(round(float(expected[0]), 3))


def test_dashboard_refuses_an_unfitted_policy():
    from mtlviz.widgets.navigation_dashboard import NavigationDashboard

    with pytest.raises(RuntimeError, match="not fitted"):
        NavigationDashboard({"MAML": NavigationPolicy()})


# -- the exercise ---------------------------------------------------------------------------------

def test_the_return_to_go_exercise_accepts_a_solution_and_names_the_slips():
    from mtlviz.exercises import check_returns_to_go

    def solution(rewards, discount):
        out, running = torch.zeros_like(rewards), torch.zeros(rewards.shape[0], dtype=rewards.dtype)
        for t in reversed(range(rewards.shape[1])):
            running = rewards[:, t] + discount * running
            out[:, t] = running
        return out

    def undiscounted(rewards, discount):
        return rewards.flip(-1).cumsum(-1).flip(-1)

    def so_far(rewards, discount):
        return torch.cumsum(rewards * discount ** torch.arange(rewards.shape[1], dtype=rewards.dtype), -1)

    def in_place(rewards, discount):
        rewards.mul_(1.0)
        rewards[0, 0] = 0.0
        return solution(rewards, discount)

    assert check_returns_to_go(solution)
    assert "discount is missing" in check_returns_to_go(undiscounted).message
    assert "so far" in check_returns_to_go(so_far).message
    assert not check_returns_to_go(in_place) and "rewards" in check_returns_to_go(in_place).message
    assert "return" in check_returns_to_go(lambda rewards, discount: None).message
    assert "shape" in check_returns_to_go(lambda rewards, discount: rewards.sum()).message
