"""Dashboard of lesson 01: what an N-way K-shot episode looks like."""
from __future__ import annotations


import ipywidgets as widgets
from traitlets import Int, Unicode, validate

from .. import plotting
from ._base import Dashboard
from ._canvas import interactive_figure

__all__ = ["EpisodeViewer"]


class EpisodeViewer(Dashboard):
    """Sliders for N (classes), K (support images per class) and the query size; the support
    and query sets of one episode drawn side by side, a row per class.

    Parameters
    ----------
    families : dict of str to task family
        Named families with ``sample_episodes`` and ``classes`` (GlyphTasks, DigitsTasks).
    random_state : int
        Seeds the first episode; "New episode" draws the next ones.

    Public state: ``family``, ``n_way``, ``k_shot``, ``n_query``, ``episode_seed``; ``status``
    describes the episode on screen.
    """

    family = Unicode()
    n_way = Int(5)
    k_shot = Int(1)
    n_query = Int(2)
    episode_seed = Int(0)

    @validate("family", "n_way", "k_shot", "n_query")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, families, *, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not families:
            raise ValueError("families must name at least one task family")
        self._families = dict(families)
        # The sliders stop where every family can still supply the episode (no invalid combination).
        max_way = min(10, *(family.n_classes for family in self._families.values()))
        style = {"description_width": "120px"}
        layout = widgets.Layout(width="330px")
        self.family_buttons = widgets.ToggleButtons(options=list(self._families), description="data",
                                                    style={"button_width": "auto"})
        self.way_slider = widgets.IntSlider(value=5, min=2, max=max_way, description="N (classes)", style=style,
                                            layout=layout)
        self.shot_slider = widgets.IntSlider(value=1, min=1, max=5, description="K (support/class)", style=style,
                                             layout=layout)
        self.query_slider = widgets.IntSlider(value=2, min=1, max=5, description="query/class", style=style,
                                              layout=layout)
        self.new_button = widgets.Button(description="New episode", icon="refresh")
        self.new_button.on_click(self._on_new_click)
        for name, control in [("family", self.family_buttons), ("n_way", self.way_slider),
                              ("k_shot", self.shot_slider), ("n_query", self.query_slider)]:
            self.link_control(control, name)
        self.episode_seed = random_state
        self.figure, self._canvas = interactive_figure(10.0, 4.6)
        support_ax, query_ax = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
        self._episode_artists = plotting.plot_episode_sets(support_ax, query_ax)
        self.children = [self.family_buttons,
                         widgets.HBox([widgets.VBox([self.way_slider, self.shot_slider, self.query_slider]),
                                       self.new_button]),
                         self._canvas, self.status_line]
        self.observe(self._on_setting_change, names=["family", "n_way", "k_shot", "n_query", "episode_seed"])
        self.refresh()
        plotting.freeze_layout(self.figure, [support_ax, query_ax])  # K and N reshape the mosaics: lay out once

    def refresh(self) -> None:
        """Sample the episode for the current settings and draw it."""
        family = self._families[self.family]
        episode = family.sample_episodes(1, self.n_way, self.k_shot, self.n_query, random_state=self.episode_seed)
        plotting.update_episode_sets(self._episode_artists, episode.x_support[0], episode.x_query[0],
                                     n_way=self.n_way, k_shot=self.k_shot, n_query=self.n_query)
        self._canvas.draw_idle()
        names = [family.classes[int(c)] for c in episode.classes[0]]
        described = ", ".join(f"{char} ({script})" for script, char in names)
        self.show_status(f"{self.n_way}-way {self.k_shot}-shot episode: {self.n_way * self.k_shot} support and "
                         f"{self.n_way * self.n_query} query images; labels 0-{self.n_way - 1} are {described}")

    def _on_new_click(self, _button):
        self.episode_seed += 1

    def _on_setting_change(self, change):
        with self.guard("drawing the episode"):
            self.refresh()
