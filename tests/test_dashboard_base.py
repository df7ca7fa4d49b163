"""The dashboard base (mtlviz/widgets/_base.py): one status line, one guard, for every dashboard."""
from __future__ import annotations

import inspect
import logging

import pytest

import mtlviz.widgets as dashboards
from mtlviz.pretrained import load_sinusoid
from mtlviz.widgets import InnerOuterDashboard
from mtlviz.widgets._base import STATUS_STYLES, Dashboard

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_every_dashboard_derives_from_the_base():
    """If this fails, a dashboard writes its own status handling again (the seven copies this base
    replaced drew the line in seven ways, one of them unreadable on the projector theme)."""
    classes = [getattr(dashboards, name) for name in dashboards.__all__]
    classes = [c for c in classes if inspect.isclass(c)]
    assert len(classes) >= 8
    assert [c.__name__ for c in classes if not issubclass(c, Dashboard)] == []


def test_status_line_escapes_text_and_uses_the_theme_colour_of_its_kind():
    """A message with '<' must read as text, and each kind must have its theme-aware colour."""
    board = Dashboard()
    board.show_status("loss < 1 & rising", "warning")
    assert "loss &lt; 1 &amp; rising" in board.status_line.value
    assert STATUS_STYLES["warning"] in board.status_line.value and "var(--jp-warn-color0" in STATUS_STYLES["warning"]
    board.show_status("all good")
    assert board.status_kind == "info" and STATUS_STYLES["info"] in board.status_line.value
    with pytest.raises(ValueError, match=r"kind must be one of \['info', 'warning', 'error'\]; got 'loud'"):
        board.show_status("x", "loud")


def test_guard_turns_an_expected_failure_into_one_line():
    """A ValueError from a control's action must reach the student as its first line, no traceback."""
    board = Dashboard()
    with board.guard("redrawing"):
        raise ValueError("inner_lr must be in [0, 10]; got -1\nmore detail")
    assert board.status == "redrawing: inner_lr must be in [0, 10]; got -1" and board.status_kind == "error"


def test_guard_reports_a_bug_in_one_line_and_logs_the_traceback(caplog):
    """An unexpected exception is a bug: the page shows one line, the kernel log keeps the traceback."""
    board = Dashboard()
    with caplog.at_level(logging.ERROR, logger="mtlviz.widgets"):
        with board.guard("drawing"):
            {}["missing"]  # noqa: B018 - a KeyError, as a bug would raise
    assert board.status.startswith("drawing failed (KeyError: 'missing')") and board.status_kind == "error"
    assert "Traceback" in caplog.text


@pytest.fixture(scope="module")
def lesson03():
    return InnerOuterDashboard(load_sinusoid("maml"), load_sinusoid("joint"), random_state=0)


def test_a_bad_value_set_from_code_shows_one_line_naming_the_parameter(lesson03):
    """A teacher typing dashboard.inner_lr = -1 in JupyterLab gets a message, not a traceback."""
    lesson03.inner_lr = -1.0
    assert lesson03.status_kind == "error" and "inner_lr must be in" in lesson03.status
    lesson03.inner_lr = 0.01  # and the dashboard recovers on a good value
    assert lesson03.status_kind == "info" and "query MSE" in lesson03.status


def test_divergence_is_flagged_as_a_warning(lesson03):
    """A diverging adaptation must be drawn as a warning, never shown as a plain (or NaN) result."""
    with lesson03.hold_trait_notifications():
        lesson03.inner_lr, lesson03.n_inner_steps = 1.0, 10
    assert lesson03.status_kind == "warning" and "diverged" in lesson03.status
    with lesson03.hold_trait_notifications():
        lesson03.inner_lr, lesson03.n_inner_steps = 0.01, 1
    assert lesson03.status_kind == "info"


def test_presenter_theme_draws_light_ink_on_a_dark_figure():
    """If this fails, the projector shows white figures on the dark page (or black text on a dark
    figure): unreadable from the back of a room. The theme must apply to figures made after it."""
    import matplotlib

    from mtlviz import plotting
    from mtlviz.widgets._canvas import interactive_figure

    try:
        plotting.use_theme("presenter")
        figure, _ = interactive_figure(4.0, 3.0)
        ax = figure.subplots()
        artists = plotting.plot_adaptation(ax, n_max_steps=2, color="#1f77b4", title="t")
        dark = matplotlib.colors.to_rgb(figure.get_facecolor())
        ink = matplotlib.colors.to_rgb(artists["true"].get_color())
        assert max(dark) < 0.2 and min(ink) > 0.8, (dark, ink)
    finally:
        plotting.use_theme("default")
    figure, _ = interactive_figure(4.0, 3.0)
    assert matplotlib.colors.to_rgb(figure.get_facecolor()) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"name must be one of \['default', 'presenter'\]; got 'neon'"):
        plotting.use_theme("neon")
