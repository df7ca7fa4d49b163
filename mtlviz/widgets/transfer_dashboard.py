"""Dashboard of lesson 06: fine-tuning vs feature extraction vs training from scratch."""
from __future__ import annotations


import ipywidgets as widgets
import numpy as np
from matplotlib.patches import FancyBboxPatch
from traitlets import Int, Unicode, validate

from ..transfer.curves import N_BLOCKS, TARGETS, TransferCurves, parameter_counts, setting_label
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["TransferDashboard"]

COLORS = {"scratch": "#7f7f7f", "feature": "#e6720a", "fine": "#1f77b4", "frozen": "#a6c8e8", "trains": "#f5b041"}


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
        self._curves_ax, self._net_ax = curves_ax, net_ax
        curves_ax.set_xscale("log")
        shots = self._curves.shots
        curves_ax.set_xticks(shots, [str(k) for k in shots])
        curves_ax.minorticks_off()
        curves_ax.set_xlim(shots[0] / 1.25, shots[-1] * 1.25)
        ticks = np.linspace(0.3, 1.0, 8)
        curves_ax.set_ylim(0.3, 1.01)
        curves_ax.set_yticks(ticks, [f"{v:.0%}" for v in ticks])
        curves_ax.grid(alpha=0.3)
        curves_ax.set_xlabel("labelled target images per class (K)")
        curves_ax.set_ylabel("target test accuracy (10 classes; chance 10%)")
        animated = []
        self._faint = [curves_ax.plot([], [], "-", color=COLORS["fine"], alpha=0.25, linewidth=1)[0]
                       for _ in range(N_BLOCKS - 1)]
        self._lines, self._bands = {}, {}
        for key, style, label in [("scratch", "o--", "from scratch"),
                                  ("feature", "s-", f"feature extraction ({N_BLOCKS} blocks frozen)"),
                                  ("fine", "o-", "fine-tuning (frozen blocks: slider)")]:
            self._lines[key] = curves_ax.plot([], [], style, color=COLORS[key], linewidth=2.2 if key == "fine" else 1.6,
                                              markersize=5, label=label)[0]
            self._bands[key] = None
        self._cursor = curves_ax.axvline(shots[0], color="#d62728", linewidth=1.0)
        self._here = curves_ax.scatter([], [], s=110, facecolors="none", edgecolors="#d62728", linewidths=1.8,
                                       zorder=5)
        curves_ax.plot([], [], "-", color=COLORS["fine"], alpha=0.25, label="fine-tuning, other frozen counts")
        curves_ax.legend(loc="lower right", fontsize=8)
        self._title = curves_ax.set_title(" ", fontsize=10)
        animated += self._faint + list(self._lines.values()) + [self._cursor, self._here, self._title]

        net_ax.set_xlim(0, 1)
        net_ax.set_ylim(-0.6, N_BLOCKS + 2.3)
        net_ax.axis("off")
        counts = parameter_counts()
        self._n_params = counts
        names = ["input image"] + [f"conv block {i + 1}" for i in range(N_BLOCKS)] + ["new output layer"]
        self._boxes, self._box_text = [], []
        for row, name in enumerate(names):
            box = FancyBboxPatch((0.08, row - 0.36), 0.84, 0.72, boxstyle="round,pad=0.02", facecolor="white",
                                 edgecolor="#555555")
            net_ax.add_patch(box)
            self._boxes.append(box)
            self._box_text.append(net_ax.text(0.5, row, name, ha="center", va="center", fontsize=9,
                                             color="#1a1a1a"))  # dark ink: the boxes are light in every theme
        self._net_title = net_ax.text(0.5, N_BLOCKS + 1.75, " ", ha="center", va="center", fontsize=10)
        animated += self._boxes + self._box_text + [self._net_title]
        self._blit = BlitManager(self._canvas, animated)

    def _fill(self, key, shots, points):
        if self._bands[key] is not None:
            self._bands[key].remove()
            self._blit.artists.remove(self._bands[key])
        band = self._curves_ax.fill_between(shots, [p.low for p in points], [p.high for p in points],
                                            color=COLORS[key], alpha=0.13, linewidth=0)
        band.set_animated(True)
        self._blit.artists.insert(0, band)
        self._bands[key] = band

    def _draw(self):
        curves, target, k, frozen = self._curves, self.target, self.k_shot, self.n_frozen
        shown = {"scratch": "scratch", "feature": N_BLOCKS, "fine": frozen}
        here = []
        for key, setting in shown.items():
            shots, points = curves.curve(target, setting)
            self._lines[key].set_data(shots, [p.mean for p in points])
            self._fill(key, shots, points)
            here.append((k, curves.point(target, setting, k).mean))
        self._lines["fine"].set_visible(frozen != N_BLOCKS)
        self._bands["fine"].set_visible(frozen != N_BLOCKS)
        others = [n for n in range(N_BLOCKS) if n != frozen]
        for line, setting in zip(self._faint, others):
            shots, points = curves.curve(target, setting)
            line.set_data(shots, [p.mean for p in points])
        self._cursor.set_xdata([k, k])
        self._here.set_offsets(np.array(here))
        self._title.set_text(f"{TARGETS[target]}: pretrained on 912 glyph classes")
        trainable = self._n_params["head"]
        for row, box in enumerate(self._boxes):
            block = row - 1
            if row == 0:
                box.set_facecolor("#eeeeee")
                continue
            learns = row == len(self._boxes) - 1 or block >= frozen
            box.set_facecolor(COLORS["trains"] if learns else COLORS["frozen"])
            if 0 <= block < N_BLOCKS:
                self._box_text[row].set_text(f"conv block {block + 1}: {'trains' if learns else 'frozen'}")
                trainable += self._n_params["blocks"][block] if learns else 0
        total = sum(self._n_params["blocks"]) + self._n_params["head"]
        self._net_title.set_text(f"{setting_label(frozen)}\ntrains {trainable:,} of {total:,} parameters")
        self._blit.update()
        points = {key: curves.point(target, s, k) for key, s in shown.items()}
        fine = (f"{setting_label(frozen)} {points['fine'].mean:.1%} · " if frozen != N_BLOCKS else "")
        self.show_status(f"{target}, K = {k} labels per class, {frozen} frozen blocks: {fine}"
                         f"feature extraction {points['feature'].mean:.1%} · from scratch {points['scratch'].mean:.1%}"
                         f" → {curves.winner(target, k, frozen)}")
