"""Dashboard of lesson 08: the student solves a 5-way 1-shot task, then sees how the models did."""
from __future__ import annotations

import html
import io
from typing import Dict, List, Optional

import ipywidgets as widgets
import numpy as np
from traitlets import Bool, Int

from ..meta.own_task import OWN_TASK_QUERIES, OWN_TASK_WAY, check_answers, model_answers, own_task
from ._base import Dashboard

__all__ = ["OwnTaskDashboard", "glyph_png", "CLASS_LETTERS"]

CLASS_LETTERS = "ABCDEFGHIJ"
#: Pixels per image side on screen (the 20-pixel glyphs, enlarged without smoothing).
IMAGE_PIXELS = 84


def glyph_png(image, pixels: int = IMAGE_PIXELS) -> bytes:
    """One ``(1, S, S)`` image in [0, 1] (1 = ink) as a PNG of dark ink on white, ``pixels`` wide."""
    from PIL import Image

    grey = (255 * (1.0 - np.clip(np.asarray(image, dtype=float)[0], 0.0, 1.0))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).resize((pixels, pixels), Image.NEAREST).save(buffer, format="png")
    return buffer.getvalue()


class OwnTaskDashboard(Dashboard):
    """A 5-way 1-shot task of characters no model has seen: five support images labelled A-E,
    ten query images in a shuffled order. The student gives each query image a class; "Check my
    answers" stays disabled until every one is answered. Then the correct classes are shown, and
    the student's score beside each model's on the same images. The task is fixed by its seed.

    Parameters
    ----------
    models : dict of str to model
        Named models to compare with (a MAMLClassifier, or anything with ``predict(x_support,
        y_support, x_query)``); asked only when the student submits.
    tasks : episode family
        Where the tasks come from (the evaluation glyphs).
    random_state : int
        The first task's seed; "New task" takes the next one.

    Public state: ``task_seed``, ``submitted``; ``answers`` (the classes chosen so far, None where
    not answered), ``results`` (after submitting: ``{name: number right}``, "you" first).
    """

    task_seed = Int(0)
    submitted = Bool(False)

    def __init__(self, models: Dict[str, object], tasks, *, random_state: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not models:
            raise ValueError("models must name at least one model to compare with")
        self._models, self._tasks = dict(models), tasks
        self.task = None
        self.results: Optional[Dict[str, int]] = None
        options = [("?", None)] + [(CLASS_LETTERS[k], k) for k in range(OWN_TASK_WAY)]
        cell = widgets.Layout(width=f"{IMAGE_PIXELS + 16}px", align_items="center")
        self._support_images = [widgets.Image(format="png", layout=widgets.Layout(width=f"{IMAGE_PIXELS}px"))
                                for _ in range(OWN_TASK_WAY)]
        self._query_images = [widgets.Image(format="png", layout=widgets.Layout(width=f"{IMAGE_PIXELS}px"))
                              for _ in range(OWN_TASK_WAY * OWN_TASK_QUERIES)]
        self.choosers = [widgets.Dropdown(options=options, index=0, layout=widgets.Layout(width="64px"))
                         for _ in self._query_images]
        self._verdicts = [widgets.HTML(layout=widgets.Layout(min_height="1.4em")) for _ in self._query_images]
        for chooser in self.choosers:
            chooser.observe(self._on_answer_change, names="value")
        support_row = widgets.HBox([widgets.VBox([image, widgets.HTML(f"<b>{CLASS_LETTERS[k]}</b>")], layout=cell)
                                    for k, image in enumerate(self._support_images)])
        query_cells = [widgets.VBox([widgets.HTML(f"query {i + 1}"), image, chooser, verdict], layout=cell)
                       for i, (image, chooser, verdict) in enumerate(zip(self._query_images, self.choosers,
                                                                         self._verdicts))]
        half = len(query_cells) // 2
        self.submit_button = widgets.Button(description="Check my answers", icon="check", disabled=True,
                                            button_style="primary", layout=widgets.Layout(width="auto"))
        self.submit_button.on_click(self._on_submit_click)
        self.new_button = widgets.Button(description="New task", icon="refresh", layout=widgets.Layout(width="auto"))
        self.new_button.on_click(self._on_new_click)
        self.scoreboard = widgets.HTML()
        self.children = [widgets.HTML("<b>Support set</b>: one drawing of each of five new characters"), support_row,
                         widgets.HTML("<b>Query set</b>: which character is each drawing? Pick A-E under every image"),
                         widgets.HBox(query_cells[:half]), widgets.HBox(query_cells[half:]),
                         widgets.HBox([self.submit_button, self.new_button]), self.scoreboard, self.status_line]
        self.task_seed = random_state
        self.observe(self._on_seed_change, names="task_seed")
        self.load_task()

    @property
    def answers(self) -> List[Optional[int]]:
        return [chooser.value for chooser in self.choosers]

    def load_task(self) -> None:
        """Show the task of ``task_seed`` with every answer cleared."""
        self.task = own_task(self._tasks, self.task_seed)
        for image, x in zip(self._support_images, self.task.x_support):
            image.value = glyph_png(x)
        for image, x in zip(self._query_images, self.task.x_query):
            image.value = glyph_png(x)
        self.results = None
        self.submitted = False
        for chooser, verdict in zip(self.choosers, self._verdicts):
            chooser.disabled = False
            chooser.index = 0  # "?": not answered (value None)
            verdict.value = ""
        self.scoreboard.value = ""
        self._on_answer_change(None)

    def _on_answer_change(self, change) -> None:
        missing = sum(answer is None for answer in self.answers)
        self.submit_button.disabled = self.submitted or missing > 0
        if self.submitted:
            return
        if missing:
            self.show_status(f"task {self.task_seed}: {missing} of {len(self.answers)} query images still to answer")
        else:
            self.show_status(f"task {self.task_seed}: every query image answered; check your answers when ready")

    def submit(self) -> Dict[str, int]:
        """Score the student's answers and the models' on the same task (``ValueError`` while
        an answer is missing); returns :attr:`results`."""
        truth = self.task.y_query
        mine = check_answers(self.answers, self.task)
        predictions = {"you": mine, **model_answers(self._models, self.task)}
        self.results = {name: int((labels == truth).sum()) for name, labels in predictions.items()}
        self.submitted = True
        for chooser, verdict, answer, label in zip(self.choosers, self._verdicts, mine.tolist(), truth.tolist()):
            chooser.disabled = True
            verdict.value = ("<span style='color:#2ca02c'>✓ right</span>" if answer == label else
                             f"<span style='color:#d62728'>✗ it is {CLASS_LETTERS[label]}</span>")
        self.submit_button.disabled = True
        n = len(truth)
        rows = "".join(
            f"<tr><td style='padding:2px 12px'>{html.escape(name)}</td><td style='padding:2px 12px'>{right} / {n}</td>"
            f"<td style='padding:2px 12px'>{' '.join(CLASS_LETTERS[k] for k in predictions[name].tolist())}</td></tr>"
            for name, right in self.results.items())
        self.scoreboard.value = ("<table><tr><th style='text-align:left;padding:2px 12px'>who</th>"
                                 "<th style='text-align:left;padding:2px 12px'>right</th>"
                                 "<th style='text-align:left;padding:2px 12px'>answers, query 1-10</th></tr>"
                                 f"{rows}<tr><td style='padding:2px 12px'><i>correct</i></td><td></td>"
                                 f"<td style='padding:2px 12px'><i>{' '.join(CLASS_LETTERS[k] for k in truth.tolist())}"
                                 "</i></td></tr></table>")
        best = max(score for name, score in self.results.items() if name != "you")
        self.show_status(f"task {self.task_seed}: you {self.results['you']} of {n} right, the best model {best} of {n}; "
                         "'New task' for another")
        return self.results

    def _on_submit_click(self, _button):
        with self.guard("checking the answers"):
            self.submit()

    def _on_new_click(self, _button):
        self.task_seed += 1

    def _on_seed_change(self, change):
        with self.guard("drawing the task"):
            self.load_task()
