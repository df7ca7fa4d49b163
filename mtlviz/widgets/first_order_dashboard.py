"""Dashboards of lesson 09: MAML, first-order MAML and Reptile adapting to the same new task, and
what MAML's inner loop changes layer by layer (ANIL, feature reuse) on a new glyph episode."""
from __future__ import annotations

from typing import Dict

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Int, validate

from .. import plotting
from .._validation import check_random_state
from ..data.tasks import SinusoidTasks
from ..evaluation import score_steps
from ..meta.anil import HeadAdapter, layer_changes
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["FirstOrderDashboard", "FeatureReuseDashboard"]

MAX_STEPS = 10
N_GRID = 200
#: The sinusoid evaluation's step size (Finn et al. 2017): every model adapts with the same α.
EVAL_INNER_LR = 0.01
COLORS = {"MAML": "#1f77b4", "FOMAML": "#2ca02c", "Reptile": "#d62728", "pretrained": "#ff7f0e"}


class FirstOrderDashboard(Dashboard):
    """Several sinusoid models (``{"MAML": ..., "FOMAML": ..., "Reptile": ...}``) adapt to the
    same new task from the same K support points by the same SGD steps of α = 0.01; one panel
    each, and their query losses step by step.

    Public state: ``k_shot`` (K, 1…10), ``n_steps`` (0…10), ``task_seed`` ("New task" draws the
    next). ``status`` gives each model's query MSE after the steps.
    """

    k_shot = Int(5)
    n_steps = Int(5)
    task_seed = Int(0)

    def __init__(self, models: Dict[str, object], *, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not models:
            raise ValueError("models must name at least one fitted sinusoid estimator")
        self._models = dict(models)
        self._tasks = SinusoidTasks()
        self._x_grid = torch.linspace(-5.0, 5.0, N_GRID).unsqueeze(1)
        style = {"description_width": "initial"}
        self.k_slider = widgets.IntSlider(value=5, min=1, max=10, description="K (support points)", style=style,
                                          continuous_update=False)
        self.steps_slider = widgets.IntSlider(value=5, min=0, max=MAX_STEPS, description="inner steps (α = 0.01)",
                                              style=style, continuous_update=False)
        self.new_button = widgets.Button(description="New task", icon="refresh")
        self.new_button.on_click(self._on_new_task_click)
        self.link_control(self.k_slider, "k_shot")
        self.link_control(self.steps_slider, "n_steps")
        self.task_seed = random_state
        n_panels = len(self._models) + 1
        self.figure, self._canvas = interactive_figure(3.1 * n_panels, 3.4)
        axes = self.figure.subplots(1, n_panels)
        artists = plotting.plot_first_order_panels(axes, list(self._models), n_max_steps=MAX_STEPS, colors=COLORS)
        self._artists, self._loss_artists = artists["panels"], artists["losses"]
        # A move redraws only the lines over a cached background (a full draw of these panels costs
        # a few hundred CPU-ms, most of it text and constrained layout), legends on top as before.
        changing = []
        for panel in self._artists.values():
            changing += [panel["true"], panel["before"], *panel["steps"], panel["after"], panel["message"],
                         panel["support"]]
        changing += list(self._loss_artists.values())
        changing += [ax.get_legend() for ax in axes if ax.get_legend() is not None]
        self._blitter = BlitManager(self._canvas, changing)
        self.children = [widgets.HBox([widgets.VBox([self.k_slider, self.steps_slider]), self.new_button]),
                         self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["k_shot", "n_steps", "task_seed"])
        self.refresh()

    @validate("k_shot", "n_steps")
    def _validate_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its slider can show

    def refresh(self) -> None:
        """Draw the current task and every model's adaptation to it."""
        generator = check_random_state(self.task_seed)
        amplitude = float(torch.empty(()).uniform_(0.1, 5.0, generator=generator))
        phase = float(torch.empty(()).uniform_(0.0, float(np.pi), generator=generator))
        x_support, y_support = self._tasks.sample_points(amplitude, phase, self.k_shot, random_state=generator)
        y_grid = SinusoidTasks.function(self._x_grid, amplitude, phase)
        losses, parts = {}, []
        for name, model in self._models.items():
            trace = model.trace_adaptation(x_support, y_support, self._x_grid, y_grid, inner_lr=EVAL_INNER_LR,
                                           n_inner_steps=self.n_steps)
            plotting.update_adaptation(self._artists[name], self._x_grid[:, 0].numpy(), y_grid[:, 0].numpy(),
                                       x_support[:, 0].numpy(), y_support[:, 0].numpy(), list(trace.predictions),
                                       message=trace.divergence_message())
            losses[name] = trace.eval_losses
            parts.append(f"{name} {trace.eval_losses[-1]:.2f}")
        plotting.update_loss_curves(self._loss_artists, losses)
        self._blitter.update()
        self.show_status(f"A = {amplitude:.2f}, φ = {phase:.2f}; query MSE after {self.n_steps} step"
                         f"{'s' if self.n_steps != 1 else ''}: " + " · ".join(parts))

    def _on_setting_change(self, change) -> None:
        with self.guard("redraw"):
            self.refresh()

    def _on_new_task_click(self, _button) -> None:
        self.task_seed += 1


class FeatureReuseDashboard(Dashboard):
    """A new 5-way glyph episode: how far MAML's 3 inner steps move each layer, how similar each
    layer's representation stays (linear CKA), and the query accuracy of MAML (every layer
    adapted), ANIL (the head only, on MAML's θ) and head-only adaptation from the pretrained
    backbone of lesson 06.

    Parameters
    ----------
    maml : MAMLClassifier
        A fitted glyph MAML (the shipped one).
    backbone : dict of str to Tensor
        Pretrained conv blocks (``load_glyph_finetune().backbone_``).
    tasks : GlyphTasks
        Where the episodes come from (the evaluation scripts).
    shipped : dict, optional
        The shipped ``feature_reuse`` figure for this K (means over many episodes, drawn as markers).

    Public state: ``episode_seed``; ``status`` gives the three accuracies.
    """

    episode_seed = Int(0)

    def __init__(self, maml, backbone, tasks, *, shipped=None, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        self._maml, self._tasks = maml, tasks
        self._anil = HeadAdapter.from_maml(maml)
        self._pretrained = HeadAdapter.from_backbone(maml.model_, backbone, inner_lr=maml.inner_lr,
                                                     n_inner_steps=maml.n_test_inner_steps)
        self.new_button = widgets.Button(description="New episode", icon="refresh")
        self.new_button.on_click(self._on_new_episode_click)
        self.episode_seed = random_state
        layers = ["conv 1", "conv 2", "conv 3", "conv 4", "head"]
        layer_means = shipped["layers"] if shipped else None
        self.figure, self._canvas = interactive_figure(12.0, 3.8)
        change_ax, cka_ax, accuracy_ax = self.figure.subplots(1, 3)
        self._change = plotting.plot_layer_bars(
            change_ax, layers, ylabel="‖θ'ₗ − θₗ‖ / ‖θₗ‖", title="weight change in the inner loop", ylim=(0, 0.8),
            shipped=[layer_means[layer]["relative_change"] for layer in layers] if layer_means else None)
        self._cka = plotting.plot_layer_bars(
            cka_ax, layers, ylabel="linear CKA (θ vs θ')", title="representation kept (1 = same)", ylim=(0, 1.4),
            color="#9467bd", shipped=[layer_means[layer]["cka"] for layer in layers] if layer_means else None)
        self._methods = ["MAML\n(all layers)", "ANIL\n(head, MAML θ)", "head on\npretrained"]
        self._accuracy = plotting.plot_layer_bars(accuracy_ax, self._methods, ylabel="query accuracy",
                                                  title="this episode, 3 steps each", ylim=(0, 1.15), color="#2ca02c")
        self.children = [self.new_button, self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["episode_seed"])
        self.refresh()

    def refresh(self) -> None:
        """Draw a new episode's layer changes and the three accuracies."""
        maml = self._maml
        episode = self._tasks.sample_episodes(1, maml.n_way, maml.k_shot, 5, random_state=self.episode_seed)
        changes = layer_changes(maml.model_, maml.params_, episode, inner_lr=maml.inner_lr,
                                n_inner_steps=maml.n_test_inner_steps)
        plotting.update_layer_bars(self._change, changes.relative_change[0])
        plotting.update_layer_bars(self._cka, changes.cka[0])
        xs, ys, xq, yq = (t[0] for t in episode.data)
        accuracies = []
        for method in (maml, self._anil, self._pretrained):
            adapted = method.adapt(xs, ys)
            accuracies.append(score_steps(maml.model_, [adapted], xs, ys, xq, yq).query_accuracy[-1])
        plotting.update_layer_bars(self._accuracy, accuracies)
        self._canvas.draw_idle()
        self.show_status(f"episode {self.episode_seed}, {maml.n_way}-way {maml.k_shot}-shot: query accuracy MAML "
                         f"{accuracies[0]:.0%} · ANIL {accuracies[1]:.0%} · head on pretrained {accuracies[2]:.0%}")

    def _on_setting_change(self, change) -> None:
        with self.guard("new episode"):
            self.refresh()

    def _on_new_episode_click(self, _button) -> None:
        self.episode_seed += 1
