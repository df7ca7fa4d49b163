"""Dashboard of lesson 08: an episode in the embedding space of a metric classifier."""
from __future__ import annotations

from typing import Dict

import ipywidgets as widgets
from traitlets import Int, Unicode, validate

from .. import plotting
from ..meta.protonet import embed_episode
from ..plotting import CLASS_COLOURS
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["ProtoNetDashboard", "CLASS_COLOURS"]


class ProtoNetDashboard(Dashboard):
    """A new N-way K-shot episode of unseen characters, embedded by a metric classifier and drawn
    on the first two principal axes of its embeddings: support images (circles), their class
    prototypes c_k (stars), query images (triangles, coloured by the class they are given, a
    line to that prototype; a red ring where that is wrong).

    Parameters
    ----------
    classifiers : dict of str to dict of int to classifier
        ``{name: {K: classifier}}``: for each named embedding, the classifier used for K-shot
        episodes (a :class:`~mtlviz.meta.protonet.PrototypicalNetwork` per K, or the same
        :class:`~mtlviz.meta.protonet.NearestCentroid` for every K). Every name needs the same K values.
    tasks : episode family
        Where new episodes come from (the evaluation glyphs: characters no model has seen).
    n_way, n_query : int
        Classes per episode and query images per class.
    random_state : int
        Seeds the first episode; "New episode" draws the next ones.

    Public state: ``embedding``, ``k_shot``, ``episode_seed``; ``status`` gives the accuracy.
    """

    embedding = Unicode()
    k_shot = Int(1)
    episode_seed = Int(0)

    def __init__(self, classifiers: Dict[str, Dict[int, object]], tasks, *, n_way: int = 5, n_query: int = 5,
                 random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not classifiers:
            raise ValueError("classifiers must name at least one embedding")
        shots = sorted(next(iter(classifiers.values())))
        if any(sorted(by_k) != shots for by_k in classifiers.values()):
            raise ValueError("classifiers must offer the same K values for every embedding")
        if not 2 <= n_way <= len(CLASS_COLOURS):
            raise ValueError(f"n_way must be in [2, {len(CLASS_COLOURS)}]; got {n_way!r}")
        self._classifiers, self._tasks, self.n_way, self.n_query = dict(classifiers), tasks, n_way, n_query
        self.embedding_buttons = widgets.ToggleButtons(options=list(self._classifiers), description="embedding",
                                                       style={"button_width": "auto"})
        self.shot_buttons = widgets.ToggleButtons(options=[(f"K = {k}", k) for k in shots], value=shots[0],
                                                  description="support", style={"button_width": "auto"})
        self.new_button = widgets.Button(description="New episode", icon="refresh",
                                         layout=widgets.Layout(width="auto"))
        self.new_button.on_click(self._on_new_click)
        self.link_control(self.embedding_buttons, "embedding")
        self.link_control(self.shot_buttons, "k_shot")
        self.episode_seed = random_state
        self.figure, self._canvas = interactive_figure(10.0, 4.8)
        self._images_ax, self._map_ax = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
        self._artists = plotting.plot_protonet_episode(self._images_ax, self._map_ax)
        # A setting changes the support images (their pixels cached by BlitManager, the frame
        # drawn over them as in a full draw) and the whole map, whose ticks follow the embeddings:
        # blitted, without the figure's constrained layout (a third of a full draw) while the map's
        # labels fit it (issue 19).
        self._blitter = BlitManager(self._canvas, [self._artists["image"], *self._images_ax.spines.values(),
                                                   self._map_ax, self._map_ax.title])
        self.children = [self.embedding_buttons, widgets.HBox([self.shot_buttons, self.new_button]),
                         self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["embedding", "k_shot", "episode_seed"])
        self.view = None
        self.refresh()

    @validate("embedding", "k_shot")
    def _validate_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def refresh(self) -> None:
        """Draw a new episode for the current embedding, K and seed."""
        classifier = self._classifiers[self.embedding][self.k_shot]
        episode = self._tasks.sample_episodes(1, self.n_way, self.k_shot, self.n_query,
                                              random_state=self.episode_seed)
        self.view = embed_episode(classifier, episode.x_support[0], episode.y_support[0], episode.x_query[0],
                                  episode.y_query[0])
        plotting.update_protonet_episode(self._artists, episode.x_support[0], self.view, n_way=self.n_way,
                                         k_shot=self.k_shot)
        self._blitter.update()
        view = self.view
        n_query = len(view.y_query)
        right = int((view.predicted == view.y_query).sum())
        differ = int((view.nearest_in_picture != view.predicted).sum())
        picture = (f"; this picture shows {view.explained:.0%} of the embeddings' spread"
                   + (f", and {differ} query image{'s' if differ != 1 else ''} look{'' if differ != 1 else 's'} nearer "
                      "another prototype here than in the full embedding" if differ else ""))
        self.show_status(f"{self.embedding}, {self.n_way}-way {self.k_shot}-shot: {right} of {n_query} query images "
                         f"nearest their own class's prototype ({right / n_query:.0%}){picture}")

    def _on_new_click(self, _button):
        self.episode_seed += 1

    def _on_setting_change(self, change):
        with self.guard("drawing the episode"):
            self.refresh()
