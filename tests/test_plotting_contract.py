"""Dashboards draw through ``mtlviz.plotting`` (issue 18): ``plot_x(ax, ...) -> artists`` sets up the
axes and empty artists, ``update_x(artists, ...)`` sets their data; a widget module only wires controls,
lays them out and calls mtlviz's maths and these pairs.

If this test fails, a widget module calls a matplotlib Axes drawing method itself (``ax.plot``,
``ax.set_title``, ...): its figure can no longer be drawn, tested or reused without the widget, and the
next dashboard copies the drawing code again. Move the drawing into a plot_x/update_x pair in
mtlviz/plotting.py.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

WIDGETS = Path(__file__).resolve().parents[1] / "mtlviz" / "widgets"

#: Axes (and Figure) methods that draw or lay out a figure.
DRAWING = {
    "plot", "scatter", "imshow", "bar", "barh", "hist", "text", "annotate", "arrow", "quiver", "contour", "contourf",
    "pcolormesh", "fill_between", "fill", "axhline", "axvline", "axhspan", "axvspan", "errorbar", "step", "add_patch",
    "add_artist", "add_collection", "legend", "grid", "axis", "set_title", "set_xlabel", "set_ylabel", "set_xlim",
    "set_ylim", "set_xticks", "set_yticks", "set_xticklabels", "set_yticklabels", "set_xscale", "set_yscale",
    "minorticks_off", "tick_params", "set_aspect", "suptitle", "set_facecolor", "invert_yaxis", "cla", "clear",
}

#: Module -> why it may still draw directly. Only _canvas.py (the figure and its canvas) belongs here
#: for good; the others are dashboards of lessons 08-10 written at the same time as this contract,
#: to be moved in a follow-up (issue 18).
ALLOWED = {
    "_canvas.py": "makes the Figure and its canvas widget; draws nothing itself",
}


def _drawing_calls(path: Path):
    """(line, method) of every ``<something>.<drawing method>(...)`` call in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DRAWING]


def _modules():
    return sorted(p.name for p in WIDGETS.glob("*.py"))


@pytest.mark.parametrize("name", [n for n in _modules() if n not in ALLOWED])
def test_widget_module_draws_only_through_plotting(name):
    calls = _drawing_calls(WIDGETS / name)
    assert not calls, f"{name} draws directly (line, method): {calls}; move it into mtlviz/plotting.py"


def test_the_allowlist_is_not_stale():
    """An allowed module that no longer draws, or no longer exists, must leave the list (so that a
    dashboard moved to plotting cannot quietly start drawing again)."""
    modules = set(_modules())
    stale = [name for name in ALLOWED if name != "_canvas.py" and (name not in modules
                                                                      or not _drawing_calls(WIDGETS / name))]
    assert not stale, f"remove from ALLOWED: {stale}"


def test_the_check_sees_a_direct_drawing_call(tmp_path):
    """The detector itself: a module that calls ax.plot and ax.set_title is caught; one that calls
    plotting.update_x and sets artist data is not."""
    drawing = tmp_path / "drawing.py"
    drawing.write_text("def f(ax):\n    ax.plot([1], [2])\n    ax.set_title('t')\n")
    clean = tmp_path / "clean.py"
    clean.write_text("def f(plotting, artists, line):\n    plotting.update_x(artists, 1)\n    line.set_data([1], [2])\n")
    assert [m for _, m in _drawing_calls(drawing)] == ["plot", "set_title"]
    assert _drawing_calls(clean) == []
