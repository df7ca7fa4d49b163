"""Dashboard of lesson 10: pick a goal for the point robot, watch MAML and the pretrained policy adapt."""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from traitlets import Float, Int, validate

from .. import plotting
from ..data import navigation as nav
from ..meta.rl import NavigationAdaptation, NavigationPolicy, adapt_together
from ..plotting import STAGE_COLORS, figure_png
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["NavigationDashboard", "adaptation_returns_figure", "STAGE_COLORS"]

#: The plane drawn: a little more than the arena, so paths that overshoot stay visible.
VIEW = 0.8
#: Rollouts drawn per stage (of the 20 each stage adapts on).
SHOWN_ROLLOUTS = 5
N_STEPS = 3


class NavigationDashboard(Dashboard):
    """Click a goal on either plane (or type it, or draw one at random): both policies run 20
    rollouts toward it, take one policy-gradient step on them, and again, 3 times; the planes
    show 5 rollouts of every stage and the right panel the average return after each step.

    Parameters
    ----------
    policies : mapping of name to fitted NavigationPolicy
        The policies compared side by side (the lesson: ``{"MAML": ..., "pretrained": ...}``).
    goal : (float, float)
        The first goal, inside the arena [-0.5, 0.5]².
    seed : int
        Seed of the rollouts (the same goal and seed give the same trajectories).

    Public state: ``goal_x``, ``goal_y``, ``seed`` (of the rollouts), ``goal_draws`` (how many random
    goals were drawn: the next one is ``sample_goals(1, random_state=goal_draws)``);
    ``results`` holds the last :class:`~mtlviz.meta.rl.NavigationAdaptation` per policy.
    """

    goal_x = Float(0.3)
    goal_y = Float(-0.2)
    seed = Int(0)
    goal_draws = Int(0)
    _moving_goal = False  # set_goal is changing both coordinates

    def __init__(self, policies: Mapping[str, NavigationPolicy], *, goal: Sequence[float] = (0.3, -0.2),
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not policies or not all(isinstance(p, NavigationPolicy) for p in policies.values()):
            raise ValueError("policies must map names to fitted NavigationPolicy objects (load_navigation())")
        for policy in policies.values():
            policy._check_fitted()
        x, y = nav.check_goal(*goal)
        self._policies = dict(policies)
        self.results: Dict[str, NavigationAdaptation] = {}
        self.goal_x, self.goal_y, self.seed = x, y, seed
        text = dict(step=0.05, layout=widgets.Layout(width="170px"), style={"description_width": "initial"})
        self.x_box = widgets.FloatText(value=x, description="goal x", **text)
        self.y_box = widgets.FloatText(value=y, description="goal y", **text)
        self.seed_box = widgets.BoundedIntText(value=seed, min=0, max=1_000_000, description="rollout seed",
                                               layout=widgets.Layout(width="190px"),
                                               style={"description_width": "initial"})
        self.random_button = widgets.Button(description="Random goal", icon="random",
                                            layout=widgets.Layout(width="auto"))
        self.random_button.on_click(self._on_random_click)
        # the goal boxes take any number: a goal outside the arena becomes a one-line message
        self.link_control(self.x_box, "goal_x")
        self.link_control(self.y_box, "goal_y")
        self.link_control(self.seed_box, "seed")
        self._build_figure()
        help_text = widgets.HTML("<i>Click a goal on either plane, type one (each coordinate in "
                                 f"[−{nav.ARENA:g}, {nav.ARENA:g}]) or draw one at random.</i>")
        self.children = [widgets.HBox([self.x_box, self.y_box, self.random_button, self.seed_box]), help_text,
                         self._canvas, self.status_line]
        self.observe(self._on_goal_change, names=["goal_x", "goal_y", "seed"])
        with self.guard("adapting to the goal"):
            self.update()

    @validate("goal_x", "goal_y", "seed")
    def _validate_control_value(self, proposal):
        return self.value_in_control(proposal)

    # -- figure ---------------------------------------------------------------------------------
    def _build_figure(self):
        n = len(self._policies)
        self.figure, self._canvas = interactive_figure(4.0 * n + 4.2, 4.3)
        grid = self.figure.add_gridspec(1, n + 1, width_ratios=[1.0] * n + [1.05])
        self._planes = {name: self.figure.add_subplot(grid[0, column]) for column, name in enumerate(self._policies)}
        self._returns_ax = self.figure.add_subplot(grid[0, n])
        self._artists = plotting.plot_navigation(self._planes, self._returns_ax, view=VIEW, arena=nav.ARENA,
                                                 n_steps=N_STEPS, n_rollouts=SHOWN_ROLLOUTS)
        self._lines, self._return_lines = self._artists["lines"], self._artists["returns"]
        self._canvas.mpl_connect("button_press_event", self._on_click)
        # A new goal changes the paths, the goal markers and the returns panel, whose y axis
        # rescales: blit those (the returns panel drawn whole) over the planes, cached. A full
        # draw, with its constrained layout, was 175 of the 235 ms a click cost the kernel (issue 19).
        # What lies over the paths is blitted after them, in the order of a full draw (z-order):
        # the planes' frames, the start, the legend (its pixels cached), the goal. The returns
        # panel's title and legend come from the cache too.
        legends = [ax.get_legend() for ax in self._planes.values() if ax.get_legend() is not None]
        self._blitter = BlitManager(self._canvas, [*(line for stages in self._lines.values() for lines in stages
                                                     for line in lines),
                                                   *(spine for ax in self._planes.values() for spine in ax.spines.values()),
                                                   *self._artists["starts"].values(), *legends,
                                                   *self._artists["goals"].values(), self._returns_ax,
                                                   self._returns_ax.title, self._returns_ax.get_legend()])

    # -- callbacks -------------------------------------------------------------------------------
    def _on_goal_change(self, _change):
        if self._moving_goal:
            return  # set_goal adapts once, after both coordinates
        with self.guard("adapting to the goal"):
            self.update()

    def _on_random_click(self, _button):
        with self.guard("drawing a random goal"):
            self.random_goal()

    def _on_click(self, event):
        if event.inaxes not in self._planes.values() or event.xdata is None:
            return
        with self.guard("goal from the click"):
            self.set_goal(float(event.xdata), float(event.ydata))

    # -- actions ---------------------------------------------------------------------------------
    def set_goal(self, x: float, y: float) -> None:
        """Move the goal to ``(x, y)`` (each in the arena; otherwise a ValueError naming it) and adapt."""
        x, y = nav.check_goal(x, y)
        goal = (round(x, 3), round(y, 3))
        if goal == (self.goal_x, self.goal_y):
            return
        # One adaptation for the new goal: until 2026-12-05 each coordinate's change adapted both
        # policies and sent a frame, so a click that moved both cost the kernel twice (issue 19).
        self._moving_goal = True
        try:
            with self.hold_trait_notifications():  # both or neither
                self.goal_x, self.goal_y = goal
        finally:
            self._moving_goal = False
        self.update()

    def random_goal(self) -> None:
        """Draw the next goal of the deterministic sequence ``sample_goals(1, random_state=k)``."""
        goal = nav.sample_goals(1, random_state=self.goal_draws)[0]
        self.goal_draws += 1
        self.set_goal(float(goal[0]), float(goal[1]))

    def update(self) -> None:
        """Adapt every policy to the current goal and redraw (a ValueError for a goal outside the arena)."""
        x, y = nav.check_goal(self.goal_x, self.goal_y)
        goals = torch.tensor([[x, y]], dtype=torch.float32)
        # each policy's own adapt(), computed as one batch (two thirds of the time; issue 19)
        results = adapt_together(self._policies, goals, n_steps=N_STEPS, random_state=self.seed)
        self.results = results
        plotting.update_navigation(self._artists,
                                   {name: result.positions[:, 0, :SHOWN_ROLLOUTS] for name, result in results.items()},
                                   {name: result.returns[:, 0] for name, result in results.items()}, (x, y))
        self._blitter.update()
        parts = [f"{name}: " + " → ".join(f"{value:.1f}" for value in result.returns[:, 0])
                 for name, result in results.items()]
        self.show_status(f"goal ({x:.2f}, {y:.2f}), average return before → after 1, 2, 3 steps · "
                         + " · ".join(parts))


def adaptation_returns_figure(figure_data: Mapping, names: Optional[Mapping[str, str]] = None) -> widgets.Image:
    """The shipped comparison (``load_figure("navigation_adaptation")``) as a static image: average
    return against policy-gradient steps, mean over the goals with its 95% interval, per policy."""
    names = names or {"maml": "MAML", "pretrained": "pretrained", "random": "random init"}
    figure = Figure(figsize=(5.6, 3.6), dpi=90, layout="constrained")
    plotting.plot_navigation_returns(figure.add_subplot(), figure_data, names)
    return widgets.Image(value=figure_png(figure), format="png")
