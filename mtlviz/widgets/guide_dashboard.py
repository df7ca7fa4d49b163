"""Dashboard of lesson 00: which method fits my situation, and where the course shows it."""
from __future__ import annotations

import html
from typing import Iterable

import ipywidgets as widgets
from traitlets import Float, Int, validate

from ..guide import LESSONS, SHIFT_SCALE_TEXT, recommend
from ._base import STATUS_STYLES, Dashboard

__all__ = ["CourseGuide", "course_map_html"]


def course_map_html(available: Iterable[str]) -> str:
    """The course as an HTML list: available lessons link to themselves, the others say "coming"."""
    available = set(available)
    items = []
    for lesson in LESSONS:
        number, _ = lesson.stem.split("_", 1)
        title = html.escape(lesson.title)
        sections = ", ".join(f"§{s}" for s in lesson.seed_sections)
        if lesson.stem in available:
            head = f'<a href="{lesson.stem}.ipynb">{title}</a>'
        else:
            head = f"{title} <em>(coming)</em>"
        items.append(f"<li><b>{number}</b> · {head}: {html.escape(lesson.summary)} <small>(seed {sections})</small></li>")
    return '<ul class="mtlviz-course-map">' + "".join(items) + "</ul>"


class CourseGuide(Dashboard):
    """Three sliders describe the learner's situation; the guide answers with a method and a lesson.

    Parameters
    ----------
    available : iterable of str
        Stems of the lessons present (to link them); the others are marked "coming".

    Public state: ``labelled_per_class``, ``related_tasks``, ``domain_shift``; ``status`` holds
    the answer as plain text.
    """

    labelled_per_class = Int(5)
    related_tasks = Int(100)
    domain_shift = Float(0.1)

    @validate("labelled_per_class", "related_tasks", "domain_shift")
    def _check_control_value(self, proposal):
        return self.value_in_control(proposal)  # a value set from code must be one its control can show

    def __init__(self, available: Iterable[str] = (), **kwargs):
        super().__init__(**kwargs)
        self._available = set(available)
        style = {"description_width": "230px"}
        layout = widgets.Layout(width="560px")
        self.labelled_slider = widgets.IntSlider(value=self.labelled_per_class, min=0, max=1000,
                                                 description="labelled target examples per class", style=style,
                                                 layout=layout)
        self.tasks_slider = widgets.IntSlider(value=self.related_tasks, min=0, max=1000,
                                              description="related tasks with labels", style=style, layout=layout)
        self.shift_slider = widgets.FloatSlider(value=self.domain_shift, min=0.0, max=1.0, step=0.05,
                                                description="domain difference (0 same, 1 very)",
                                                style=style, layout=layout)
        for name, slider in [("labelled_per_class", self.labelled_slider), ("related_tasks", self.tasks_slider),
                             ("domain_shift", self.shift_slider)]:
            self.link_control(slider, name)
        self._scale = widgets.HTML(f"<small>{html.escape(SHIFT_SCALE_TEXT)}</small>")
        self._answer_html = ""
        self.children = [self.labelled_slider, self.tasks_slider, self.shift_slider, self._scale, self.status_line]
        self.observe(self._on_setting_change, names=["labelled_per_class", "related_tasks", "domain_shift"])
        self.refresh()

    def refresh(self) -> None:
        advice = recommend(self.labelled_per_class, self.related_tasks, self.domain_shift)
        number = advice.lesson.split("_", 1)[0]
        if advice.lesson in self._available:
            where = f'<a href="{advice.lesson}.ipynb">lesson {number}</a> shows it working'
        else:
            where = f"lesson {number} (coming) will show it"
        self._answer_html = (f'<div style="font-size:16px"><b>Try {html.escape(advice.method)}.</b> '
                             f"{html.escape(advice.reason)} <br>→ {where}.</div>")
        self.show_status(f"Try {advice.method}. {advice.reason}")

    def _on_setting_change(self, change):
        with self.guard("choosing a method"):
            self.refresh()

    def _on_status_change(self, change) -> None:
        """The status line shows the answer richly (bold method, a link to its lesson), in the
        theme's text colour; a problem is drawn as the base draws it."""
        if self.status_kind == "info" and self._answer_html:
            self.status_line.value = f'<div style="{STATUS_STYLES["info"]}">{self._answer_html}</div>'
        else:
            super()._on_status_change(change)
