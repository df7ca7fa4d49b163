"""Lesson 11's dashboard: a slider over the number of meta-training tasks T moves between the shipped
models; the measured curves over T, and the selected model adapting to a new task and to one of its
own training tasks."""
from __future__ import annotations

from typing import Dict, Tuple

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Int, Unicode, validate

from .. import plotting
from .._validation import check_random_state
from ..data.tasks import SinusoidTasks, TaskPool
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["TaskPoolDashboard"]

MAX_STEPS = 10
N_GRID = 200
EVAL_INNER_LR = 0.01
K_SHOT = 5


def _label_text(label: str) -> str:
    return "∞" if label == "inf" else label


class TaskPoolDashboard(Dashboard):
    """How many tasks does MAML need? Move T, the number of meta-training tasks, between the shipped
    models (``python -m mtlviz.pretrained.train_task_pool``).

    Parameters
    ----------
    models : dict
        ``{(kind, pool_label): estimator}`` as :func:`~mtlviz.pretrained.train_task_pool.load_task_pool_models`
        returns (kind "maml" and "joint"; labels "1" … "inf").
    figure : dict
        The shipped measurements (:func:`~mtlviz.pretrained.train_task_pool.load_task_pool_figure`).
    pool_seed : int
        The seed the pools were drawn with (the figure's ``pool_seed``): the pool task shown is one
        the model was meta-trained on.

    Public state: ``pool_size`` (a label of the figure's ``pool_sizes``: "1" … "1000", "inf" for ∞),
    ``n_steps`` (0…10) and ``task_seed`` ("New task" draws the next). ``status`` gives the shipped
    means for the selected T and the two drawn tasks' losses.
    """

    pool_size = Unicode("10")
    n_steps = Int(5)
    task_seed = Int(0)

    def __init__(self, models: Dict[Tuple[str, str], object], figure: Dict[str, object], *, pool_seed: int,
                 pool_size: str = "10", random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        self._models, self._figure = dict(models), figure
        self._labels = list(figure["pool_sizes"])
        missing = [label for label in self._labels if ("maml", label) not in self._models]
        if missing:
            raise ValueError(f"models must hold a MAML model for every pool size of the figure; missing {missing}")
        if pool_size not in self._labels:
            raise ValueError(f"pool_size must be one of {self._labels}; got {pool_size!r}")
        self._family = SinusoidTasks()
        self._pools = {label: TaskPool(self._family, int(label), pool_seed) for label in self._labels if label != "inf"}
        self._x_grid = torch.linspace(-5.0, 5.0, N_GRID).unsqueeze(1)
        style = {"description_width": "initial"}
        self.pool_slider = widgets.SelectionSlider(
            options=[(_label_text(label), label) for label in self._labels], value=pool_size,
            description="T (meta-training tasks)", style=style, continuous_update=False,
            layout=widgets.Layout(width="420px"))
        self.steps_slider = widgets.IntSlider(value=5, min=0, max=MAX_STEPS, description="inner steps (α = 0.01)",
                                              style=style, continuous_update=False)
        self.new_button = widgets.Button(description="New task", icon="refresh")
        self.new_button.on_click(self._on_new_task_click)
        self.pool_size = pool_size
        self.task_seed = random_state
        self.link_control(self.pool_slider, "pool_size")
        self.link_control(self.steps_slider, "n_steps")
        self.figure, self._canvas = interactive_figure(12.0, 3.7)
        grid = self.figure.add_gridspec(1, 3, width_ratios=(1.3, 1, 1))
        axes = [self.figure.add_subplot(grid[0, i]) for i in range(3)]
        self._artists = plotting.plot_task_pool(*axes, labels=self._labels, n_max_steps=MAX_STEPS)
        # A move redraws only what changes over a cached background (a full draw of the three
        # panels costs ~0.3 CPU-s, half of it constrained layout): in the full draw's order, the
        # bands under the lines, the titles, then the legends on top as before.
        changing = [*self._artists["bands"].values(), *self._artists["lines"].values(), self._artists["marker"]]
        for key in ("fresh", "pool"):
            panel = self._artists[key]
            changing += [panel["true"], panel["before"], *panel["steps"], panel["after"], panel["message"],
                         panel["support"]]
        changing += [ax.title for ax in axes] + [ax.get_legend() for ax in axes if ax.get_legend() is not None]
        self._blitter = BlitManager(self._canvas, changing)
        self.children = [widgets.HBox([widgets.VBox([self.pool_slider, self.steps_slider]), self.new_button]),
                         self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["pool_size", "n_steps", "task_seed"])
        self.refresh()

    @validate("pool_size", "n_steps")
    def _validate_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def _draw_task(self, artists, model, amplitude: float, phase: float, generator) -> float:
        x_support, y_support = self._family.sample_points(amplitude, phase, K_SHOT, random_state=generator)
        y_grid = SinusoidTasks.function(self._x_grid, amplitude, phase)
        trace = model.trace_adaptation(x_support, y_support, self._x_grid, y_grid, inner_lr=EVAL_INNER_LR,
                                       n_inner_steps=self.n_steps)
        plotting.update_adaptation(artists, self._x_grid[:, 0].numpy(), y_grid[:, 0].numpy(),
                                   x_support[:, 0].numpy(), y_support[:, 0].numpy(), list(trace.predictions),
                                   message=trace.divergence_message())
        return float(trace.eval_losses[-1])

    def refresh(self) -> None:
        """Draw the curves for the current step count, and the selected model on two tasks."""
        label, model = self.pool_size, self._models[("maml", self.pool_size)]
        generator = check_random_state(self.task_seed)
        amplitude = float(torch.empty(()).uniform_(0.1, 5.0, generator=generator))
        phase = float(torch.empty(()).uniform_(0.0, float(np.pi), generator=generator))
        fresh_loss = self._draw_task(self._artists["fresh"], model, amplitude, phase, generator)
        if label == "inf":  # no pool: every training task was new, so show another task of the family
            pool_amplitude = float(torch.empty(()).uniform_(0.1, 5.0, generator=generator))
            pool_phase = float(torch.empty(()).uniform_(0.0, float(np.pi), generator=generator))
            pool_title = "another task (T = ∞: no task repeats)"
        else:
            pool = self._pools[label]
            index = int(torch.randint(0, len(pool), (), generator=generator))
            pool_amplitude, pool_phase = float(pool.amplitude[index]), float(pool.phase[index])
            pool_title = f"training task {index + 1} of {len(pool)}, new points"
        pool_loss = self._draw_task(self._artists["pool"], model, pool_amplitude, pool_phase, generator)
        plotting.update_task_pool(self._artists, self._figure["results"], step=self.n_steps, selected=label,
                                  fresh_title=f"a new task (A = {amplitude:.2f}, φ = {phase:.2f})",
                                  pool_title=pool_title)
        self._blitter.update()
        results, step = self._figure["results"], self.n_steps
        shipped = " · ".join(f"{name} {results[kind][label][where]['mean'][step]:.2f}"
                             for name, kind, where in (("MAML own tasks", "maml", "pool"),
                                                       ("MAML new tasks", "maml", "fresh"),
                                                       ("pretrained new tasks", "joint", "fresh")))
        self.show_status(f"T = {_label_text(label)}, {step} step{'s' if step != 1 else ''}: query MSE over 600 "
                         f"tasks: {shipped}; the new task drawn here {fresh_loss:.2f}, the "
                         f"{'other' if label == 'inf' else 'training'} task {pool_loss:.2f}")

    def _on_setting_change(self, change) -> None:
        with self.guard("redraw"):
            self.refresh()

    def _on_new_task_click(self, _button) -> None:
        self.task_seed += 1
