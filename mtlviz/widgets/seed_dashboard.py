"""Dashboard of lesson 04: what the seed's two learning bugs do to MAML."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Bool, Int, validate

from .. import plotting
from .._validation import check_int
from ..meta.seed import VARIANTS
from ..data.tasks import SinusoidTasks
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["SeedBugsDashboard"]

N_STEPS = 10
N_TEST_TASKS = 100
VARIANT_COLORS = {"corrected": "#1f77b4", "no_query_set": "#ff7f0e", "one_task": "#2ca02c", "both_bugs": "#d62728"}


class SeedBugsDashboard(Dashboard):
    """Switch the seed's bugs on and off and see MAML trained that way adapt to new tasks.

    Parameters
    ----------
    models : dict of str to MAML
        One meta-trained MAML per key of :data:`mtlviz.meta.seed.VARIANTS`
        (``mtlviz.pretrained.load_seed_variant(name)``).
    random_state : int
        Seeds the test tasks; the same seed shows the same tasks and numbers.
    curves : dict of str to array, optional
        Each variant's mean query loss after 0…10 steps (α = 0.01) on these test tasks, the
        ``N_TEST_TASKS`` tasks of ``SinusoidTasks().sample_batch(100, 5, 100, random_state=random_state)``,
        when the caller has computed them already (lesson 04 prints them just before): drawn
        instead of computed again. Computed here when None.

    Public state: ``separate_query`` and ``task_batch`` (the two fixes), ``task_index`` (which
    test task the left panel shows); ``status`` is the line under the plot.
    """

    separate_query = Bool(True)
    task_batch = Bool(True)
    task_index = Int(0)

    @validate("task_index")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, models, *, random_state: int = 0, curves=None, **kwargs):
        super().__init__(**kwargs)
        missing = sorted(set(VARIANTS) - set(models))
        if missing:
            raise ValueError(f"models must hold one MAML per variant; missing {missing}")
        check_int("random_state", random_state, 0, 2**31 - 1)
        self._models = dict(models)
        self._tasks = SinusoidTasks()
        self._test = self._tasks.sample_batch(N_TEST_TASKS, 5, 100, random_state=random_state)
        if curves is None:  # every variant's mean query loss after 0..10 steps on the test tasks, once
            curves = {name: model.query_loss_curve(self._test, inner_lr=0.01, n_inner_steps=N_STEPS).mean(0)
                      for name, model in self._models.items()}
        self._curves = _checked_curves(curves, self._models)
        self._x_grid = torch.linspace(-5.0, 5.0, 200).unsqueeze(1)

        wide = dict(indent=False, style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
        self.query_checkbox = widgets.Checkbox(value=True, description="fix 2: score on a separate query set", **wide)
        self.batch_checkbox = widgets.Checkbox(value=True, description="fix 3: a batch of 25 tasks per outer step",
                                               **wide)
        self.task_slider = widgets.IntSlider(value=0, min=0, max=N_TEST_TASKS - 1, description="test task",
                                             style={"description_width": "80px"}, layout=widgets.Layout(width="340px"))
        self.link_control(self.query_checkbox, "separate_query")
        self.link_control(self.batch_checkbox, "task_batch")
        self.link_control(self.task_slider, "task_index")

        self.figure, self._canvas = interactive_figure(11.0, 3.7)
        left, right = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        # The adapted curve changes colour with the variant, so the legend lists only fixed styles.
        self._fit_artists = plotting.plot_adaptation(left, n_max_steps=N_STEPS, color=VARIANT_COLORS["corrected"],
                                                     title="", legend=("true", "before", "support"))
        self._loss_artists = plotting.plot_loss_curves(
            right, n_max_steps=N_STEPS, labels={name: variant.label for name, variant in VARIANTS.items()},
            ylim=(0.05, 20.0), colors=VARIANT_COLORS, title="mean over 100 test tasks (K = 5, α = 0.01)",
            legend_loc="lower left", legend_size=7)
        changing = [*self._loss_artists.values(), left.title] + [
            self._fit_artists[key] for key in ("true", "before", "after", "support", "message")] + self._fit_artists["steps"]
        self._blitter = BlitManager(self._canvas, changing)
        self._title = left.title
        self.children = [widgets.HBox([widgets.VBox([self.query_checkbox, self.batch_checkbox]), self.task_slider]),
                         self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["separate_query", "task_batch", "task_index"])
        self.refresh()

    @property
    def variant(self) -> str:
        """The key of :data:`VARIANTS` matching the two checkboxes."""
        for name, variant in VARIANTS.items():
            if variant.separate_query == self.separate_query and (variant.meta_batch_size > 1) == self.task_batch:
                return name
        raise AssertionError("VARIANTS covers every combination")

    def refresh(self) -> None:
        """Redraw for the current variant and test task."""
        name = self.variant
        model = self._models[name]
        task = self._test.task(self.task_index)
        x_support, y_support = task.x_support[0], task.y_support[0]
        y_grid = SinusoidTasks.function(self._x_grid, float(task.amplitude[0]), float(task.phase[0]))
        trace = model.trace_adaptation(x_support, y_support, self._x_grid, y_grid, inner_lr=0.01,
                                       n_inner_steps=N_STEPS)
        self._fit_artists["after"].set_color(VARIANT_COLORS[name])
        for line in self._fit_artists["steps"]:
            line.set_color(VARIANT_COLORS[name])
            line.set_alpha(0.35)
        plotting.update_adaptation(self._fit_artists, self._x_grid[:, 0].numpy(), y_grid[:, 0].numpy(),
                                   x_support[:, 0].numpy(), y_support[:, 0].numpy(), trace.predictions,
                                   message=trace.divergence_message())
        self._title.set_text(f"{VARIANTS[name].label}: test task {self.task_index}, {N_STEPS} steps")
        plotting.update_loss_curves(self._loss_artists, self._curves)
        for key, line in self._loss_artists.items():
            line.set_linewidth(3.0 if key == name else 1.0)
            line.set_alpha(1.0 if key == name else 0.45)
        self._blitter.update()
        self.show_status(self.summary(), "warning" if trace.divergence_message() else "info")

    def summary(self) -> str:
        """The selected variant's mean test query MSE after 1 and 10 steps, beside the corrected one."""
        name = self.variant
        mine, best = self._curves[name], self._curves["corrected"]
        text = f"{VARIANTS[name].label}: query MSE after 1 / 10 steps = {mine[1]:.2f} / {mine[-1]:.2f}"
        if name != "corrected":
            text += f" (corrected: {best[1]:.2f} / {best[-1]:.2f})"
        return text

    def _on_setting_change(self, change):
        with self.guard("redrawing"):
            self.refresh()


def _checked_curves(curves, models) -> dict:
    """``curves`` as numpy arrays, one of length N_STEPS + 1 per model; ValueError otherwise."""
    missing = sorted(set(models) - set(curves))
    if missing:
        raise ValueError(f"curves must hold one curve per model; missing {missing}")
    checked = {name: np.asarray(curves[name], dtype=float) for name in models}
    for name, curve in checked.items():
        if curve.shape != (N_STEPS + 1,):
            raise ValueError(f"curves[{name!r}] must be the mean query loss after 0..{N_STEPS} steps, "
                             f"shape ({N_STEPS + 1},); got {curve.shape}")
    return checked
