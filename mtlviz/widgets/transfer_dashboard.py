"""Dashboard of lesson 06: fine-tuning vs feature extraction vs training from scratch."""
from __future__ import annotations


import ipywidgets as widgets
from traitlets import Int, Unicode, validate

from .. import plotting
from ..transfer.curves import N_BLOCKS, TARGETS, TransferCurves, setting_label, trained_parameters
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["TransferDashboard"]

class TransferDashboard(Dashboard):
    """Target accuracy against labelled examples per class, for training from scratch, feature
    extraction and fine-tuning with a chosen number of frozen conv blocks.

    Every point was measured beforehand (:class:`~mtlviz.transfer.curves.TransferCurves`), so
    moving a control only redraws. Public state: ``target``, ``k_shot``, ``n_frozen``; ``status``
    says what is on screen.
    """

    target = Unicode("digits")
    k_shot = Int(5)
    n_frozen = Int(2)
    status_lines = 2  # three settings' accuracies and the winner: one line or two, setting by setting

    @validate("target", "k_shot", "n_frozen")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, curves: TransferCurves, *, target: str = "digits", k_shot: int = 5, n_frozen: int = 2,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(curves, TransferCurves):
            raise ValueError(f"curves must be a TransferCurves; got {type(curves).__name__}")
        self._curves = curves
        targets = [t for t in TARGETS if t in curves.accuracies]
        if target not in targets:
            raise ValueError(f"target must be one of {targets}; got {target!r}")
        if k_shot not in curves.shots:
            raise ValueError(f"k_shot must be one of the measured {list(curves.shots)}; got {k_shot!r}")
        if not 0 <= n_frozen <= N_BLOCKS:
            raise ValueError(f"n_frozen must be in [0, {N_BLOCKS}]; got {n_frozen!r}")
        self.target, self.k_shot, self.n_frozen = target, k_shot, n_frozen
        self.target_buttons = widgets.ToggleButtons(options=[(TARGETS[t], t) for t in targets], value=target,
                                                    description="target")
        self.target_buttons.style.button_width = "auto"  # the targets' names in full, at any font size
        self.shot_slider = widgets.SelectionSlider(options=list(curves.shots), value=k_shot,
                                                   description="labels/class", layout=widgets.Layout(width="420px"))
        self.frozen_slider = widgets.IntSlider(value=n_frozen, min=0, max=N_BLOCKS, description="frozen blocks",
                                               layout=widgets.Layout(width="420px"))
        for control in (self.shot_slider, self.frozen_slider):
            control.style.description_width = "90px"
        self.link_control(self.target_buttons, "target")
        self.link_control(self.shot_slider, "k_shot")
        self.link_control(self.frozen_slider, "n_frozen")
        self._build_figure()
        note = widgets.HTML("<small>Every point was trained beforehand (3 to 12 episodes each, "
                            "<code>python -m mtlviz.pretrained.train_transfer_curves</code>); moving a control only "
                            "redraws. Bands: 95% interval of the mean over the episodes.</small>")
        self.children = [self.target_buttons, widgets.HBox([self.shot_slider, self.frozen_slider]), self._canvas,
                         self.status_line, note]
        self.observe(self._on_setting_change, names=["target", "k_shot", "n_frozen"])
        self._draw()

    def _on_setting_change(self, _change):
        with self.guard("redrawing the curves"):
            self._draw()

    # -- figure ------------------------------------------------------------------------------
    def _build_figure(self):
        self.figure, self._canvas = interactive_figure(11.5, 4.4)
        curves_ax, net_ax = self.figure.subplots(1, 2, width_ratios=[2.3, 1.0])
        self._artists = plotting.plot_transfer_curves(curves_ax, net_ax, shots=self._curves.shots, n_blocks=N_BLOCKS)
        self._blit = BlitManager(self._canvas, self._artists["animated"])
        self._blit.artists = self._artists["animated"]  # the same list: update_transfer_curves swaps the bands in it

    def _draw(self):
        curves, target, k, frozen = self._curves, self.target, self.k_shot, self.n_frozen
        shown = {"scratch": "scratch", "feature": N_BLOCKS, "fine": frozen}
        trained, total = trained_parameters(frozen)
        plotting.update_transfer_curves(
            self._artists, curves={key: curves.curve(target, setting) for key, setting in shown.items()},
            faint=[curves.curve(target, n) for n in range(N_BLOCKS) if n != frozen], k_shot=k,
            here=[curves.point(target, setting, k).mean for setting in shown.values()],
            title=f"{TARGETS[target]}: pretrained on 912 glyph classes", n_frozen=frozen, show_fine=frozen != N_BLOCKS,
            net_title=f"{setting_label(frozen)}\ntrains {trained:,} of {total:,} parameters")
        self._blit.update()
        points = {key: curves.point(target, s, k) for key, s in shown.items()}
        fine = (f"{setting_label(frozen)} {points['fine'].mean:.1%} · " if frozen != N_BLOCKS else "")
        self.show_status(f"{target}, K = {k} labels per class, {frozen} frozen blocks: {fine}"
                         f"feature extraction {points['feature'].mean:.1%} · from scratch {points['scratch'].mean:.1%}"
                         f" → {curves.winner(target, k, frozen)}")
