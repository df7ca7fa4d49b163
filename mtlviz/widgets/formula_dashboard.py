"""Dashboard of lesson 02: the MAML objective of a two-parameter model, drawn term by term."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from traitlets import Float, Unicode

from ..meta import landscape
from .._validation import check_int
from ..data.tasks import LineTasks
from ._canvas import BlitManager, interactive_figure

__all__ = ["FormulaDashboard"]

TASK_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
LIMITS = (-3.0, 3.0)


class FormulaDashboard(widgets.VBox):
    """θ = (w, b) of f_θ(x) = w·x + b: tasks' losses, adapted θ'ᵢ, joint and MAML objectives.

    Parameters
    ----------
    n_tasks : int
        Tasks in the meta-batch, in [2, 6].
    random_state : int
        Seeds the tasks (support and query points).

    Public state: ``w``, ``b`` (θ) and ``inner_lr`` (α), linked to the sliders; ``status`` is
    the line under the plot (meta-gradients and their finite-difference check).
    """

    w = Float(0.5)
    b = Float(-1.0)
    inner_lr = Float(0.15)
    status = Unicode("")

    def __init__(self, *, n_tasks: int = 4, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        n_tasks = check_int("n_tasks", n_tasks, 2, len(TASK_COLORS))
        check_int("random_state", random_state, 0, 2**31 - 1)
        self.batch = LineTasks().sample_batch(n_tasks, 5, 10, random_state=random_state)
        style = {"description_width": "120px"}
        layout = widgets.Layout(width="360px")
        self.w_slider = widgets.FloatSlider(value=self.w, min=LIMITS[0], max=LIMITS[1], step=0.05,
                                            description="θ: w (slope)", style=style, layout=layout)
        self.b_slider = widgets.FloatSlider(value=self.b, min=LIMITS[0], max=LIMITS[1], step=0.05,
                                            description="θ: b (intercept)", style=style, layout=layout)
        self.alpha_slider = widgets.FloatSlider(value=self.inner_lr, min=0.0, max=0.4, step=0.01,
                                                description="α (inner lr)", continuous_update=False,
                                                readout_format=".2f", style=style, layout=layout)
        for name, slider in [("w", self.w_slider), ("b", self.b_slider), ("inner_lr", self.alpha_slider)]:
            widgets.link((slider, "value"), (self, name))

        self.figure, self._canvas = interactive_figure(12.5, 4.2)
        self._axes = self.figure.subplots(1, 3)
        titles = ["tasks' losses L_Tᵢ(θ); arrows θ → θ'ᵢ", "joint training: Σᵢ L_Tᵢ(θ) / N",
                  "MAML: Σᵢ L_Tᵢ(θ'ᵢ) / N; arrows −∇θ"]
        for ax, title in zip(self._axes, titles):
            ax.set_xlim(*LIMITS)
            ax.set_ylim(*LIMITS)
            ax.set_aspect("equal")
            ax.set_xlabel("w")
            ax.set_ylabel("b")
            ax.set_title(title, fontsize=10)
        for i, grid in enumerate(landscape.task_loss_grids(self.batch, limits=LIMITS)):
            self._axes[0].contour(grid.w, grid.b, grid.values.T, levels=np.quantile(grid.values, [0.02, 0.1, 0.3]),
                                  colors=TASK_COLORS[i], linewidths=1.0)
        self._optima = landscape.task_optima(self.batch)  # θ*ᵢ, the centre of each task's contours
        for i, (w_star, b_star) in enumerate(self._optima):
            self._axes[0].plot([w_star], [b_star], "P", color=TASK_COLORS[i], mec="k", ms=9, zorder=4,
                               label=f"task {i + 1}: minimum θ*" if i == 0 else f"task {i + 1}")
        self._axes[0].plot([], [], "k*", ms=10, label="θ (the sliders)")
        self._axes[0].plot([], [], "o", color="#bbbbbb", mec="k", ms=6, label="θ'ᵢ after one step")
        self._contours = {}
        self._theta_markers = [ax.plot([], [], "k*", ms=13, zorder=6)[0] for ax in self._axes]
        self._adapted_markers = self._axes[0].scatter(np.zeros(n_tasks), np.zeros(n_tasks), c=TASK_COLORS[:n_tasks],
                                                      s=30, zorder=6, edgecolors="k")
        self._task_arrows = self._axes[0].quiver(np.zeros(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks),
                                                 np.zeros(n_tasks), color=TASK_COLORS[:n_tasks], angles="xy",
                                                 scale_units="xy", scale=1, width=0.008, zorder=5)
        self._grad_arrows = self._axes[2].quiver(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2),
                                                 color=["#d62728", "#ff9896"], angles="xy", scale_units="xy", scale=1,
                                                 width=0.012, zorder=5)
        self._axes[2].plot([], [], color="#d62728", lw=3, label="second order (exact)")
        self._axes[2].plot([], [], color="#ff9896", lw=3, label="first order (no Hessian)")
        self._axes[2].legend(loc="lower left", fontsize=7)
        self._axes[0].legend(loc="lower left", fontsize=6.5, framealpha=0.85)
        self._colorbar = None
        self._blitter = BlitManager(self._canvas, [*self._theta_markers, self._adapted_markers, self._task_arrows,
                                                   self._grad_arrows])
        self._status_label = widgets.HTML()
        self._status_label.add_class("mtlviz-status")
        self.children = [widgets.HBox([widgets.VBox([self.w_slider, self.b_slider]), self.alpha_slider]),
                         self._canvas, self._status_label]
        self._draw_objectives()
        self._move_theta()
        self.observe(self._on_theta_change, names=["w", "b"])
        self.observe(self._on_alpha_change, names=["inner_lr"])

    def _draw_objectives(self):
        """Contours of the joint and MAML objectives for the current α (a full redraw)."""
        grids = landscape.objective_grids(self.batch, inner_lr=self.inner_lr, limits=LIMITS)
        # One colour scale for both panels, so that equal colours mean equal loss.
        both = np.concatenate([grids["joint"].values.ravel(), grids["maml"].values.ravel()])
        levels = np.quantile(both, np.linspace(0.0, 0.9, 14))
        for key, ax in [("joint", self._axes[1]), ("maml", self._axes[2])]:
            for artist in self._contours.get(key, []):
                artist.remove()
            grid = grids[key]
            i, j = np.unravel_index(np.argmin(grid.values), grid.values.shape)
            self._contours[key] = [
                ax.contourf(grid.w, grid.b, grid.values.T, levels=levels, cmap="viridis_r", extend="max", zorder=1),
                ax.plot([grid.w[i]], [grid.b[j]], "wX", ms=10, mec="k", zorder=4, label="minimum")[0],
            ]
        filled = self._contours["maml"][0]
        if self._colorbar is None:  # one colour bar for both panels: they share the levels
            self._colorbar = self.figure.colorbar(filled, ax=list(self._axes[1:]), shrink=0.8, pad=0.02)
            self._colorbar.set_label("mean loss (both panels)", fontsize=8)
            self._axes[1].legend(handles=[self._contours["joint"][1]], loc="lower left", fontsize=7)
        else:
            self._colorbar.update_normal(filled)
        self._grids = grids

    def _move_theta(self):
        """θ, θ'ᵢ and the meta-gradients for the current θ and α (only these artists redraw)."""
        w, b = self.w, self.b
        for marker in self._theta_markers:
            marker.set_data([w], [b])
        adapted = landscape.adapted_points(self.batch, w, b, inner_lr=self.inner_lr)
        self._adapted_markers.set_offsets(adapted)
        n_tasks = len(adapted)
        self._task_arrows.set_offsets(np.tile([w, b], (n_tasks, 1)))
        self._task_arrows.set_UVC(adapted[:, 0] - w, adapted[:, 1] - b)
        parts = landscape.meta_gradient_parts(self.batch, w, b, inner_lr=self.inner_lr)
        steps = -np.stack([parts.full, parts.first_order])
        longest = max(np.linalg.norm(steps, axis=1).max(), 1e-12)
        steps = steps / longest * 1.2  # draw directions at a fixed length; the status gives the sizes
        self._grad_arrows.set_offsets(np.tile([w, b], (2, 1)))
        self._grad_arrows.set_UVC(steps[:, 0], steps[:, 1])
        self._blitter.update()
        self._parts = parts
        self.status = self.summary()
        self._status_label.value = self.status

    def summary(self) -> str:
        """Meta-gradient with and without the Hessian term, and the finite-difference check."""
        p = self._parts

        def vec(v):
            return f"({v[0]:+.3f}, {v[1]:+.3f})"

        return (f"θ = ({self.w:.2f}, {self.b:.2f}), α = {self.inner_lr:.2f} · meta-gradient {vec(p.full)}, "
                f"first-order {vec(p.first_order)}, Hessian term {vec(p.hessian_term)} · "
                f"finite differences agree to {p.finite_difference_error:.0e}")

    def _on_theta_change(self, change):
        self._move_theta()

    def _on_alpha_change(self, change):
        self._draw_objectives()
        self._canvas.draw_idle()  # contours changed: a full redraw, which re-caches the background
        self._move_theta()
