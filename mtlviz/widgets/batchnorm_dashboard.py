"""Dashboard of lesson 01's caution: how much of a few-shot score comes from batch norm seeing
the whole query set (a transductive evaluation)."""
from __future__ import annotations

import ipywidgets as widgets
from traitlets import Int

from .. import plotting
from ..evaluation import QUERY_BATCH_SIZES, accuracy_by_query_batch
from ._base import Dashboard
from ._canvas import interactive_figure

__all__ = ["QueryBatchDashboard"]


class QueryBatchDashboard(Dashboard):
    """One episode of new characters, adapted once by a shipped glyph estimator, its query
    images then predicted ``b`` at a time for every ``b`` of :data:`QUERY_BATCH_SIZES`.

    Parameters
    ----------
    estimator : a fitted glyph estimator (MAMLClassifier, MetaLSTM)
        What adapts to each episode's support set.
    tasks : GlyphTasks
        Where the episodes come from (the evaluation scripts in the lesson).
    shipped : dict
        ``{normalisation: mean accuracy}`` over many episodes, drawn for comparison.
    n_query : int
        Query images per class (5 gives 25 query images in a 5-way episode).
    random_state : int
        Seeds the first episode; "New episode" draws the next ones.

    Public state: ``episode_seed``; ``result`` holds the episode's accuracies; ``status`` says them.
    """

    episode_seed = Int(0)

    def __init__(self, estimator, tasks, *, shipped, n_query: int = 5, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        self._estimator, self._tasks, self._n_query = estimator, tasks, n_query
        self.result = None
        self.new_button = widgets.Button(description="New episode", icon="refresh")
        self.new_button.on_click(self._on_new_click)
        self.figure, self._canvas = interactive_figure(8.0, 4.0)
        ax = self.figure.subplots()
        self._artists = plotting.plot_query_batch(
            ax, sizes=QUERY_BATCH_SIZES, shipped=shipped,
            title=f"{estimator.n_way}-way {estimator.k_shot}-shot, {estimator.n_way * n_query} query images")
        self.children = [self.new_button, self._canvas, self.status_line]
        self.episode_seed = random_state
        self.observe(self._on_seed_change, names=["episode_seed"])
        self.refresh()

    def refresh(self) -> None:
        """Adapt to the current episode and draw its accuracy against b."""
        estimator = self._estimator
        episode = self._tasks.sample_episodes(1, estimator.n_way, estimator.k_shot, self._n_query,
                                              random_state=self.episode_seed)
        xs, ys, xq, yq = (t[0] for t in episode.data)
        params = estimator.adapt(xs, ys)
        self.result = accuracy_by_query_batch(estimator.model_, params, xs, xq, yq, random_state=self.episode_seed)
        plotting.update_query_batch(self._artists, self.result["sizes"], self.result["accuracy"],
                                    self.result["support set"])
        self._canvas.draw_idle()
        together, alone = self.result["accuracy"][-1], self.result["accuracy"][0]
        self.show_status(f"episode {self.episode_seed}: all {len(yq)} query images normalised together "
                         f"{together:.0%}, each image alone {alone:.0%}, with the support set's statistics "
                         f"{self.result['support set']:.0%}")

    def _on_new_click(self, _button):
        self.episode_seed += 1

    def _on_seed_change(self, change):
        with self.guard("adapting to the episode"):
            self.refresh()
