"""Dashboard of lesson 05: Meta-LSTM's learned gates, step by step, beside SGD and MAML."""
from __future__ import annotations


import ipywidgets as widgets
from traitlets import Int, validate

from .. import plotting
from .._memory import release_free_memory
from ..meta.metalstm import compare_on_episode, comparison_from_dict
from ._base import Dashboard
from ._canvas import BlitManager, interactive_figure

__all__ = ["MetaLSTMDashboard"]

class MetaLSTMDashboard(Dashboard):
    """Adapt Meta-LSTM to a new few-shot episode and watch its gates, losses and predictions per
    step, with SGD from the same start and MAML on the same episode.

    Parameters
    ----------
    models : dict of int to (MetaLSTM, MAMLClassifier)
        Per K (support images per class), the two meta-trained learners.
    tasks : GlyphTasks
        Where test episodes come from (the evaluation scripts).
    sgd_lr : dict of int to float
        Per K, the tuned fixed learning rate of the SGD comparison.
    random_state : int
        Seeds the first episode; "New episode" draws the next ones.
    opening : dict, optional
        The shipped comparison of an episode (``load_figure("metalstm_episode")``: its ``k_shot``,
        ``random_state``, ``n_query`` and ``comparison``): shown instead of adapting the three
        learners again whenever the dashboard is on that episode, which is where it opens (adapting
        them costs about 0.4 CPU-s, at every kernel start). ``tests/test_metalstm_opening.py``
        checks that it equals what :func:`~mtlviz.meta.metalstm.compare_on_episode` computes.

    Public state: ``k_shot``, ``step``, ``episode_seed``; ``status`` says what is on screen.
    """

    k_shot = Int(1)
    step = Int(0)
    episode_seed = Int(0)
    status_lines = 2  # a step's accuracies and gates; step 0's message fits on one

    @validate("k_shot", "step")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, models, tasks, *, sgd_lr, random_state: int = 0, opening=None, **kwargs):
        super().__init__(**kwargs)
        if not models:
            raise ValueError("models must hold at least one (MetaLSTM, MAMLClassifier) pair")
        self._models = dict(models)
        self._tasks = tasks
        self._sgd_lr = dict(sgd_lr)
        self._n_query = 5
        self._shipped = {}
        if opening is not None:
            try:
                key = (int(opening["k_shot"]), int(opening["random_state"]), int(opening["n_query"]))
                self._shipped[key] = comparison_from_dict(opening["comparison"])
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError("opening must be the shipped figure load_figure('metalstm_episode') "
                                 f"({error})") from error
        self.k_shot = min(self._models)
        self.episode_seed = random_state
        max_steps = max(m.n_inner_steps for m, _ in self._models.values())
        self.shot_buttons = widgets.ToggleButtons(options=[(f"{k}-shot", k) for k in sorted(self._models)],
                                                  value=self.k_shot, description="episode")
        self.step_slider = widgets.IntSlider(value=0, min=0, max=max_steps, description="step t",
                                             layout=widgets.Layout(width="420px"))
        self.new_button = widgets.Button(description="New episode", icon="refresh")
        self.new_button.on_click(self._on_new_click)
        self.link_control(self.shot_buttons, "k_shot")
        self.link_control(self.step_slider, "step")
        self._build_figure()
        self.children = [widgets.HBox([self.shot_buttons, self.new_button]), self.step_slider, self._canvas,
                         self.status_line]
        self.observe(self._on_episode_change, names=["k_shot", "episode_seed"])
        self.observe(self._on_step_change, names=["step"])
        self.refresh()

    def _on_new_click(self, _button):
        self.episode_seed += 1

    def _on_episode_change(self, _change):
        try:
            with self.guard("adapting to the new episode"):
                self.refresh()
        finally:
            release_free_memory()  # three learners adapted to a new episode

    def _on_step_change(self, _change):
        with self.guard("drawing the step"):
            self._draw_step()

    def _build_figure(self):
        self.figure, self._canvas = interactive_figure(11.5, 6.4)
        grid = self.figure.subplot_mosaic([["input", "forget", "support"], ["loss", "accuracy", "query"]],
                                          width_ratios=[1.15, 1.15, 0.8])
        self._artists = plotting.plot_metalstm_steps(grid)
        # A step move changes only the markers and the query panel: blit them over a cached
        # background instead of redrawing six panels (a full draw is most of a move's time; issue 19).
        # Its legends avoid the curves, fixed within an episode: pinned at each episode's full draw.
        self._blitter = BlitManager(self._canvas, [], pin_best_legends=True)

    def refresh(self) -> None:
        """Draw a new episode for the current K and adapt the three learners to it."""
        meta_lstm, maml = self._models[self.k_shot]
        episode = self._tasks.sample_episodes(1, meta_lstm.n_way, self.k_shot, self._n_query,
                                              random_state=self.episode_seed)
        self._episode = episode
        shipped = self._shipped.get((self.k_shot, self.episode_seed, self._n_query))
        if (shipped is not None and shipped.sgd_lr == self._sgd_lr[self.k_shot]
                and shipped.maml_lr == float(maml.inner_lr)
                and len(shipped.meta_lstm.input_gate) == meta_lstm.n_inner_steps):
            self._comparison = shipped  # the same numbers, without adapting the learners at start
        else:
            self._comparison = compare_on_episode(meta_lstm, maml, self._sgd_lr[self.k_shot],
                                                  *(t[0] for t in episode.data))
        self.step_slider.max = meta_lstm.n_inner_steps
        self.step = min(self.step, meta_lstm.n_inner_steps)
        self._draw_curves()
        self._draw_step()

    def _draw_curves(self):
        plotting.update_metalstm_episode(self._artists, self._comparison, n_classes=self._episode.classes.shape[1],
                                         x_support=self._episode.x_support[0], k_shot=self.k_shot)
        axes = self._artists["axes"]
        legends = [axes[k].get_legend() for k in ("input", "forget", "loss", "accuracy")]  # drawn over the markers
        self._blitter.replace_artists([*self._artists["markers"], *(legend for legend in legends if legend is not None),
                                       self._artists["query"], axes["query"].title])

    def _draw_step(self):
        c, t = self._comparison, self.step
        correct = c.meta_lstm.scores.query_predictions[t] == self._episode.y_query[0].numpy()
        plotting.update_metalstm_step(self._artists, t, x_query=self._episode.x_query[0].numpy(), correct=correct,
                                      n_classes=self._episode.classes.shape[1], n_query=self._n_query)
        self._blitter.update()  # a full draw after a new episode, a blit of the step's artists otherwise
        trace = c.meta_lstm
        gate = ("before the first update" if t == 0 else
                f"mean input gate {trace.input_gate[t - 1].mean():.3g}, forget gate {trace.forget_gate[t - 1].mean():.4f}")
        self.show_status(f"{self.k_shot}-shot, step {t}: query accuracy Meta-LSTM "
                         f"{trace.scores.query_accuracy[t]:.0%}, SGD (α = {c.sgd_lr:g}) {c.sgd.query_accuracy[t]:.0%}, "
                         f"MAML (α = {c.maml_lr:g}) {c.maml.query_accuracy[t]:.0%}; {gate}"
                         + ("; this episode was adapted ahead of time and ships with mtlviz"
                            if any(c is shipped for shipped in self._shipped.values()) else ""))
