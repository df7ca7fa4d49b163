"""The controls of lessons 08, 10 and 12 redraw their figures by blitting whole panels
(``BlitManager`` with :class:`~matplotlib.axes.Axes` among its artists) instead of full draws with
a constrained layout. What makes them fast is checked here by what it does (no full draw, no
layout, one adaptation per click), and what the student sees by pixels: a blitted frame equals
matplotlib's own full draw of the same figure. Timings are measured by
``benchmarks/slider_latency.py --all`` (RESULTS.md), never asserted."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("agg")
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _connect(canvas):
    """The canvas as a connected page sees it: frames sent are recorded, full draws counted; the
    page's first frame drawn."""
    frames, draws = [], []
    canvas.send_binary = frames.append  # what refresh_all hands to the browser's socket
    canvas.mpl_connect("draw_event", lambda event: draws.append(1))
    canvas.handle_event({"type": "draw"})
    return frames, draws


def _answer_draws(canvas):
    """What the page does when the kernel asks for a draw (draw_idle): it asks back."""
    if canvas._needs_draw:
        canvas.handle_event({"type": "draw"})


def _on_screen(canvas):
    return np.asarray(canvas.get_renderer().buffer_rgba()).astype(int)


def _drawn_plainly(canvas, blitter):
    """The figure's pixels as matplotlib draws them in full, every artist in z-order, at the layout
    now on screen (the same positions: the layout engine is switched off)."""
    figure = canvas.figure
    figure.set_layout_engine("none")
    for artist in blitter.artists:
        artist.set_animated(False)
    renderer = canvas.get_renderer()
    renderer.clear()
    with canvas.callbacks.blocked(signal="draw_event"):  # not a full draw the blitter should see
        figure.draw(renderer)
    return np.asarray(renderer.buffer_rgba()).astype(int)


def _labels_inside_and_apart(figure, renderer):
    """Every tick label, axis label and title lies inside the figure and off every other panel."""
    edge = figure.bbox.padded(0.5)
    for ax in figure.axes:
        boxes = [box for axis in (ax.xaxis, ax.yaxis)
                 for side in axis._get_ticklabel_bboxes(axis._update_ticks(), renderer) for box in side]
        boxes += [ax.xaxis.label.get_window_extent(renderer), ax.yaxis.label.get_window_extent(renderer),
                  ax.title.get_window_extent(renderer)]
        for box in boxes:
            if box.width > 0 and box.height > 0:
                assert edge.x0 <= box.x0 and box.x1 <= edge.x1 and edge.y0 <= box.y0 and box.y1 <= edge.y1, box
                assert not any(box.overlaps(other.bbox) for other in figure.axes if other is not ax), box


def _counted_layouts(figure):
    calls = []
    engine = figure.get_layout_engine()
    execute = engine.execute
    engine.execute = lambda fig: (calls.append(1), execute(fig))
    return calls


def test_panels_blitted_whole_lay_out_once_per_setting_and_look_like_a_full_draw():
    """If this fails, a toggle between two settings whose tick labels differ (a linear and a log
    axis) either runs the figure's constrained layout again at every toggle (30-60 ms of the
    issue's 120 ms), or shows a stale layout: labels cut at the figure's edge or written over the
    next panel; or the blitted frame differs from what matplotlib draws."""
    from mtlviz.widgets._canvas import BlitManager, interactive_figure

    figure, canvas = interactive_figure(8.0, 3.0)
    left, right = figure.subplots(1, 2)
    x = np.arange(1, 9)
    (line_left,) = left.plot(x, x * 3.0)
    (line_right,) = right.plot(x, x ** 4.0, label="cost")
    left.set_title("time")
    legends = {}

    def legend():  # one legend per scale, made once, as lesson 12 keeps one per network
        scale = right.get_yscale()
        if scale not in legends:
            legends[scale] = right.legend(loc="upper left", title=scale)
        right.legend_ = legends[scale]
        return right.legend_

    legend()
    blitter = BlitManager(canvas, [left, right, left.title, right.get_legend])
    frames, draws = _connect(canvas)
    layouts = _counted_layouts(figure)

    def toggle(log):
        for ax in (left, right):
            ax.set_yscale("log" if log else "linear")
            ax.relim()
            ax.autoscale_view()
        legend()
        blitter.update()
        _answer_draws(canvas)

    for log in (True, False, True, False, True, False):
        toggle(log)
        _labels_inside_and_apart(figure, canvas.get_renderer())
    # the log scale's wider labels needed one new layout; after it, both scales blit
    assert len(layouts) == 1 and len(draws) == 1 and len(frames) == 7
    toggle(True)
    shown = _on_screen(canvas)
    assert len(layouts) == 1 and len(draws) == 1
    assert np.abs(shown - _drawn_plainly(canvas, blitter)).max() <= 2  # rounding of the cached legend only


def test_a_panel_that_no_longer_fits_gets_a_full_draw_when_other_panels_stay_behind():
    """If this fails, a blitted panel whose tick labels grew past the layout (a wider data range)
    is shown with its labels over the panel beside it, where that panel is part of the cached
    background and cannot be moved without a full draw."""
    from mtlviz.widgets._canvas import BlitManager, interactive_figure

    figure, canvas = interactive_figure(6.0, 3.0)
    fixed, changing = figure.subplots(1, 2)
    fixed.plot([0, 1], [0, 1])
    (line,) = changing.plot([0, 1], [0, 1])
    blitter = BlitManager(canvas, [changing])
    frames, draws = _connect(canvas)
    line.set_ydata([0, 1])
    blitter.update()
    assert len(draws) == 1 and len(frames) == 2  # fits: blitted
    line.set_ydata([-123456789.0, 987654321.0])  # much wider tick labels
    changing.relim()
    changing.autoscale_view()
    changing.yaxis.get_major_formatter().set_scientific(False)
    blitter.update()
    _answer_draws(canvas)
    assert len(draws) == 2  # a full draw, with a layout that makes room
    _labels_inside_and_apart(figure, canvas.get_renderer())


# -- lesson 08 -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def protonet_classifiers():
    from mtlviz.pretrained import load_nearest_centroid, load_protonet

    protonets = {k: load_protonet(k) for k in (1, 5)}
    centroid = load_nearest_centroid("euclidean")
    return {"ProtoNet": protonets, "nearest centroid": {1: centroid, 5: centroid}}


def test_lesson08_toggles_blit_and_show_what_a_full_draw_shows(protonet_classifiers):
    """If this fails, lesson 08's embedding and K toggles go back to clearing and fully drawing
    both panels with a new layout each time (150-180 ms a toggle in a browser, the issue's target
    120 ms), or the blitted picture differs from the full draw (a stale panel or label)."""
    from mtlviz.data.glyphs import GlyphTasks
    from mtlviz.widgets import ProtoNetDashboard

    dashboard = ProtoNetDashboard(protonet_classifiers, GlyphTasks("evaluation", image_size=20), random_state=0)
    canvas = dashboard._canvas
    frames, draws = _connect(canvas)
    map_ax = dashboard._map_ax
    collections = list(map_ax.collections)
    for embedding, k_shot in (("nearest centroid", 1), ("nearest centroid", 5), ("ProtoNet", 5), ("ProtoNet", 1),
                              ("nearest centroid", 1)):
        dashboard.embedding, dashboard.k_shot = embedding, k_shot
        _answer_draws(canvas)
        _labels_inside_and_apart(canvas.figure, canvas.get_renderer())
    assert len(draws) <= 2  # the first frame, and at most one new layout for wider labels
    assert len(frames) == 6  # one frame a setting
    assert list(map_ax.collections) == collections  # the map's artists are updated, not made again
    shown = _on_screen(canvas)
    assert np.abs(shown - _drawn_plainly(canvas, dashboard._blitter)).max() <= 2


# -- lesson 10 -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def navigation_policies():
    from mtlviz.pretrained import load_navigation

    return {"MAML": load_navigation("maml"), "pretrained": load_navigation("pretrained")}


def test_policies_adapted_together_get_what_each_gets_alone(navigation_policies):
    """If this fails, lesson 10's dashboard, which adapts both policies as one batch, shows paths
    and returns that are not what ``policy.adapt`` (the lesson's printed numbers, the shipped
    figure) gives for the same goal and seed."""
    from mtlviz.meta.rl import adapt_together

    goals = torch.tensor([[0.3, -0.2], [-0.45, 0.1]])
    together = adapt_together(navigation_policies, goals, n_steps=3, random_state=7)
    for name, policy in navigation_policies.items():
        alone = policy.adapt(goals, n_steps=3, random_state=7)
        assert np.array_equal(together[name].returns, alone.returns), name
        assert np.array_equal(together[name].positions, alone.positions), name
        assert np.array_equal(together[name].goals, alone.goals)
    with pytest.raises(ValueError, match="goal"):
        adapt_together(navigation_policies, torch.tensor([[0.9, 0.0]]))


def test_lesson10_goal_click_adapts_once_and_blits(navigation_policies):
    """If this fails, a click on lesson 10's plane adapts both policies twice (once per
    coordinate, as before 2026-12-05) or draws the whole figure with a new layout (a click then
    took 300-390 ms in a browser; the issue's target is 120 ms), or the blitted picture differs
    from the full draw (the goal hidden under the legend, a path over the frame)."""
    from types import SimpleNamespace

    import mtlviz.widgets.navigation_dashboard as module

    dashboard = module.NavigationDashboard(navigation_policies, goal=(0.3, -0.2), seed=0)
    canvas = dashboard._canvas
    frames, draws = _connect(canvas)
    adaptations = []
    adapt_together = module.adapt_together
    module.adapt_together = lambda *args, **kwargs: (adaptations.append(1), adapt_together(*args, **kwargs))[1]
    try:
        plane = dashboard._planes["MAML"]
        for x, y in ((-0.4, -0.4), (0.2, 0.45), (0.2, 0.45), (0.45, -0.45)):
            dashboard._on_click(SimpleNamespace(inaxes=plane, xdata=x, ydata=y))
            _answer_draws(canvas)
    finally:
        module.adapt_together = adapt_together
    assert len(adaptations) == 3  # one per new goal; the repeated click changes nothing
    assert len(frames) == 4 and len(draws) <= 2  # the first frame; one frame a goal; at most one new layout
    assert dashboard.status.startswith("goal (0.45, -0.45)")
    _labels_inside_and_apart(canvas.figure, canvas.get_renderer())
    shown = _on_screen(canvas)
    assert np.abs(shown - _drawn_plainly(canvas, dashboard._blitter)).max() <= 2


# -- lesson 12 -----------------------------------------------------------------------------------

def test_lesson12_toggles_blit_once_each_setting_is_laid_out():
    """If this fails, lesson 12's network toggle and log-scale box redraw the whole figure with a
    new layout at every toggle (146-180 ms in a browser, the issue's target 120 ms), or show a
    layout made for another setting (a log axis's labels over the next panel, a linear axis's
    label cut at the figure's edge), or a picture that differs from the full draw."""
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.widgets.cost_dashboard import CostDashboard

    dashboard = CostDashboard(load_figure("meta_cost"))
    canvas = dashboard._canvas
    frames, draws = _connect(canvas)
    layouts = _counted_layouts(canvas.figure)
    settings = [(net, log) for net in ("sinusoid", "glyphs") for log in (False, True)]
    for round_ in range(2):
        for net, log in settings:
            dashboard.net, dashboard.log_scale = net, log
            _answer_draws(canvas)
            _labels_inside_and_apart(canvas.figure, canvas.get_renderer())
        if round_ == 0:
            first_round = len(layouts)
    assert len(draws) == 1  # the page's first frame: every new layout was laid out and blitted
    assert len(layouts) == first_round <= len(settings)  # a new layout only for a setting not seen before
    shown = _on_screen(canvas)
    assert np.abs(shown - _drawn_plainly(canvas, dashboard._blitter)).max() <= 2
