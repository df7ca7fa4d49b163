"""Dashboard of lesson 12: what a meta-step costs in time and memory against the inner steps, per
method, from the shipped measurement, and a button that measures a small configuration here."""
from __future__ import annotations

import time

import ipywidgets as widgets
from traitlets import Bool, Unicode, validate

from .. import plotting
from ..meta.cost import LABELS, NETS, NO_INNER_LOOP, measure
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["CostDashboard", "LIVE_SETTINGS"]

#: What "Measure on this machine" runs per network: the sinusoid as shipped; the glyph ConvNet on
#: one episode per meta-step and fewer steps (the shipped 8 episodes take minutes on 2 cores), every
#: method of the shipped run, Meta-LSTM and ProtoNet included.
LIVE_SETTINGS = {"sinusoid": {"steps": (1, 2, 5, 10), "repeats": 5, "meta_batch_size": None},
                 "glyphs": {"steps": (1, 2, 3), "repeats": 1, "meta_batch_size": 1}}


class CostDashboard(Dashboard):
    """Time per meta-step and the memory autograd's graph holds, against the inner steps k, for
    second-order MAML, first-order MAML, Reptile and ANIL (and on the glyph net Meta-LSTM against
    its learner updates, and ProtoNet, flat: no inner loop), beside one plain forward+backward pass.

    Parameters
    ----------
    figure : dict
        The shipped ``meta_cost`` figure (:func:`mtlviz.pretrained.figures.meta_cost`):
        ``{net: measure(net, ...)}``.

    Public state: ``net`` ("sinusoid" or "glyphs"), ``log_scale`` (both panels' y axes
    logarithmic, so that the small methods stay readable beside Meta-LSTM). The "Measure on this machine" button runs
    :data:`LIVE_SETTINGS` for the net shown (a second or two) and draws it dashed beside the
    shipped lines; ``status`` says what ran and how long it took. Nothing is measured at start.
    """

    net = Unicode("sinusoid")
    log_scale = Bool(False)

    def __init__(self, figure, **kwargs):
        super().__init__(**kwargs)
        missing = [net for net in NETS if net not in figure]
        if missing:
            raise ValueError(f"figure must hold the shipped measurement of {list(NETS)}; missing {missing}")
        self._figure = figure
        self._live = {}
        self.net_buttons = widgets.ToggleButtons(options=[("sinusoid MLP", "sinusoid"), ("glyph ConvNet", "glyphs")],
                                                 value="sinusoid", description="network")
        self.measure_button = widgets.Button(description="Measure on this machine", icon="stopwatch",
                                             layout=widgets.Layout(width="auto"))  # fixed widths cut it in the presenter theme
        self.measure_button.on_click(self._on_measure_click)
        self.link_control(self.net_buttons, "net")
        self.log_checkbox = widgets.Checkbox(value=False, description="log scale", indent=False,
                                             layout=widgets.Layout(width="auto"))
        self.link_control(self.log_checkbox, "log_scale")
        self.figure, self._canvas = interactive_figure(10.5, 3.9)
        time_ax, memory_ax = self.figure.subplots(1, 2)
        self._artists = plotting.plot_meta_cost(time_ax, memory_ax, LABELS, flat=NO_INNER_LOOP)
        # A toggle rescales both panels: each is drawn whole, without the figure's constrained
        # layout (39 of a toggle's 120 ms of kernel CPU) while their labels fit it, and their
        # titles and the legend (the one now: one per network) from BlitManager's cache (issue 19).
        self._blitter = BlitManager(self._canvas, [time_ax, memory_ax, time_ax.title, memory_ax.title,
                                                   memory_ax.get_legend])
        self.children = [widgets.HBox([self.net_buttons, self.log_checkbox, self.measure_button]), self._canvas,
                         self.status_line]
        self.observe(self._on_net_change, names=["net"])
        self.observe(self._on_scale_change, names=["log_scale"])
        self.refresh()

    @validate("net")
    def _validate_control_value(self, proposal):
        return self.value_in_control(proposal)

    def _draw(self) -> None:
        plotting.update_meta_cost(self._artists, self._figure[self.net], self._live.get(self.net), self.log_scale)
        self._blitter.update()

    def refresh(self) -> None:
        """Draw the shipped measurement of the net shown (and this machine's, if measured), and say
        what the shipped run measured."""
        self._draw()
        shipped = self._figure[self.net]
        before = shipped.get("load_average_before")
        load = (f"{before:.1f} before, {shipped['load_average']:.1f} after" if before is not None
                else f"{shipped['load_average']:.1f}")
        maml, first = shipped["rows"]["maml"], shipped["rows"]["fomaml"]
        k = maml["steps"][-1]
        self.show_status(
            f"shipped run ({shipped['threads']} thread, load average {load}): at k = {k}, "
            f"MAML's graph holds {maml['graph_bytes'][-1] / 1e6:.1f} MB, first-order MAML's "
            f"{first['graph_bytes'][-1] / 1e6:.1f} MB, one plain step's {shipped['plain']['graph_bytes'] / 1e6:.1f} MB")

    def measure(self) -> None:
        """Measure :data:`LIVE_SETTINGS` for the net shown here and draw it."""
        setting = LIVE_SETTINGS[self.net]
        started = time.perf_counter()
        result = measure(self.net, **setting)
        seconds = time.perf_counter() - started
        self._live[self.net] = result
        self._draw()  # beside the shipped run
        maml, plain = result["rows"]["maml"], result["plain"]
        size = result["meta_batch_size"]
        k = setting["steps"][-1]
        same = self._figure[self.net]["meta_batch_size"] == size
        memory = ("graph memory identical to the shipped run" if same and all(
            result["rows"][m]["graph_bytes"] == self._figure[self.net]["rows"][m]["graph_bytes"][:len(setting["steps"])]
            for m in result["rows"]) else f"{size} task{'s' if size != 1 else ''} per meta-step (shipped: "
            f"{self._figure[self.net]['meta_batch_size']}), so lower than the solid lines")
        self.show_status(
            f"measured here in {seconds:.1f} s ({result['threads']} thread{'s' if result['threads'] != 1 else ''}, "
            f"load average {result['load_average']:.1f}), k = {', '.join(map(str, setting['steps']))}: MAML at k = {k} "
            f"{maml['time_ms'][-1]:.1f} ms per meta-step, {maml['time_ms'][-1] / plain['time_ms']:.0f}× a plain step; "
            f"{memory}")

    def _on_net_change(self, change) -> None:
        with self.guard("redraw"):
            self.refresh()

    def _on_scale_change(self, change) -> None:
        with self.guard("redraw"):
            self._draw()  # the status line keeps what it said (a measurement's report stays)

    def _on_measure_click(self, _button) -> None:
        self.measure_button.disabled = True
        self.show_status(f"measuring the {self.net} network here…")
        try:
            with self.guard("measure"):
                self.measure()
        finally:
            self.measure_button.disabled = False
