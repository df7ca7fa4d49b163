"""Dashboard of lesson 03: MAML's inner loop (adapting to one task) and outer loop (meta-training)."""
from __future__ import annotations

import asyncio
import math
import time
from typing import Optional

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Bool, Float, Int, Unicode, validate

from .. import plotting
from ..meta.maml import GradientAdaptedRegressor
from .._memory import release_free_memory
from .._validation import check_random_state
from ..meta.maml import MAML
from ..data.tasks import SinusoidTasks
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["InnerOuterDashboard"]

MAX_STEPS = 10
MAX_K = 20
N_GRID = 200


class InnerOuterDashboard(Dashboard):
    """Adapt MAML and a pretrained baseline to one sinusoid task, and meta-train MAML live.

    Parameters
    ----------
    maml : GradientAdaptedRegressor
        The meta-learned model (for example ``mtlviz.pretrained.load_sinusoid("maml")``).
    baseline : GradientAdaptedRegressor
        The pretrained-on-all-tasks baseline (``load_sinusoid("joint")``).
    random_state : int
        Seeds the "new task" draws and the support points; the same seed shows the same tasks.
    n_train_steps : int
        Default number of outer steps of the live meta-training panel.

    The public state is the traitlets ``inner_lr`` (α), ``n_inner_steps``, ``k_shot`` (K),
    ``amplitude`` (A), ``phase`` (φ) and ``weights`` ("shipped" or "live"); each is linked to
    its slider. ``status`` holds the one-line message shown under the plot.
    """

    inner_lr = Float(0.01)
    n_inner_steps = Int(1)
    k_shot = Int(5)
    # The opening task, 4 sin x, is far from the family's mean task −1.62 cos x, which both networks
    # compute before adapting: so the difference between them shows at once.
    amplitude = Float(4.0)
    phase = Float(0.0)
    weights = Unicode("shipped")
    training = Bool(False)

    @validate("inner_lr", "n_inner_steps", "k_shot", "amplitude", "phase", "weights")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, maml: GradientAdaptedRegressor, baseline: GradientAdaptedRegressor, *,
                 random_state: int = 0, n_train_steps: int = 2000, **kwargs):
        super().__init__(**kwargs)
        self._maml_shipped = maml
        self._maml_live: Optional[MAML] = None
        self._baseline = baseline
        self._tasks = SinusoidTasks()
        self._task_generator = check_random_state(random_state)
        self._point_seed = random_state
        self._train_iter = None
        self._train_task = None
        self._n_train_total = 0
        self._x_grid = torch.linspace(-5.0, 5.0, N_GRID).unsqueeze(1)
        self._y_mean = self._tasks.mean_function(self._x_grid)[:, 0].numpy()
        self._x_pool = None

        self._build_controls(n_train_steps)
        self._build_figures()
        self._draw_new_points()
        self._update_history_plot()
        self.children = [self._controls_box, self._canvas, self.status_line, self._outer_box]
        self.observe(self._on_setting_change,
                     names=["inner_lr", "n_inner_steps", "k_shot", "amplitude", "phase", "weights"])
        self.refresh()

    # -- layout ----------------------------------------------------------------------------
    def _build_controls(self, n_train_steps):
        style = {"description_width": "110px"}
        layout = widgets.Layout(width="340px")
        self.inner_lr_slider = widgets.FloatLogSlider(
            value=self.inner_lr, base=10, min=-4, max=0, step=0.1, description="α (inner lr)",
            readout_format=".4f", style=style, layout=layout)
        self.steps_slider = widgets.IntSlider(value=self.n_inner_steps, min=0, max=MAX_STEPS,
                                              description="inner steps", style=style, layout=layout)
        self.k_slider = widgets.IntSlider(value=self.k_shot, min=1, max=MAX_K, description="K (support)",
                                          style=style, layout=layout)
        self.amplitude_slider = widgets.FloatSlider(value=self.amplitude, min=0.1, max=5.0, step=0.1,
                                                    description="A (amplitude)", style=style, layout=layout)
        self.phase_slider = widgets.FloatSlider(value=self.phase, min=0.0, max=round(math.pi, 2), step=0.05,
                                                description="φ (phase)", style=style, layout=layout)
        for name, slider in [("inner_lr", self.inner_lr_slider), ("n_inner_steps", self.steps_slider),
                             ("k_shot", self.k_slider), ("amplitude", self.amplitude_slider),
                             ("phase", self.phase_slider)]:
            self.link_control(slider, name)
        self.new_task_button = widgets.Button(description="New task", icon="refresh",
                                              tooltip="draw A and φ at random, and new support points")
        self.new_task_button.on_click(self._on_new_task_click)
        self._controls_box = widgets.HBox([
            widgets.VBox([self.inner_lr_slider, self.steps_slider, self.k_slider]),
            widgets.VBox([self.amplitude_slider, self.phase_slider, self.new_task_button]),
        ])
        # Outer loop: meta-train MAML from scratch, live.
        self.train_steps_dropdown = widgets.Dropdown(options=[500, 1000, 2000, 5000], value=n_train_steps,
                                                     description="outer steps", style=style)
        self.first_order_checkbox = widgets.Checkbox(value=False, description="first-order MAML", indent=False,
                                                     layout=widgets.Layout(width="auto"))
        self.train_button = widgets.Button(description="Meta-train from scratch", icon="play",
                                           button_style="success", layout=widgets.Layout(width="auto"))
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger", disabled=True,
                                          layout=widgets.Layout(width="auto"))
        self.train_button.on_click(self._on_train_click)
        self.stop_button.on_click(self._on_stop_click)
        self.progress = widgets.IntProgress(value=0, min=0, max=n_train_steps, description="progress")
        self.train_label = widgets.HTML("Not trained yet: press the green button to watch MAML learn θ.")
        self.weights_toggle = widgets.ToggleButtons(options=[("shipped θ", "shipped"), ("live-trained θ", "live")],
                                                    value="shipped", description="MAML uses",
                                                    style={"button_width": "auto"})
        self.weights_toggle.disabled = True
        self.link_control(self.weights_toggle, "weights")

    def _build_figures(self):
        self.figure, self._canvas = interactive_figure(12.0, 3.7)
        axes = self.figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.8]})
        self._axes = axes
        self._maml_artists = plotting.plot_adaptation(axes[0], n_max_steps=MAX_STEPS, color=plotting.STEP_COLORS["maml"],
                                                      title="MAML (meta-learned θ)", show_mean=True, legend="all")
        self._joint_artists = plotting.plot_adaptation(axes[1], n_max_steps=MAX_STEPS,
                                                       color=plotting.STEP_COLORS["joint"],
                                                       title="pretrained on all tasks (baseline)", show_mean=True)
        self._loss_artists = plotting.plot_loss_curves(axes[2], n_max_steps=MAX_STEPS,
                                                       labels={"maml": "MAML", "joint": "pretrained"})
        changing = [*self._loss_artists.values()]
        for artists in (self._maml_artists, self._joint_artists):
            changing += [artists[key] for key in ("true", "before", "after", "support", "message")] + artists["steps"]
        self._blitter = BlitManager(self._canvas, changing)
        self.history_figure, self._history_canvas = interactive_figure(7.0, 2.6)
        self._history_artists = plotting.plot_history(self.history_figure.subplots())
        self._outer_box = widgets.VBox([
            widgets.HTML("<h3>Outer loop: meta-training θ</h3>"),
            widgets.HBox([self.train_steps_dropdown, self.first_order_checkbox]),
            widgets.HBox([self.train_button, self.stop_button, self.progress]),
            self.train_label,
            self.weights_toggle,
            self._history_canvas,
        ])

    # -- inner loop ------------------------------------------------------------------------
    def _draw_new_points(self):
        x, _ = self._tasks.sample_points(1.0, 0.0, MAX_K, random_state=self._point_seed)
        self._x_pool = x

    def _current_maml(self) -> GradientAdaptedRegressor:
        if self.weights == "live" and self._maml_live is not None and hasattr(self._maml_live, "params_"):
            return self._maml_live
        return self._maml_shipped

    def refresh(self) -> None:
        """Recompute both adaptations for the current settings and redraw."""
        x_support = self._x_pool[: self.k_shot]
        y_support = SinusoidTasks.function(x_support, self.amplitude, self.phase)
        y_grid = SinusoidTasks.function(self._x_grid, self.amplitude, self.phase)
        settings = dict(inner_lr=self.inner_lr, n_inner_steps=self.n_inner_steps)
        traces = {}
        for key, estimator, artists in [("maml", self._current_maml(), self._maml_artists),
                                        ("joint", self._baseline, self._joint_artists)]:
            trace = estimator.trace_adaptation(x_support, y_support, self._x_grid, y_grid, **settings)
            traces[key] = trace
            plotting.update_adaptation(artists, self._x_grid[:, 0].numpy(), y_grid[:, 0].numpy(),
                                       x_support[:, 0].numpy(), y_support[:, 0].numpy(), trace.predictions,
                                       message=trace.divergence_message(), y_mean=self._y_mean)
        plotting.update_loss_curves(self._loss_artists, {k: t.eval_losses for k, t in traces.items()})
        self._blitter.update()
        self._traces = traces
        diverged = any(trace.divergence_message() for trace in traces.values())
        self.show_status(self.summary(), "warning" if diverged else "info")

    def summary(self) -> str:
        """The one-line result of the current setting: query MSE before → after adaptation."""
        parts = []
        names = {"maml": "MAML", "joint": "pretrained"}
        for key, trace in self._traces.items():
            message = trace.divergence_message()
            if message:
                parts.append(f"{names[key]} {message}")
            else:
                parts.append(f"{names[key]} {trace.eval_losses[0]:.3f} → {trace.eval_losses[-1]:.3f}")
        return (f"A = {self.amplitude:.2f}, φ = {self.phase:.2f}, K = {self.k_shot}, α = {self.inner_lr:.4g}, "
                f"{self.n_inner_steps} inner step{'s' if self.n_inner_steps != 1 else ''} · query MSE: "
                + "; ".join(parts))

    def _on_setting_change(self, change):
        with self.guard("redrawing the adaptation"):
            self.refresh()

    def _on_new_task_click(self, _button):
        with self.guard("drawing a new task"):
            self._new_task()

    def _new_task(self):
        amplitude = float(torch.empty(()).uniform_(0.1, 5.0, generator=self._task_generator))
        phase = float(torch.empty(()).uniform_(0.0, math.pi, generator=self._task_generator))
        self._point_seed += 1
        self._draw_new_points()
        with self.hold_trait_notifications():
            self.amplitude = round(amplitude, 1)
            self.phase = round(min(phase, round(math.pi, 2)), 2)
        self.refresh()

    # -- outer loop ------------------------------------------------------------------------
    def start_training(self) -> None:
        """Begin meta-training a fresh MAML (its steps run in :meth:`train_chunk`)."""
        self._n_train_total = int(self.train_steps_dropdown.value)
        self._maml_live = MAML(n_outer_steps=self._n_train_total, first_order=self.first_order_checkbox.value,
                               random_state=self._point_seed)
        self._train_iter = self._maml_live.fit_iter(self._tasks)
        self._last_record = None
        self.progress.max = self._n_train_total
        self.progress.value = 0
        self.training = True
        self.train_button.disabled = True
        self.stop_button.disabled = False
        self.train_label.value = "Training: each outer step adapts to 25 new tasks and moves θ by Adam."

    def train_chunk(self, max_seconds: float = 0.15) -> bool:
        """Run outer steps for about ``max_seconds``, then redraw; return True when finished."""
        started = time.perf_counter()
        finished = False
        record = None
        while time.perf_counter() - started < max_seconds:
            record = next(self._train_iter, None)
            if record is None:
                finished = True
                break
            self._last_record = record
        history = self._maml_live.history_
        self.progress.value = len(history)
        if history:
            recent = float(np.mean(history[-100:]))
            if not math.isfinite(recent):
                self.train_label.value = "Meta-training diverged: the meta-loss became NaN."
                return True
            self.train_label.value = (f"outer step {len(history)} / {self._n_train_total} "
                                      f"({self.steps_per_second():.0f} steps/s): "
                                      f"meta-loss (mean of last 100) {recent:.3f}")
            self.weights_toggle.disabled = False
        self._update_history_plot()
        if self.weights == "live":
            self.refresh()
        return finished

    def steps_per_second(self) -> float:
        """Outer steps per second of wall time in the current (or last) live run, redraws included."""
        record = getattr(self, "_last_record", None)
        if record is None or record["seconds"] <= 0:
            return 0.0
        return record["step"] / record["seconds"]

    def stop_training(self) -> None:
        """Stop after the current chunk; the partly trained θ stays usable."""
        self.training = False
        self._train_iter = None
        self.train_button.disabled = False
        self.stop_button.disabled = True
        steps = len(self._maml_live.history_) if self._maml_live is not None else 0
        if steps:
            self.train_label.value += f" (stopped after {steps} steps)" if steps < self._n_train_total else " (done)"

    def _update_history_plot(self):
        history = self._maml_live.history_ if self._maml_live is not None else []
        plotting.update_history(self._history_artists, history,
                                self._n_train_total or int(self.train_steps_dropdown.value))
        self._history_canvas.draw_idle()

    async def _train_loop(self):
        try:
            while self.training:
                if self.train_chunk():
                    break
                await asyncio.sleep(0.02)  # let the kernel handle the Stop button and sliders
        except (RuntimeError, ValueError) as error:
            self.train_label.value = f"Training stopped: {error}"
        finally:
            self.stop_training()
            release_free_memory()  # a training run leaves hundreds of MB of freed heap behind

    def _on_train_click(self, _button):
        if self.training:
            return
        with self.guard("starting meta-training"):
            self.start_training()
        if not self.training:
            return
        self._train_task = asyncio.get_event_loop().create_task(self._train_loop())

    def _on_stop_click(self, _button):
        self.training = False
