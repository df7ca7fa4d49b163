"""A dashboard's public state set from code must be a value its control can show (issue 17).

Before, ``dashboard.inner_lr = 100`` on a slider ending at 2 left the figure computed for α = 100
and the slider showing 2; a teacher scripting a demo got a dashboard that contradicts itself. Now
the value is refused with a one-line status naming the parameter and its range (no traceback), the
dashboard keeps its last good state, and the next good value clears the message.
"""
from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("agg")

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _dashboards():
    from pathlib import Path

    from mtlviz.data.glyphs import DigitsTasks, GlyphTasks
    from mtlviz.meta.seed import VARIANTS
    from mtlviz.pretrained import (load_glyph_maml, load_glyph_metalstm, load_seed_variant, load_sinusoid,
                                   load_transfer_curves, load_two_moons_da)
    from mtlviz.widgets import (CourseGuide, DomainAdaptationDashboard, EpisodeViewer, FormulaDashboard,
                                InnerOuterDashboard, MetaLSTMDashboard, SeedBugsDashboard, TransferDashboard,
                                UpdateRulesDashboard)

    lessons = [p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")]
    yield CourseGuide(available=lessons)
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.widgets.cost_dashboard import CostDashboard

    yield CostDashboard(load_figure("meta_cost"))
    yield EpisodeViewer({"glyphs": GlyphTasks("evaluation"), "digits": DigitsTasks()}, random_state=0)
    yield FormulaDashboard(n_tasks=4, random_state=0)
    yield UpdateRulesDashboard(n_tasks=4, random_state=1)
    yield InnerOuterDashboard(load_sinusoid("maml"), load_sinusoid("joint"), random_state=0)
    yield SeedBugsDashboard({name: load_seed_variant(name) for name in VARIANTS}, random_state=0)
    yield MetaLSTMDashboard({k: (load_glyph_metalstm(k), load_glyph_maml(k)) for k in (1, 5)},
                            GlyphTasks("evaluation", image_size=20), sgd_lr={1: 0.1, 5: 0.03}, random_state=0)
    yield TransferDashboard(load_transfer_curves(), target="digits", k_shot=5, n_frozen=2)
    yield DomainAdaptationDashboard(load_two_moons_da(), angle=30)
    from mtlviz.pretrained import load_nearest_centroid, load_protonet
    from mtlviz.widgets import ProtoNetDashboard

    protonet, centroid = load_protonet(1), load_nearest_centroid()
    yield ProtoNetDashboard({"ProtoNet": {1: protonet, 5: protonet}, "nearest centroid": {1: centroid, 5: centroid}},
                            GlyphTasks("evaluation", image_size=20), random_state=0)
    from mtlviz.pretrained.train_task_pool import load_task_pool_figure, load_task_pool_models
    from mtlviz.widgets import TaskPoolDashboard

    pool_figure = load_task_pool_figure()
    yield TaskPoolDashboard(load_task_pool_models(), pool_figure, pool_seed=pool_figure["pool_seed"])


def _outside(control):
    """A value the control cannot show: past the slider's end, or not among the options."""
    if hasattr(control, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return "not an option" if isinstance(values[0], str) else max(values) + 1000
    if hasattr(control, "base"):  # a log slider: max is an exponent
        return control.base ** control.max * 10
    return control.max + (1 if isinstance(control.max, int) else 1.5)


def test_every_linked_control_refuses_values_it_cannot_show():
    checked = []
    for board in _dashboards():
        assert board._controls, f"{type(board).__name__} links no control through link_control"
        for name, control in board._controls.items():
            if not (hasattr(control, "options") or hasattr(control, "max")):
                continue  # a checkbox: every bool is showable
            before, status, kind = getattr(board, name), board.status, board.status_kind
            setattr(board, name, _outside(control))  # no exception: a teacher's cell must not show a traceback
            assert getattr(board, name) == before and control.value == before, (type(board).__name__, name)
            assert board.status_kind == "error" and board.status.startswith(f"{name} must be "), board.status
            assert f"{name} stays {before!r}" in board.status
            setattr(board, name, before)  # a good value (here the same one): the message goes, nothing is stuck
            assert (board.status, board.status_kind) == (status, kind), (type(board).__name__, name)
            checked.append(f"{type(board).__name__}.{name}")
    assert len(checked) >= 20, checked


def test_a_value_inside_the_range_still_moves_the_control_and_the_figure():
    from mtlviz.widgets import FormulaDashboard

    board = FormulaDashboard(n_tasks=4, random_state=0)
    slider = board._controls["inner_lr"]
    board.inner_lr = slider.max * 10
    assert board.status_kind == "error" and board.status.startswith("inner_lr must be in [0, ")
    board.inner_lr = slider.min
    assert slider.value == slider.min and board.inner_lr == slider.min and board.status_kind != "error"


def test_no_dashboard_links_a_control_around_the_check():
    """A plain widgets.link would skip the range check; every dashboard goes through link_control."""
    from pathlib import Path

    import mtlviz.widgets

    folder = Path(mtlviz.widgets.__file__).parent
    offenders = [p.name for p in folder.glob("*.py") if p.name != "_base.py" and "widgets.link(" in p.read_text()]
    assert offenders == []
