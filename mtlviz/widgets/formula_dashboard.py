"""Dashboards of lesson 02: the MAML objective of two-parameter models, drawn term by term.

:class:`FormulaDashboard`: the line f_θ(x) = w·x + b, its tasks' losses, the joint and MAML
landscapes, and how far apart their optima are against K. :class:`UpdateRulesDashboard`: the
sine f_θ(x) = w·sin(x − b), where MAML's optimum truly differs, with MAML's, first-order MAML's
and Reptile's steps drawn from the same θ.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Float, Int, validate

from .. import plotting
from ..meta import landscape
from .._validation import check_int
from ..data.tasks import LineTasks, SinusoidTasks
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["FormulaDashboard", "UpdateRulesDashboard", "SUPPORT_SIZES", "SINE_TASKS"]

TASK_COLORS = plotting.TASK_COLORS
LIMITS = (-3.0, 3.0)
#: The K control's values: support points per task (each task also has 2K query points).
SUPPORT_SIZES = (2, 3, 5, 10, 20, 50, 100)
#: Meta-batches of the line family averaged in the gap-against-K panel.
GAP_BATCHES = 200
#: The nonlinear lesson's tasks: lesson 03's sinusoids with amplitudes in [0.5, 2], so that one α
#: suits every task (the curvature along the phase grows with the amplitude squared).
SINE_TASKS = SinusoidTasks(amplitude_range=(0.5, 2.0))
SINE_LIMITS = ((-0.5, 3.0), (-1.0, 4.0))
SINE_SUPPORT, SINE_QUERY = 10, 20


def _vec(v) -> str:
    return f"({v[0]:+.3f}, {v[1]:+.3f})"


def _pair(v) -> str:
    return f"({v[0]:+.2f}, {v[1]:+.2f})"


def _slider_style():
    return {"description_width": "130px"}, widgets.Layout(width="370px")


class FormulaDashboard(Dashboard):
    """θ = (w, b) of f_θ(x) = w·x + b: tasks' losses, adapted θ'ᵢ, joint and MAML objectives,
    and the distance between their optima against K.

    Parameters
    ----------
    n_tasks : int
        Tasks in the meta-batch, in [2, 6].
    random_state : int
        Seeds the tasks (support and query points); changing K keeps the tasks' lines.

    Public state: ``w``, ``b`` (θ), ``inner_lr`` (α) and ``k_shot`` (K support points per task,
    2K query points), linked to the sliders; ``status`` is the line under the plot
    (meta-gradients, their finite-difference check, and the optima's gap).
    """

    w = Float(0.5)
    b = Float(-1.0)
    inner_lr = Float(0.15)
    k_shot = Int(5)

    @validate("w", "b", "inner_lr", "k_shot")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, *, n_tasks: int = 4, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.n_tasks = check_int("n_tasks", n_tasks, 2, len(TASK_COLORS))
        self.random_state = check_int("random_state", random_state, 0, 2**31 - 1)
        self.batch = self._sample(self.k_shot)
        style, layout = _slider_style()
        self.w_slider = widgets.FloatSlider(value=self.w, min=LIMITS[0], max=LIMITS[1], step=0.05,
                                            description="θ: w (slope)", style=style, layout=layout)
        self.b_slider = widgets.FloatSlider(value=self.b, min=LIMITS[0], max=LIMITS[1], step=0.05,
                                            description="θ: b (intercept)", style=style, layout=layout)
        self.alpha_slider = widgets.FloatSlider(value=self.inner_lr, min=0.0, max=0.4, step=0.01,
                                                description="α (inner lr)", continuous_update=False,
                                                readout_format=".2f", style=style, layout=layout)
        self.k_slider = widgets.SelectionSlider(options=SUPPORT_SIZES, value=self.k_shot,
                                                description="K (support points)", continuous_update=False,
                                                style=style, layout=layout)
        for name, slider in [("w", self.w_slider), ("b", self.b_slider), ("inner_lr", self.alpha_slider),
                             ("k_shot", self.k_slider)]:
            self.link_control(slider, name)

        self.figure, self._canvas = interactive_figure(13.6, 4.3)
        self._artists = plotting.plot_formula_panels(
            self.figure.subplots(1, 4, width_ratios=[1, 1, 1, 0.8]), n_tasks=n_tasks, limits=LIMITS,
            support_sizes=SUPPORT_SIZES, gap_label=f"mean over {GAP_BATCHES} draws of {n_tasks} tasks")
        self._blitter = BlitManager(self._canvas, self._artists["blitted"])
        self.children = [widgets.HBox([widgets.VBox([self.w_slider, self.b_slider]),
                                       widgets.VBox([self.alpha_slider, self.k_slider])]),
                         self._canvas, self.status_line]
        self._draw_tasks()
        self._draw_gap_curve()
        self._draw_objectives()
        self._move_theta()
        self.observe(self._on_theta_change, names=["w", "b"])
        self.observe(self._on_alpha_change, names=["inner_lr"])
        self.observe(self._on_k_change, names=["k_shot"])

    def _sample(self, k_shot):
        # The same seed draws the same slopes and intercepts first, whatever K: only the points change.
        return LineTasks().sample_batch(self.n_tasks, k_shot, 2 * k_shot, random_state=self.random_state)

    def _draw_tasks(self):
        """Each task's support-loss contours and its minimum θ*ᵢ (redrawn when K changes)."""
        self._optima = landscape.task_optima(self.batch)  # θ*ᵢ, the centre of each task's contours
        plotting.update_formula_tasks(self._artists, landscape.task_loss_grids(self.batch, limits=LIMITS), self._optima)

    def _draw_gap_curve(self):
        """Mean distance between the MAML and joint minima against K, for the current α."""
        gap = landscape.optimum_gap_by_support_size(SUPPORT_SIZES, inner_lr=self.inner_lr, n_tasks=self.n_tasks,
                                                    n_batches=GAP_BATCHES, random_state=1)
        self._gap = gap
        plotting.update_formula_gap(self._artists, gap.support_sizes, gap.mean, gap.ci95)

    def _draw_objectives(self):
        """Contours of the joint and MAML objectives for the current α and K (a full redraw)."""
        grids = landscape.objective_grids(self.batch, inner_lr=self.inner_lr, limits=LIMITS)
        self._terms = landscape.linear_maml_terms(self.batch, inner_lr=self.inner_lr)
        self._grids = grids
        # The minima from the closed form (exact), not the grid's best point.
        plotting.update_formula_objectives(self._artists, grids, maml_optimum=self._terms.optimum,
                                           joint_optimum=self._terms.joint_optimum, k_shot=self.k_shot,
                                           gap_here=self.optimum_gap,
                                           gap_top=float(np.max(self._gap.mean + self._gap.ci95)))

    @property
    def optimum_gap(self) -> float:
        """‖θ_MAML − θ_joint‖ for the tasks on screen, from the closed form."""
        return float(np.linalg.norm(self._terms.optimum - self._terms.joint_optimum))

    def _move_theta(self):
        """θ, θ'ᵢ and the meta-gradients for the current θ and α (only these artists redraw)."""
        w, b = self.w, self.b
        adapted = landscape.adapted_points(self.batch, w, b, inner_lr=self.inner_lr)
        parts = landscape.meta_gradient_parts(self.batch, w, b, inner_lr=self.inner_lr)
        plotting.update_formula_theta(self._artists, w, b, adapted, (parts.full, parts.first_order))
        self._blitter.update()
        self._parts = parts
        self.show_status(self.summary())

    def summary(self) -> str:
        """Meta-gradient with and without the Hessian term, the finite-difference check, and the
        distance between the MAML and joint minima at this K."""
        p = self._parts
        k_index = self._gap.support_sizes.index(self.k_shot)
        return (f"θ = ({self.w:.2f}, {self.b:.2f}), α = {self.inner_lr:.2f} · meta-gradient {_vec(p.full)}, "
                f"first-order {_vec(p.first_order)}, Hessian term {_vec(p.hessian_term)} · "
                f"finite differences agree to {p.finite_difference_error:.0e} · "
                f"K = {self.k_shot} support, {2 * self.k_shot} query points per task · MAML minimum "
                f"{_pair(self._terms.optimum)}, joint minimum {_pair(self._terms.joint_optimum)}: "
                f"gap {self.optimum_gap:.2f} (mean over {GAP_BATCHES} draws at this K: "
                f"{self._gap.mean[k_index]:.2f})")

    def _on_theta_change(self, change):
        with self.guard("moving θ"):
            self._move_theta()

    def _on_alpha_change(self, change):
        with self.guard("redrawing for the new α"):
            self._draw_gap_curve()
            self._redraw()

    def _on_k_change(self, change):
        with self.guard("redrawing for the new K"):
            self.batch = self._sample(self.k_shot)
            self._draw_tasks()
            self._redraw()

    def _redraw(self):
        self._draw_objectives()
        self._canvas.draw_idle()  # contours changed: a full redraw, which re-caches the background
        self._move_theta()


class UpdateRulesDashboard(Dashboard):
    """θ = (w, b) of f_θ(x) = w·sin(x − b): joint and MAML landscapes, their minima, and the
    steps of MAML (second order), first-order MAML and Reptile from the same θ.

    Parameters
    ----------
    n_tasks : int
        Tasks in the meta-batch, in [2, 6], drawn from :data:`SINE_TASKS` with 10 support and
        20 query points each.
    random_state : int
        Seeds the tasks.

    Public state: ``w``, ``b`` (θ), ``inner_lr`` (α) and ``reptile_steps`` (Reptile's inner
    steps k), linked to the sliders; ``status`` is the line under the plot.
    """

    w = Float(1.0)
    b = Float(0.5)
    inner_lr = Float(0.2)
    reptile_steps = Int(5)

    @validate("w", "b", "inner_lr", "reptile_steps")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, *, n_tasks: int = 4, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        n_tasks = check_int("n_tasks", n_tasks, 2, len(TASK_COLORS))
        check_int("random_state", random_state, 0, 2**31 - 1)
        self.batch = SINE_TASKS.sample_batch(n_tasks, SINE_SUPPORT, SINE_QUERY, random_state=random_state)
        style, layout = _slider_style()
        (w_low, w_high), (b_low, b_high) = SINE_LIMITS
        self.w_slider = widgets.FloatSlider(value=self.w, min=w_low, max=w_high, step=0.05,
                                            description="θ: w (amplitude)", style=style, layout=layout)
        self.b_slider = widgets.FloatSlider(value=self.b, min=b_low, max=b_high, step=0.05,
                                            description="θ: b (phase)", style=style, layout=layout)
        self.alpha_slider = widgets.FloatSlider(value=self.inner_lr, min=0.0, max=0.3, step=0.01,
                                                description="α (inner lr)", continuous_update=False,
                                                readout_format=".2f", style=style, layout=layout)
        self.steps_slider = widgets.IntSlider(value=self.reptile_steps, min=1, max=10,
                                              description="k (Reptile steps)", continuous_update=False,
                                              style=style, layout=layout)
        for name, slider in [("w", self.w_slider), ("b", self.b_slider), ("inner_lr", self.alpha_slider),
                             ("reptile_steps", self.steps_slider)]:
            self.link_control(slider, name)

        self.figure, self._canvas = interactive_figure(13.6, 4.3)
        self._x = np.linspace(-5.0, 5.0, 200)
        tasks = [(float(self.batch.amplitude[i]), float(self.batch.phase[i])) for i in range(n_tasks)]
        self._joint_optimum = landscape.numerical_maml_optimum(self.batch, inner_lr=0.0, model="sine",
                                                               limits=SINE_LIMITS, n_points=40)
        self._artists = plotting.plot_update_rules(
            self.figure.subplots(1, 3), x=self._x, task_curves=[self._sine(a, p) for a, p in tasks],
            task_labels=[f"task {i + 1}: A = {a:.2f}, φ = {p:.2f}" for i, (a, p) in enumerate(tasks)],
            limits=SINE_LIMITS, joint_optimum=self._joint_optimum)
        self._blitter = BlitManager(self._canvas, self._artists["blitted"])
        self.children = [widgets.HBox([widgets.VBox([self.w_slider, self.b_slider]),
                                       widgets.VBox([self.alpha_slider, self.steps_slider])]),
                         self._canvas, self.status_line]
        self._draw_objectives()
        self._move_theta()
        self.observe(self._on_theta_change, names=["w", "b"])
        self.observe(self._on_landscape_change, names=["inner_lr"])
        self.observe(self._on_steps_change, names=["reptile_steps"])

    def _sine(self, amplitude: float, phase: float) -> np.ndarray:
        """A·sin(x − φ) on the drawn x (a task's curve, or the model's at θ = (A, φ))."""
        return SINE_TASKS.function(torch.from_numpy(self._x), amplitude, phase).numpy()

    def _draw_objectives(self):
        grids = landscape.objective_grids(self.batch, inner_lr=self.inner_lr, limits=SINE_LIMITS, model="sine")
        self.maml_optimum = landscape.numerical_maml_optimum(self.batch, inner_lr=self.inner_lr, model="sine",
                                                             limits=SINE_LIMITS, n_points=40)
        plotting.update_rules_objectives(self._artists, grids, self.maml_optimum)

    @property
    def joint_optimum(self) -> np.ndarray:
        return self._joint_optimum

    def _move_theta(self):
        w, b = self.w, self.b
        d = landscape.update_directions(self.batch, w, b, inner_lr=self.inner_lr, model="sine",
                                        reptile_steps=self.reptile_steps)
        self.directions = d
        plotting.update_rules_theta(self._artists, w, b, self._sine(w, b), np.stack([d.maml, d.first_order, d.reptile]))
        self._blitter.update()
        self.show_status(self.summary())

    def summary(self) -> str:
        d = self.directions
        return (f"θ = ({self.w:.2f}, {self.b:.2f}), α = {self.inner_lr:.2f} · steps: MAML {_vec(d.maml)}, "
                f"first-order MAML {_vec(d.first_order)} ({d.first_order_angle:.0f}° from MAML's), "
                f"Reptile k = {self.reptile_steps} {_vec(d.reptile)} ({d.reptile_angle:.0f}°) · "
                f"MAML's step agrees with finite differences to {d.finite_difference_error:.0e} · "
                f"MAML minimum {_pair(self.maml_optimum)}, joint minimum {_pair(self.joint_optimum)}: "
                f"gap {np.linalg.norm(self.maml_optimum - self.joint_optimum):.2f}")

    def _on_theta_change(self, change):
        with self.guard("moving θ"):
            self._move_theta()

    def _on_landscape_change(self, change):
        with self.guard("redrawing for the new α"):
            self._draw_objectives()
            self._canvas.draw_idle()  # contours changed: a full redraw, which re-caches the background
            self._move_theta()

    def _on_steps_change(self, change):
        with self.guard("redrawing for the new k"):
            self._move_theta()
