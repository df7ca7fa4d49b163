"""Dashboard of lesson 05: Meta-LSTM's learned gates, step by step, beside SGD and MAML."""
from __future__ import annotations


import ipywidgets as widgets
import numpy as np
from traitlets import Int, validate

from .. import plotting
from .._memory import release_free_memory
from ..meta.metalstm import compare_on_episode
from ._base import Dashboard
from ._canvas import interactive_figure

__all__ = ["MetaLSTMDashboard"]

METHOD_COLORS = {"Meta-LSTM": "#2ca02c", "SGD": "#7f7f7f", "MAML": "#1f77b4"}
LAYER_COLORS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#e6a100"]


def _tinted_mosaic(images, correct, n_way: int, per_class: int) -> np.ndarray:
    """Query images as an RGB mosaic: ink dark, background tinted green (right) or red (wrong)."""
    mosaic = plotting.episode_mosaic(images, n_way, per_class)
    ink = np.nan_to_num(mosaic, nan=0.0)
    blank = np.isnan(mosaic)
    size = images.shape[-1]
    tint = np.ones(mosaic.shape + (3,))
    for index, ok in enumerate(correct):
        row, col = divmod(index, per_class)
        color = (0.80, 0.95, 0.80) if ok else (1.0, 0.78, 0.78)
        tint[row * (size + 1): row * (size + 1) + size, col * (size + 1): col * (size + 1) + size] = color
    rgb = tint * (1.0 - ink[..., None])
    rgb[blank] = 1.0
    return rgb


class MetaLSTMDashboard(Dashboard):
    """Adapt Meta-LSTM to a new few-shot episode and watch its gates, losses and predictions per
    step, with SGD from the same start and MAML on the same episode.

    Parameters
    ----------
    models : dict of int to (MetaLSTM, MAMLClassifier)
        Per K (support images per class), the two meta-trained learners.
    tasks : GlyphTasks
        Where test episodes come from (the evaluation scripts).
    sgd_lr : dict of int to float
        Per K, the tuned fixed learning rate of the SGD comparison.
    random_state : int
        Seeds the first episode; "New episode" draws the next ones.

    Public state: ``k_shot``, ``step``, ``episode_seed``; ``status`` says what is on screen.
    """

    k_shot = Int(1)
    step = Int(0)
    episode_seed = Int(0)

    @validate("k_shot", "step")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, models, tasks, *, sgd_lr, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not models:
            raise ValueError("models must hold at least one (MetaLSTM, MAMLClassifier) pair")
        self._models = dict(models)
        self._tasks = tasks
        self._sgd_lr = dict(sgd_lr)
        self._n_query = 5
        self.k_shot = min(self._models)
        self.episode_seed = random_state
        max_steps = max(m.n_inner_steps for m, _ in self._models.values())
        self.shot_buttons = widgets.ToggleButtons(options=[(f"{k}-shot", k) for k in sorted(self._models)],
                                                  value=self.k_shot, description="episode")
        self.step_slider = widgets.IntSlider(value=0, min=0, max=max_steps, description="step t",
                                             layout=widgets.Layout(width="420px"))
        self.new_button = widgets.Button(description="New episode", icon="refresh")
        self.new_button.on_click(self._on_new_click)
        self.link_control(self.shot_buttons, "k_shot")
        self.link_control(self.step_slider, "step")
        self._build_figure()
        self.children = [widgets.HBox([self.shot_buttons, self.new_button]), self.step_slider, self._canvas,
                         self.status_line]
        self.observe(self._on_episode_change, names=["k_shot", "episode_seed"])
        self.observe(self._on_step_change, names=["step"])
        self.refresh()

    def _on_new_click(self, _button):
        self.episode_seed += 1

    def _on_episode_change(self, _change):
        try:
            with self.guard("adapting to the new episode"):
                self.refresh()
        finally:
            release_free_memory()  # three learners adapted to a new episode

    def _on_step_change(self, _change):
        with self.guard("drawing the step"):
            self._draw_step()

    def _build_figure(self):
        self.figure, self._canvas = interactive_figure(11.5, 6.4)
        grid = self.figure.subplot_mosaic([["input", "forget", "support"], ["loss", "accuracy", "query"]],
                                          width_ratios=[1.15, 1.15, 0.8])
        self._axes = grid
        for name in ("support", "query"):
            grid[name].set_xticks([])
            grid[name].set_yticks([])
        self._support_image = grid["support"].imshow(np.ones((2, 2, 3)))
        self._query_image = grid["query"].imshow(np.ones((2, 2, 3)))

    def refresh(self) -> None:
        """Draw a new episode for the current K and adapt the three learners to it."""
        meta_lstm, maml = self._models[self.k_shot]
        episode = self._tasks.sample_episodes(1, meta_lstm.n_way, self.k_shot, self._n_query,
                                              random_state=self.episode_seed)
        self._episode = episode
        self._comparison = compare_on_episode(meta_lstm, maml, self._sgd_lr[self.k_shot],
                                              *(t[0] for t in episode.data))
        self.step_slider.max = meta_lstm.n_inner_steps
        self.step = min(self.step, meta_lstm.n_inner_steps)
        self._draw_curves()
        self._draw_step()

    def _draw_curves(self):
        c, axes = self._comparison, self._axes
        trace = c.meta_lstm
        steps = np.arange(1, len(trace.input_gate) + 1)
        for key, values, title in [("input", trace.input_gate, "input gate iₜ (learned learning rate)"),
                                   ("forget", trace.forget_gate, "forget gate fₜ (1 = keep θ)")]:
            ax = axes[key]
            ax.clear()
            for layer, color, column in zip(trace.layers, LAYER_COLORS, values.T):
                ax.plot(steps, column, "o-", color=color, label=layer, markersize=4)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("step t")
            ax.set_xlim(0.5, max(steps[-1], 1) + 0.5)
        axes["input"].axhline(c.sgd_lr, color=METHOD_COLORS["SGD"], linestyle=":", label=f"SGD α = {c.sgd_lr:g}")
        axes["input"].set_yscale("log")
        axes["input"].legend(fontsize=7, ncol=2, loc="best")
        axes["forget"].axhline(1.0, color=METHOD_COLORS["SGD"], linestyle=":")
        ax = axes["loss"]
        ax.clear()
        x = np.arange(len(trace.scores.query_loss))
        ax.plot(x, trace.scores.support_loss, "-", color=METHOD_COLORS["Meta-LSTM"], label="Meta-LSTM support")
        ax.plot(x, trace.scores.query_loss, "--", color=METHOD_COLORS["Meta-LSTM"], label="Meta-LSTM query")
        ax.plot(x, c.sgd.query_loss, "--", color=METHOD_COLORS["SGD"], label=f"SGD query (α = {c.sgd_lr:g})")
        ax.plot(x, c.maml.query_loss, "--", color=METHOD_COLORS["MAML"], label=f"MAML query (α = {c.maml_lr:g})")
        ax.set_yscale("log")
        ax.set_title("cross-entropy loss", fontsize=10)
        ax.set_xlabel("step t")
        ax.legend(fontsize=7)
        ax = axes["accuracy"]
        ax.clear()
        for name, scores in [("Meta-LSTM", trace.scores), ("SGD", c.sgd), ("MAML", c.maml)]:
            ax.plot(x, scores.query_accuracy, "o-", color=METHOD_COLORS[name], label=name, markersize=4)
        ax.set_ylim(-0.03, 1.03)
        ax.axhline(1.0 / self._episode.classes.shape[1], color="#bbbbbb", linewidth=0.8)
        ax.set_title("query accuracy", fontsize=10)
        ax.set_xlabel("step t")
        ax.legend(fontsize=7, loc="lower right")
        self._markers = [axes[k].axvline(0, color="#d62728", linewidth=1.0) for k in ("input", "forget", "loss",
                                                                                         "accuracy")]
        n_way = self._episode.classes.shape[1]
        support = plotting.episode_mosaic(self._episode.x_support[0], n_way, self.k_shot)
        self._support_image.set_data(np.repeat(1.0 - np.nan_to_num(support, nan=0.0)[..., None], 3, axis=2))
        self._support_image.set_extent((-0.5, support.shape[1] - 0.5, support.shape[0] - 0.5, -0.5))
        axes["support"].set_xlim(-0.5, support.shape[1] - 0.5)
        axes["support"].set_ylim(support.shape[0] - 0.5, -0.5)
        axes["support"].set_title(f"support: {n_way} new characters × {self.k_shot}", fontsize=10)

    def _draw_step(self):
        c, t = self._comparison, self.step
        for marker in self._markers:
            marker.set_xdata([t, t])
        n_way = self._episode.classes.shape[1]
        predictions = c.meta_lstm.scores.query_predictions[t]
        correct = predictions == self._episode.y_query[0].numpy()
        mosaic = _tinted_mosaic(self._episode.x_query[0].numpy(), correct, n_way, self._n_query)
        self._query_image.set_data(mosaic)
        self._query_image.set_extent((-0.5, mosaic.shape[1] - 0.5, mosaic.shape[0] - 0.5, -0.5))
        ax = self._axes["query"]
        ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
        ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
        ax.set_title(f"Meta-LSTM's answers after step {t}\n(green right, red wrong)", fontsize=10)
        self._canvas.draw_idle()
        trace = c.meta_lstm
        gate = ("before the first update" if t == 0 else
                f"mean input gate {trace.input_gate[t - 1].mean():.3g}, forget gate {trace.forget_gate[t - 1].mean():.4f}")
        self.show_status(f"{self.k_shot}-shot, step {t}: query accuracy Meta-LSTM "
                         f"{trace.scores.query_accuracy[t]:.0%}, SGD (α = {c.sgd_lr:g}) {c.sgd.query_accuracy[t]:.0%}, "
                         f"MAML (α = {c.maml_lr:g}) {c.maml.query_accuracy[t]:.0%}; {gate}")
