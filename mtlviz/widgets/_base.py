"""The dashboard base: one status line, one way to show a problem, one guard around controls.

Every dashboard of the course derives from :class:`Dashboard`. It owns the line under the
figures (``status``, with ``status_kind`` "info", "warning" or "error") and draws it in the page's
theme colours, so the line stays readable on a light page, on JupyterLab's dark theme and on the
projector theme of ``python -m mtlviz.serve --theme presenter``. A control's action runs inside
:meth:`Dashboard.guard`: an expected failure (a value out of range, a diverging adaptation, a
missing weights file) becomes a one-line message there instead of a traceback.

A dashboard's public state (``inner_lr``, ``k_shot``, ...) is linked to its controls with
:meth:`Dashboard.link_control`; setting it from code to a value the control cannot show (outside
the slider's range, not among the buttons' options) is refused with a one-line status naming the
parameter and its allowed values, and the state keeps its value, instead of leaving the figure
computed for one value and the slider showing another. Each dashboard lists its linked traits in one ``@validate`` method calling
:meth:`Dashboard.value_in_control`.
"""
from __future__ import annotations

import html
import logging
from contextlib import contextmanager
from typing import Iterator

import ipywidgets as widgets
from traitlets import Enum, Unicode

__all__ = ["Dashboard", "STATUS_KINDS", "STATUS_STYLES"]

LOG = logging.getLogger("mtlviz.widgets")
STATUS_KINDS = ("info", "warning", "error")
#: Colours of the status line: JupyterLab's theme variables (defined by JupyterLab and by Voila's
#: lab template, for the light and the dark theme alike), with fallbacks for a page without them.
#: The browser test checks a contrast of at least 4.5:1 against the page in both served themes.
STATUS_STYLES = {
    "info": "color: var(--jp-ui-font-color1, #212121)",
    "warning": "color: var(--jp-warn-color0, #a05c00); font-weight: 600",
    "error": "color: var(--jp-error-color0, #b71c1c); font-weight: 600",
}
#: What a control's action may raise when a student asks for something it cannot do: bad values
#: (ValueError, with the parameter and its range), numerical trouble and unreadable weights
#: files (RuntimeError; WeightsError is one).
EXPECTED_ERRORS = (ValueError, RuntimeError)


class Dashboard(widgets.VBox):
    """Base of the lesson dashboards (a ``VBox``; subclasses set ``children``, placing
    ``self.status_line`` where the message belongs).

    ``status`` is the one-line message; ``status_kind`` says how it is drawn: "info" (a result),
    "warning" (the result needs care, e.g. an adaptation diverged) or "error" (the action failed).
    """

    status = Unicode("")
    status_kind = Enum(STATUS_KINDS, default_value="info")
    #: Lines of text the status line keeps room for, at the course's width (a 1400-pixel window):
    #: a dashboard whose messages wrap onto two lines sets 2. A status line that changed height
    #: with a move moved everything below it, and the browser laid out, painted and rasterised
    #: the rest of the page again (lesson 05's first step: 72-97 ms of Chromium's CPU, 52-62 ms
    #: with room kept; RESULTS.md, "Classroom load"). A served page also keeps each status line at
    #: the tallest it has been (templates/mtlviz/status-lines.js).
    status_lines = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(self.status_lines, int) or not 1 <= self.status_lines <= 4:
            raise ValueError(f"status_lines must be an int in [1, 4]; got {self.status_lines!r}")
        height = "1.6em" if self.status_lines == 1 else f"calc({self.status_lines} * var(--jp-widgets-inline-height, 28px))"
        self.status_line = widgets.HTML(layout=widgets.Layout(min_height=height))
        self.status_line.add_class("mtlviz-status")
        self.add_class("mtlviz-dashboard")
        self.observe(self._on_status_change, names=["status", "status_kind"])

    def link_control(self, control: widgets.Widget, name: str) -> None:
        """Link ``control.value`` and this dashboard's trait ``name`` both ways (the control shows
        the trait; moving it sets the trait), and remember the control so that
        :meth:`value_in_control` can refuse values it cannot show."""
        self._controls = {**getattr(self, "_controls", {}), name: control}
        widgets.link((control, "value"), (self, name))

    def value_in_control(self, proposal):
        """For a subclass's ``@validate(...)``: the proposed value if the control linked to that
        trait can show it. Otherwise the value is refused without a traceback: the trait keeps its
        value (so trait, control and figure still agree) and the status line names the parameter
        and what it allows; the next accepted value puts the status back (or redraws)."""
        name, value = proposal["trait"].name, proposal["value"]
        control = getattr(self, "_controls", {}).get(name)
        if control is None:  # not linked yet (during construction)
            return value
        problem = _outside_control(control, name, value)
        if problem is None:
            refused = getattr(self, "_status_before_refusal", None)
            if refused is not None:  # a good value after a refused one: the figure shows the kept value
                self._status_before_refusal = None
                self.show_status(*refused)
            return value
        current = getattr(self, name)
        if getattr(self, "_status_before_refusal", None) is None:
            self._status_before_refusal = (self.status, self.status_kind)
        self.show_status(f"{problem}; {name} stays {current!r}", "error")
        return current

    def show_status(self, message: str, kind: str = "info") -> None:
        """Put ``message`` on the status line, drawn as ``kind`` (one of :data:`STATUS_KINDS`)."""
        if kind not in STATUS_KINDS:
            raise ValueError(f"kind must be one of {list(STATUS_KINDS)}; got {kind!r}")
        with self.hold_trait_notifications():
            self.status_kind = kind
            self.status = message
        self._on_status_change(None)  # also redraw when only the kind changed back and forth

    def _on_status_change(self, change) -> None:
        self.status_line.value = (f'<span class="mtlviz-status-{self.status_kind}" '
                                  f'style="{STATUS_STYLES[self.status_kind]}">{html.escape(self.status)}</span>')

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Run a control's ``action``; if it fails, say so on the status line and carry on.

        Expected failures (:data:`EXPECTED_ERRORS`) show their own message, which names the
        parameter and its range; anything else is a bug in mtlviz: the student still sees one
        line, and the traceback goes to the kernel's log for the teacher or maintainer.
        """
        try:
            yield
        except EXPECTED_ERRORS as error:
            self.show_status(f"{action}: {_first_line(error)}", "error")
        except Exception as error:  # noqa: BLE001 - a student must never see a traceback
            LOG.exception("mtlviz dashboard: %s failed", action)
            self.show_status(f"{action} failed ({type(error).__name__}: {_first_line(error)}); "
                             "the rest of the dashboard still works", "error")


def _outside_control(control, name: str, value):
    """Why ``control`` cannot show ``value`` (one line naming ``name`` and what it allows), or None."""
    if hasattr(control, "options"):  # buttons, dropdowns: options are values or (label, value)
        allowed = [option[1] if isinstance(option, tuple) else option for option in control.options]
        if value not in allowed:
            return f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
    elif hasattr(control, "min") and hasattr(control, "max"):
        low, high = control.min, control.max
        if hasattr(control, "base"):  # a log slider: min and max are exponents
            low, high = control.base ** low, control.base ** high
        try:
            inside = low <= value <= high
        except TypeError:
            inside = False
        if not inside:
            return (f"{name} must be in [{low:g}, {high:g}] (the range of the {control.description or name!r} "
                    f"control); got {value!r}")
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
