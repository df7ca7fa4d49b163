"""Interactive matplotlib figures for long-lived dashboard kernels, without pyplot state."""
from __future__ import annotations

from typing import Tuple

from matplotlib.figure import Figure


def interactive_figure(width: float, height: float) -> Tuple[Figure, "object"]:
    """A ``Figure`` drawn by an ipympl canvas widget (no toolbar, header or footer).

    The figure is not registered with pyplot, so closing a dashboard frees it; the returned
    canvas is the widget to place in a layout. Redraw with ``canvas.draw_idle()``.
    """
    from ipympl.backend_nbagg import Canvas, FigureManager

    figure = Figure(figsize=(width, height), dpi=90, layout="constrained")
    canvas = Canvas(figure)
    FigureManager(canvas, 0)  # ipympl's canvas needs a manager to talk to the browser
    canvas.toolbar_visible = False
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.resizable = False
    canvas.capture_scroll = False
    return figure, canvas
