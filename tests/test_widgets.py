"""The lesson 03 dashboard's logic, driven from Python (the browser tests drive the same widget in Chromium)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from mtlviz import SinusoidTasks
from mtlviz.pretrained import load_sinusoid
from mtlviz.widgets import InnerOuterDashboard


@pytest.fixture(scope="module")
def models():
    return load_sinusoid("maml"), load_sinusoid("joint")


@pytest.fixture
def dashboard(models):
    return InnerOuterDashboard(*models, random_state=0)


def visible_step_lines(artists):
    return sum(line.get_visible() for line in artists["steps"]) + artists["after"].get_visible()


def test_plot_shows_one_line_per_inner_step_and_the_k_support_points(dashboard):
    """The class counts the lines to see each inner step; K points must be exactly K."""
    dashboard.n_inner_steps = 3
    dashboard.k_shot = 7
    assert visible_step_lines(dashboard._maml_artists) == 3
    assert len(dashboard._maml_artists["support"].get_xdata()) == 7
    dashboard.n_inner_steps = 0
    assert visible_step_lines(dashboard._maml_artists) == 0
    assert dashboard._maml_artists["before"].get_visible()


def test_loss_panel_has_a_point_per_step_for_both_models(dashboard):
    """The loss-vs-step panel must follow the steps slider for MAML and the baseline."""
    dashboard.n_inner_steps = 6
    for key in ("maml", "joint"):
        assert len(dashboard._loss_artists[key].get_xdata()) == 7


def test_maml_adapts_better_than_the_baseline_on_the_opening_task(dashboard):
    """The lesson's claim on screen: one step from MAML's θ beats fine-tuning the pretrained net."""
    maml, joint = dashboard._traces["maml"], dashboard._traces["joint"]
    assert maml.eval_losses[-1] < maml.eval_losses[0]
    assert maml.eval_losses[-1] < joint.eval_losses[-1]


def test_diverging_alpha_shows_a_message_and_hides_the_lines(dashboard):
    """At α = 1 with 10 steps the class must see 'diverged: try α below …', never NaN curves."""
    dashboard.inner_lr = 1.0
    dashboard.n_inner_steps = 10
    assert "diverged: try α below" in dashboard.status
    for artists in (dashboard._maml_artists, dashboard._joint_artists):
        assert artists["message"].get_visible()
        assert visible_step_lines(artists) == 0
    for line in dashboard._loss_artists.values():
        assert np.all(np.isfinite(line.get_ydata()))
    dashboard.inner_lr = 0.01
    assert "diverged" not in dashboard.status
    assert not dashboard._maml_artists["message"].get_visible()


def test_new_task_is_reproducible_from_random_state(models):
    """Two classes using the same seed must see the same sequence of 'new' tasks."""
    first, second = InnerOuterDashboard(*models, random_state=5), InnerOuterDashboard(*models, random_state=5)
    for _ in range(3):
        first.new_task_button.click()
        second.new_task_button.click()
        assert (first.amplitude, first.phase) == (second.amplitude, second.phase)
        assert 0.1 <= first.amplitude <= 5.0 and 0.0 <= first.phase <= 3.14
    assert first.summary() == second.summary()


def test_live_training_runs_in_chunks_and_can_be_used(dashboard):
    """The outer-loop panel must train, show progress, stop on request and offer the live θ."""
    dashboard.train_steps_dropdown.value = 500
    dashboard.start_training()
    assert dashboard.train_button.disabled and not dashboard.stop_button.disabled
    for _ in range(3):
        dashboard.train_chunk(max_seconds=0.05)
    steps = dashboard.progress.value
    assert 0 < steps < 500
    assert len(dashboard._history_artists["raw"].get_xdata()) == steps
    # the label reports the run's pace: steps done over the seconds fit_iter has been running
    rate = dashboard.steps_per_second()
    assert rate == pytest.approx(steps / dashboard._last_record["seconds"])
    assert f"({rate:.0f} steps/s)" in dashboard.train_label.value
    dashboard.stop_training()
    assert not dashboard.train_button.disabled and dashboard.stop_button.disabled
    assert f"stopped after {steps} steps" in dashboard.train_label.value
    shipped = dashboard.summary()
    dashboard.weights = "live"  # a barely trained θ adapts far worse than the shipped one
    assert dashboard.summary() != shipped


# -- lesson 04: SeedBugsDashboard ------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_models():
    from mtlviz.pretrained import load_seed_variant
    from mtlviz.meta.seed import VARIANTS

    return {name: load_seed_variant(name) for name in VARIANTS}


def test_seed_dashboard_checkboxes_select_the_matching_variant(seed_models):
    """Unticking a fix must show the model trained with that bug, in bold on the loss panel."""
    from mtlviz.widgets import SeedBugsDashboard

    dashboard = SeedBugsDashboard(seed_models)
    expected = {(True, True): "corrected", (False, True): "no_query_set", (True, False): "one_task",
                (False, False): "both_bugs"}
    for (query, batch), name in expected.items():
        dashboard.separate_query, dashboard.task_batch = query, batch
        assert dashboard.variant == name
        assert dashboard._loss_artists[name].get_linewidth() == 3.0
        assert dashboard.status.startswith(__import__("mtlviz.meta.seed").meta.seed.VARIANTS[name].label)


def test_seed_dashboard_task_slider_moves_the_left_panel(seed_models):
    """Moving 'test task' must show a different task's points and curve."""
    from mtlviz.widgets import SeedBugsDashboard

    dashboard = SeedBugsDashboard(seed_models)
    before = dashboard._fit_artists["support"].get_xdata().copy()
    dashboard.task_index = 5
    assert not np.array_equal(before, dashboard._fit_artists["support"].get_xdata())


def test_seed_dashboard_needs_every_variant(seed_models):
    """A dashboard missing a model would crash on a checkbox click: refuse at construction."""
    from mtlviz.widgets import SeedBugsDashboard

    with pytest.raises(ValueError, match="missing"):
        SeedBugsDashboard({"corrected": seed_models["corrected"]})



def test_seed_dashboard_draws_the_curves_lesson_04_passes_as_its_own(seed_models):
    """Lesson 04 computes the loss curves on its test tasks and hands them to the dashboard instead
    of computing them twice at page open; if this fails, the right panel would draw other tasks'
    curves than the dashboard's own test tasks give (or a wrong-length curve would be drawn)."""
    from mtlviz import SinusoidTasks
    from mtlviz.widgets import SeedBugsDashboard

    test_batch = SinusoidTasks().sample_batch(n_tasks=100, n_support=5, n_query=100, random_state=0)  # as the lesson
    curves = {name: model.query_loss_curve(test_batch, inner_lr=0.01, n_inner_steps=10).mean(0)
              for name, model in seed_models.items()}
    own = SeedBugsDashboard(seed_models, random_state=0)
    given = SeedBugsDashboard(seed_models, random_state=0, curves=curves)
    for name in seed_models:
        np.testing.assert_allclose(given._curves[name], own._curves[name], rtol=1e-6)
        np.testing.assert_array_equal(given._loss_artists[name].get_ydata(), own._loss_artists[name].get_ydata())
    with pytest.raises(ValueError, match=r"curves\['corrected'\] must be"):
        SeedBugsDashboard(seed_models, curves={**curves, "corrected": curves["corrected"][:5]})
    with pytest.raises(ValueError, match="missing"):
        SeedBugsDashboard(seed_models, curves={"corrected": curves["corrected"]})

# -- lesson 02: FormulaDashboard -------------------------------------------------------------------

def test_formula_dashboard_alpha_zero_removes_the_hessian_term_and_the_arrows():
    """At α = 0 the learner must see no inner step and a zero Hessian term, as the lesson says."""
    from mtlviz.widgets import FormulaDashboard

    def hessian_term(status):
        match = re.search(r"Hessian term \(([-+]?\d+\.\d+), ([-+]?\d+\.\d+)\)", status)
        assert match, f"no Hessian term in the status line {status!r}"
        return float(match.group(1)), float(match.group(2))

    dashboard = FormulaDashboard(random_state=0)
    assert any(abs(value) >= 0.001 for value in hessian_term(dashboard.status))  # α > 0: a visible term
    dashboard.inner_lr = 0.0
    assert hessian_term(dashboard.status) == (0.0, 0.0)  # -0.000 reads as 0.0 too
    assert np.allclose(dashboard._artists["task_arrows"].U, 0.0) and np.allclose(dashboard._artists["task_arrows"].V, 0.0)


def test_formula_dashboard_theta_sliders_move_theta_everywhere():
    """Moving w must move θ in all three panels and the adapted points with it."""
    from mtlviz.widgets import FormulaDashboard

    dashboard = FormulaDashboard(random_state=0)
    before = dashboard._artists["adapted"].get_offsets().copy()
    dashboard.w = -2.0
    assert all(marker.get_xdata()[0] == -2.0 for marker in dashboard._artists["theta"])
    assert not np.allclose(before, dashboard._artists["adapted"].get_offsets())
    assert "θ = (-2.00" in dashboard.status


@pytest.fixture(scope="module")
def metalstm_dashboard():
    """Lesson 05's dashboard over small untrained learners on digits (the logic, not the weights)."""
    import torch

    from mtlviz.meta.fewshot import MAMLClassifier
    from mtlviz.data.glyphs import DigitsTasks
    from mtlviz.meta.metalstm import MetaLSTM
    from mtlviz.widgets import MetaLSTMDashboard

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    digits = DigitsTasks()
    models = {k: (MetaLSTM(image_size=8, channels=4, k_shot=k, n_inner_steps=3 + k, n_outer_steps=0,
                           random_state=0).fit(digits),
                  MAMLClassifier(image_size=8, channels=4, k_shot=k, n_outer_steps=0, random_state=0).fit(digits))
              for k in (1, 5)}
    yield MetaLSTMDashboard(models, digits, sgd_lr={1: 0.3, 5: 0.1}, random_state=0)
    torch.set_num_threads(threads)  # later test modules run with the thread count they started with


def test_metalstm_dashboard_step_slider_moves_marker_and_status(metalstm_dashboard):
    """Moving 'step t' must move the step marker and report that step's accuracies, gates
    included; step 0 is before any update."""
    d = metalstm_dashboard
    d.k_shot, d.step = 1, 0
    assert d.status.startswith("1-shot, step 0:") and "before the first update" in d.status
    d.step = 2
    assert d.status.startswith("1-shot, step 2:") and "mean input gate" in d.status and "SGD (α = 0.3)" in d.status
    assert all(list(marker.get_xdata()) == [2, 2] for marker in d._artists["markers"])
    gates = d._artists["axes"]["input"].get_lines()
    assert len(gates) == 7  # five layers, the SGD rate and the step marker


def test_metalstm_dashboard_shot_toggle_changes_the_episode_and_the_step_range(metalstm_dashboard):
    """5-shot uses another model with more updates: the slider's range must follow, the support
    mosaic must show 5 images per class, and a step beyond the range must not be reachable."""
    d = metalstm_dashboard
    d.k_shot, d.step = 1, 4
    d.k_shot = 5
    assert d.step_slider.max == 8 and d._episode.x_support.shape[1] == 25
    assert d.status.startswith("5-shot, step 4:") and "SGD (α = 0.1)" in d.status
    d.step = 8
    d.k_shot = 1
    assert d.step_slider.max == 4 and d.step == 4
    seed = d.episode_seed
    d.new_button.click()
    assert d.episode_seed == seed + 1


def test_lesson_03_networks_compute_the_mean_task_before_adapting():
    """If this fails, lesson 03's text is wrong: it says both shipped networks compute nearly the
    family's mean task −(2·E[A]/π)·cos x before adapting (not y = 0), and nearly the same function."""
    from mtlviz import SinusoidTasks

    tasks = SinusoidTasks()
    x = torch.linspace(-5, 5, 201).unsqueeze(1)
    mean = tasks.mean_function(x)
    torch.testing.assert_close(mean, -(2 * 2.55 / math.pi) * torch.cos(x))  # the lesson's closed form
    batch = tasks.sample_batch(20_000, 1, 1, random_state=0)  # and what the family's tasks average to
    sampled = SinusoidTasks.function(x.T.expand(20_000, -1).unsqueeze(-1), batch.amplitude, batch.phase).mean(0)
    assert float((sampled - mean).abs().max()) < 0.05
    size = float(mean.pow(2).mean().sqrt())

    def rms(a, b):
        return float((a - b).pow(2).mean().sqrt())

    maml, joint = load_sinusoid("maml").predict(x), load_sinusoid("joint").predict(x)
    for prediction in (maml, joint):
        assert rms(prediction, mean) < 0.2 * size < rms(prediction, 0 * prediction) * 0.25
    assert rms(maml, joint) < 0.25 * size


def test_inner_outer_dashboard_draws_the_mean_task_and_opens_far_from_it(dashboard):
    """If this fails, lesson 03's dashboard no longer shows the mean task both networks start
    from, or opens on a task so close to it that the two networks look alike."""
    fresh = InnerOuterDashboard(load_sinusoid("maml"), load_sinusoid("joint"), random_state=0)
    for artists in (fresh._maml_artists, fresh._joint_artists):
        line = artists["mean"]
        assert line.get_visible() and len(line.get_xdata()) == len(fresh._x_grid)
    x = fresh._x_grid
    true = SinusoidTasks.function(x, fresh.amplitude, fresh.phase)
    assert float((true - fresh._tasks.mean_function(x)).pow(2).mean().sqrt()) > 2.5
    labels = [t.get_text() for t in fresh._maml_artists["mean"].axes.get_legend().get_texts()]
    assert "mean task E[y|x]" in labels
    handle = next(h for h, t in zip(fresh._maml_artists["mean"].axes.get_legend().legend_handles,
                                    labels) if t == "mean task E[y|x]")
    assert handle.get_visible()  # a legend made while the line was hidden shows a blank entry


@pytest.mark.parametrize("low, high", [(0.3, 4.0), (0.55, 0.9), (1.2, 60.0)])
def test_live_meta_loss_plot_keeps_labelled_y_ticks(low, high):
    """If this fails, lesson 03's live meta-loss plot shows a log axis without a single number
    once training narrows its range (a span under a decade has no power of ten in it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from mtlviz import plotting

    ax = Figure().add_subplot()
    artists = plotting.plot_history(ax)
    plotting.update_history(artists, list(np.geomspace(high, low, 50)), 100)
    bottom, top = ax.get_ylim()
    ticks = [t for t in ax.yaxis.get_major_locator().tick_values(bottom, top) if bottom <= t <= top]
    labels = [ax.yaxis.get_major_formatter()(t, i) for i, t in enumerate(ticks)]
    assert len(ticks) >= 2 and all(labels), (bottom, top, ticks, labels)


def test_formula_dashboard_explains_its_marks_and_colours():
    """If this fails, lesson 02's landscapes lose their colour bar (colours without a scale), the
    task minima, or the legend that says which mark is θ, θ'ᵢ and each task's minimum."""
    from mtlviz.widgets import FormulaDashboard

    dashboard = FormulaDashboard(random_state=0)
    labels = [t.get_text() for t in dashboard._artists["axes"][0].get_legend().get_texts()]
    assert labels[0] == "task 1: minimum θ*" and "θ (the sliders)" in labels and "θ'ᵢ after one step" in labels
    assert len([t for t in labels if t.startswith("task ")]) == len(dashboard._optima)
    assert dashboard._artists["colorbar"] is not None
    dashboard.inner_lr = 0.35  # new contours: the colour bar must describe them, not the removed ones
    assert dashboard._artists["colorbar"].mappable is dashboard._artists["contours"]["maml"][0]


def test_formula_dashboard_k_control_keeps_the_tasks_and_shows_the_gap():
    """Lesson 02's K control: more support points per task (2K query points), the same tasks'
    lines, the closed-form minima marked, and the gap in the status line equal to the distance
    between them; the gap panel's mean curve falls from K = 2 to K = 100."""
    from mtlviz.widgets import FormulaDashboard

    dashboard = FormulaDashboard(random_state=0)
    lines = (dashboard.batch.amplitude.clone(), dashboard.batch.phase.clone())
    assert "K = 5 support, 10 query points" in dashboard.status
    dashboard.k_shot = 50
    assert dashboard.batch.x_support.shape[1] == 50 and dashboard.batch.x_query.shape[1] == 100
    assert torch.equal(dashboard.batch.amplitude, lines[0]) and torch.equal(dashboard.batch.phase, lines[1])
    gap = float(re.search(r"gap (\d+\.\d+)", dashboard.status).group(1))
    maml = dashboard._artists["optima"]["maml"].get_xydata()[0]
    joint = dashboard._artists["optima"]["joint_on_maml"].get_xydata()[0]
    assert gap == pytest.approx(np.linalg.norm(maml - joint), abs=0.006)
    assert maml == pytest.approx(landscape_optimum(dashboard.batch, dashboard.inner_lr))
    xs, means = dashboard._artists["gap_mean"].get_data()
    assert list(xs) == [2, 3, 5, 10, 20, 50, 100] and means[-1] < means[0] / 3
    with pytest.raises(Exception):
        dashboard.k_slider.value = 7  # only the listed K values


def landscape_optimum(batch, inner_lr):
    from mtlviz.meta import landscape

    return landscape.linear_maml_optimum(batch, inner_lr=inner_lr)


def test_update_rules_dashboard_draws_three_steps_from_theta():
    """Lesson 02's nonlinear dashboard: three arrows (MAML, first-order MAML, Reptile) start at θ,
    equal in length (directions), point where update_directions says, and follow θ, α and k."""
    from mtlviz.meta import landscape
    from mtlviz.widgets.formula_dashboard import UpdateRulesDashboard

    dashboard = UpdateRulesDashboard(random_state=1)
    assert "first-order MAML" in dashboard.status and "Reptile k = 5" in dashboard.status
    dashboard.w = 2.0
    arrows = dashboard._artists["step_arrows"]
    assert np.allclose(arrows.get_offsets(), [[2.0, 0.5]] * 3)
    lengths = np.hypot(arrows.U, arrows.V)
    assert np.allclose(lengths, lengths[0]) and lengths[0] > 0
    d = landscape.update_directions(dashboard.batch, 2.0, 0.5, inner_lr=0.2, model="sine", reptile_steps=5)
    for k, step in enumerate([d.maml, d.first_order, d.reptile]):
        drawn = np.array([arrows.U[k], arrows.V[k]])
        assert drawn / np.linalg.norm(drawn) == pytest.approx(step / np.linalg.norm(step), abs=1e-9)
    before = dashboard.maml_optimum.copy()
    dashboard.inner_lr = 0.1
    assert not np.allclose(before, dashboard.maml_optimum)
    dashboard.reptile_steps = 1
    assert "Reptile k = 1" in dashboard.status
