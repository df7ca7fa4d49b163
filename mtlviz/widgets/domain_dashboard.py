"""Dashboard of lesson 07: source only, Deep CORAL and DANN on rotated two moons, side by side."""
from __future__ import annotations

import time
from typing import Dict, NamedTuple, Tuple

import ipywidgets as widgets
import numpy as np
import torch
from traitlets import Int, Unicode, validate

from .. import plotting
from .._memory import release_free_memory
from ..transfer.domain import METHODS, DomainAdaptationClassifier, project_features
from ..data.moons import rotated_moons
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["DomainAdaptationDashboard"]

METHOD_NAMES = {"source_only": "source only", "coral": "Deep CORAL", "dann": "DANN"}
LIMIT = 3.0  # the rotated moons lie within |x|, |y| < 3
GRID = 100  # decision-region image pixels per side (bilinear on screen; 140 cost 0.1 CPU-s more at start)
FEATURE_LIMIT = 3.2  # projected features have unit variance per axis


class _MethodView(NamedTuple):
    """What one trained model contributes to the figure at one rotation."""

    regions: np.ndarray  # (GRID, GRID, 3) RGB decision regions
    accuracy: float  # on the target test sample
    source_2d: np.ndarray  # (n_S, 2) projected features
    target_2d: np.ndarray  # (n_T, 2)


def _region_image(model: DomainAdaptationClassifier) -> np.ndarray:
    """Decision regions as an RGB image (:func:`mtlviz.plotting.region_colors` of p(moon 1) on a
    GRID × GRID grid over ±LIMIT)."""
    axis = torch.linspace(-LIMIT, LIMIT, GRID)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], 1)
    return plotting.region_colors(model.predict_proba(points)[:, 1].numpy().reshape(GRID, GRID))


class DomainAdaptationDashboard(Dashboard):
    """Rotate the target moons and compare source only, Deep CORAL and DANN: decision regions over
    the source and target points (top row) and the learned features, projected to 2-D (bottom).

    Parameters
    ----------
    models : dict of (method, angle) to DomainAdaptationClassifier
        Precomputed fits for every method of :data:`mtlviz.transfer.domain.METHODS` at each angle
        (``load_two_moons_da()``); all fitted with the same ``random_state``, which is also the
        seed of the data (:func:`mtlviz.data.moons.rotated_moons`).
    angle : int
        The rotation shown first; one of the models' angles.

    Public state: ``angle``, ``live_seed`` (seed of the next live training), ``mode``
    ("precomputed" or "live"); ``status`` says what is on screen.
    """

    angle = Int(30)
    live_seed = Int(1)
    mode = Unicode("precomputed")

    @validate("angle", "live_seed")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, models: Dict[Tuple[str, int], DomainAdaptationClassifier], *, angle: int = 30, **kwargs):
        super().__init__(**kwargs)
        angles = sorted({a for _, a in models})
        if not angles or any((m, a) not in models for m in METHODS for a in angles):
            raise ValueError("models must hold a fitted model for every method "
                             f"({', '.join(METHODS)}) at every angle")
        if angle not in angles:
            raise ValueError(f"angle must be one of the precomputed angles {angles}; got {angle!r}")
        self._models = dict(models)
        self._seed = int(models[(METHODS[0], angles[0])].random_state)
        self._params = {k: v for k, v in models[(METHODS[0], angles[0])].get_params().items()
                        if k not in ("method", "random_state")}
        self._views: Dict[int, Tuple[object, Dict[str, _MethodView]]] = {}
        self._live: Dict[str, _MethodView] = {}
        self._live_seconds = 0.0
        self.angle = angle
        step = angles[1] - angles[0] if len(angles) > 1 else 1
        self.angle_slider = widgets.IntSlider(value=angle, min=angles[0], max=angles[-1], step=step,
                                              description="target rotation (°)", continuous_update=False,
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="460px"))
        self.live_button = widgets.Button(description="Train live at this angle (~2 s)", icon="play",
                                          layout=widgets.Layout(width="auto"))
        self.live_button.on_click(self._on_live_click)
        self.seed_box = widgets.BoundedIntText(value=self.live_seed, min=0, max=10_000, description="seed",
                                               layout=widgets.Layout(width="130px"))
        self.link_control(self.angle_slider, "angle")
        self.link_control(self.seed_box, "live_seed")
        self._mode_label = widgets.HTML()
        self._build_figure()
        self.children = [widgets.HBox([self.angle_slider, self.live_button, self.seed_box]), self._mode_label,
                         self._canvas, self.status_line]
        self.observe(self._on_angle_change, names=["angle"])
        self._precompute(angles)
        self._draw()

    # -- callbacks -------------------------------------------------------------------------
    def _on_angle_change(self, _change):
        self.mode = "precomputed"  # a live fit belongs to the angle it was trained at
        with self.guard("redrawing the fits"):
            self._draw()

    def _on_live_click(self, _button):
        try:
            with self.guard("training live"):
                self.train_live()
        finally:
            release_free_memory()  # three fits leave their freed heap behind

    # -- the numbers behind the pictures ---------------------------------------------------
    @staticmethod
    def _method_view(model: DomainAdaptationClassifier, problem) -> _MethodView:
        source_2d, target_2d = project_features(model, problem.x_source, problem.x_target)
        return _MethodView(_region_image(model), model.score(problem.x_test, problem.y_test), source_2d, target_2d)

    def _precompute(self, angles) -> None:
        """Predict every shipped fit's regions, accuracy and features once (about 50 ms per angle),
        so that a slider move only swaps pictures: computed on a move, they doubled its p95."""
        for angle in angles:
            problem = rotated_moons(angle, random_state=self._seed)
            self._views[angle] = (problem, {m: self._method_view(self._models[(m, angle)], problem) for m in METHODS})

    def train_live(self) -> None:
        """Train the three methods now at the current angle, on data and weights seeded by
        ``live_seed`` (the precomputed fits used seed 0: seed 0 reproduces them, bit for bit on
        the kind of processor that made them, to rounding-sized drift on another)."""
        self.live_button.disabled = True
        self.show_status(f"training source only, Deep CORAL and DANN at {self.angle}° (seed {self.live_seed})…")
        try:
            problem = rotated_moons(self.angle, random_state=self.live_seed)
            started = time.perf_counter()
            models = {m: DomainAdaptationClassifier(m, random_state=self.live_seed, **self._params)
                      .fit(problem.x_source, problem.y_source, problem.x_target) for m in METHODS}
            self._live_seconds = time.perf_counter() - started
            self._live = {m: self._method_view(models[m], problem) for m in METHODS}
            self._live_problem = problem
            self.mode = "live"
            self._draw()
        finally:
            self.live_button.disabled = False

    # -- drawing ---------------------------------------------------------------------------
    def _build_figure(self):
        self.figure, self._canvas = interactive_figure(11.0, 7.0)
        axes = self.figure.subplots(2, 3)
        self._artists = plotting.plot_domain_panels(axes[0], axes[1], names={m: METHOD_NAMES[m] for m in METHODS},
                                                    limit=LIMIT, feature_limit=FEATURE_LIMIT)
        self._blitter = BlitManager(self._canvas, self._artists["changing"])

    def _draw(self):
        live = self.mode == "live"
        problem, views = (self._live_problem, self._live) if live else self._views[self.angle]
        plotting.update_domain_panels(
            self._artists, x_source=problem.x_source.numpy(), y_source=problem.y_source.numpy(),
            x_target=problem.x_target.numpy(), y_target=problem.y_target.numpy(),
            regions={m: views[m].regions for m in METHODS}, source_2d={m: views[m].source_2d for m in METHODS},
            target_2d={m: views[m].target_2d for m in METHODS},
            titles={m: f"{METHOD_NAMES[m]}\ntarget accuracy {views[m].accuracy:.2f}" for m in METHODS})
        self._blitter.update()
        accuracies = ", ".join(f"{METHOD_NAMES[m]} {views[m].accuracy:.2f}" for m in METHODS)
        if live:
            seed = self.live_seed
            self._mode_label.value = (f"<b>Live</b>: the three networks were trained just now in "
                                      f"{self._live_seconds:.1f} s (seed {seed}). Move the slider to go back "
                                      "to the precomputed fits.")
            self.show_status(f"live fit at {self.angle}° (seed {seed}): target accuracy {accuracies}")
        else:
            self._mode_label.value = (f"<b>Precomputed</b>: fits shipped with mtlviz (seed {self._seed}); the "
                                      "slider only redraws them. <i>Train live</i> trains all three now, "
                                      "with any seed.")
            self.show_status(f"precomputed fit at {self.angle}° (seed {self._seed}): target accuracy {accuracies}")


def shift_examples(problem, n_images: int = 10) -> widgets.Image:
    """A static picture of the image shift: ``n_images`` clean source digits (top row) above
    ``n_images`` shifted target digits (bottom row), as a PNG image widget."""
    from io import BytesIO

    figure = plotting.image_rows_figure({"source: clean": problem.x_source.numpy(),
                                         "target: blurred + noise": problem.x_target.numpy()}, n_images=n_images)
    with BytesIO() as png:
        figure.savefig(png, format="png")
        return widgets.Image(value=png.getvalue(), format="png")
