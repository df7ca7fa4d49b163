"""Lesson 09's dashboards: they build from shipped models, redraw on their controls, and turn a
failure into one status line (never a traceback)."""
from __future__ import annotations

import pytest

from mtlviz.data.glyphs import GlyphTasks
from mtlviz.meta.fewshot import MAMLClassifier
from mtlviz.pretrained import load_sinusoid
from mtlviz.widgets import FeatureReuseDashboard, FirstOrderDashboard
from mtlviz.widgets._base import Dashboard

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def sinusoid_dashboard():
    return FirstOrderDashboard({"MAML": load_sinusoid("maml"), "pretrained": load_sinusoid("joint")})


def test_new_task_and_sliders_redraw_with_each_models_loss(sinusoid_dashboard):
    """If this fails, a student pressing New task or moving a slider sees a stale figure."""
    dashboard = sinusoid_dashboard
    assert isinstance(dashboard, Dashboard)
    first = dashboard.status
    assert "MAML" in first and "pretrained" in first and "after 5 steps" in first
    dashboard.new_button.click()
    assert dashboard.task_seed == 1 and dashboard.status != first
    dashboard.steps_slider.value = 0
    assert "after 0 steps" in dashboard.status and dashboard.status_kind == "info"


def test_a_failing_redraw_is_one_status_line(sinusoid_dashboard, monkeypatch):
    dashboard = sinusoid_dashboard

    def broken(*args, **kwargs):
        raise ValueError("inner_lr must be in [0, 10]; got 11")

    monkeypatch.setattr(dashboard._models["MAML"], "trace_adaptation", broken)
    dashboard.k_slider.value = 3
    assert dashboard.status_kind == "error" and "inner_lr must be in" in dashboard.status


def test_feature_reuse_dashboard_draws_a_new_episode():
    """The glyph dashboard's bars and line change with each New episode (small untrained model)."""
    maml = MAMLClassifier(image_size=12, channels=4, n_outer_steps=0, random_state=0)
    tasks = GlyphTasks("evaluation", image_size=12)
    maml.fit(GlyphTasks("background", image_size=12))
    dashboard = FeatureReuseDashboard(maml, {n: p.detach() for n, p in maml.params_.items()}, tasks)
    first = dashboard.status
    assert first.startswith("episode 0") and "ANIL" in first
    dashboard.new_button.click()
    assert dashboard.status.startswith("episode 1")
    heights = [bar.get_height() for bar in dashboard._cka["bars"]]
    assert all(0.0 <= h <= 1.0 + 1e-9 for h in heights)


def test_a_value_its_slider_cannot_show_is_refused_from_code(sinusoid_dashboard):
    """Setting K or the steps from code outside the sliders' range is refused in one status line
    naming the range (no traceback), the values stay, and the next good value clears the line
    (issue 17's contract for every dashboard)."""
    dashboard = sinusoid_dashboard
    before = (dashboard.k_shot, dashboard.n_steps, dashboard.status)
    dashboard.k_shot = 11
    assert dashboard.status_kind == "error" and dashboard.status.startswith("k_shot must be in [1, 10]")
    dashboard.n_steps = -1
    assert dashboard.status.startswith("n_steps must be in [0, 10]")
    assert (dashboard.k_shot, dashboard.n_steps) == before[:2]
    dashboard.k_shot = before[0]
    assert (dashboard.k_shot, dashboard.n_steps, dashboard.status) == before
