"""Interactive matplotlib figures for long-lived dashboard kernels, without pyplot state."""
from __future__ import annotations

from io import BytesIO
from typing import Tuple

import numpy as np
from matplotlib.figure import Figure


def _fast_canvas_class():
    """ipympl's canvas widget, sending its frames as PNGs compressed with zlib level 1, and
    drawing a figure once, not twice, when a browser connects.

    Encoding each frame is most of a slider move's cost: matplotlib's webagg core saves it at
    zlib's default level 6, about 35 ms for the lesson figure; level 1 takes a quarter of that
    for frames a little larger (``get_diff_image``, otherwise matplotlib's, 3.11).

    When a page connects, the browser sends ``resize`` and then ``refresh``; each makes the
    kernel ask for a ``draw``, so every figure was drawn in full twice, the second time onto
    the same pixels: about 0.45 CPU-s of lesson 03's 5.7 per student (profiled in a Voila
    session, RESULTS.md). A ``draw`` asked for only by ``refresh`` (a browser that needs the
    whole frame again) now re-sends the frame already drawn, when the figure was drawn at its
    current size and resolution and nothing has asked for a redraw since.
    """
    from ipympl.backend_nbagg import Canvas
    from PIL import Image

    class FastPngCanvas(Canvas):
        _drawn_at = None  # (width, height, dpi) of the last full draw
        _refreshing = False
        _needs_draw = True  # something asked for a redraw since the last full draw

        def draw_idle(self):
            if not self._refreshing:
                self._needs_draw = True
            super().draw_idle()

        def handle_refresh(self, event):
            self._refreshing = True  # its draw_idle only wants the whole frame sent again
            try:
                super().handle_refresh(event)
            finally:
                self._refreshing = False

        def _size_now(self):
            return (*self.figure.bbox.size, self.figure.dpi)

        def handle_draw(self, event):
            if not self._needs_draw and self._drawn_at == self._size_now():
                self._png_is_old = True  # refresh set _force_full: the whole current frame goes
                self.manager.refresh_all()
                return
            self.draw()

        def draw(self):
            self._needs_draw = False
            try:
                super().draw()
            finally:
                self._drawn_at = self._size_now()

        def get_diff_image(self):
            if not self._png_is_old:
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            buff = pixels.view(np.uint32).squeeze(2)  # one uint32 per pixel: compare whole pixels
            if self._force_full or buff.shape != self._last_buff.shape or (pixels[:, :, 3] != 255).any():
                self.set_image_mode("full")
                output = buff
            else:
                self.set_image_mode("diff")
                output = np.where(buff != self._last_buff, buff, 0)
            self._last_buff = buff.copy()
            self._force_full = False
            self._png_is_old = False
            data = output.view(dtype=np.uint8).reshape((*output.shape, 4))
            with BytesIO() as png:
                Image.fromarray(data).save(png, format="png", compress_level=1)
                return png.getvalue()

    return FastPngCanvas


def interactive_figure(width: float, height: float) -> Tuple[Figure, "object"]:
    """A ``Figure`` drawn by an ipympl canvas widget (no toolbar, header or footer).

    The figure is not registered with pyplot, so closing a dashboard frees it; the returned
    canvas is the widget to place in a layout. Redraw with ``canvas.draw_idle()``.
    """
    from ipympl.backend_nbagg import FigureManager

    figure = Figure(figsize=(width, height), dpi=90, layout="constrained")
    canvas = _fast_canvas_class()(figure)
    FigureManager(canvas, 0)  # ipympl's canvas needs a manager to talk to the browser
    canvas.toolbar_visible = False
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.resizable = False
    canvas.capture_scroll = False
    return figure, canvas


class BlitManager:
    """Redraw only the artists that change, over a cached background (matplotlib's blitting).

    A full draw of the lesson figure (axes, ticks, text) costs a few hundred milliseconds on a
    small CPU, most of it text layout; a slider move only changes lines. The changing artists are
    marked ``animated``; the background is cached on every full draw (first display, resize) and
    :meth:`update` restores it, draws the animated artists and blits. ipympl then sends only the
    changed pixels to the browser.
    """

    def __init__(self, canvas, artists):
        self.canvas = canvas
        self.artists = list(artists)
        for artist in self.artists:
            artist.set_animated(True)
        self._background = None
        canvas.mpl_connect("draw_event", self._on_draw)

    def _on_draw(self, event):
        self._background = self.canvas.copy_from_bbox(self.canvas.figure.bbox)
        self._draw_artists()

    def _draw_artists(self):
        figure = self.canvas.figure
        for artist in self.artists:
            figure.draw_artist(artist)

    def replace_artists(self, artists) -> None:
        """Blit ``artists`` from now on instead of the current ones (a dashboard that makes new
        artists when its content changes, such as lesson 05's step markers per episode); the next
        :meth:`update` draws the whole figure, caching a new background."""
        for artist in self.artists:
            artist.set_animated(False)
        self.artists = list(artists)
        for artist in self.artists:
            artist.set_animated(True)
        self._background = None

    def update(self) -> None:
        """Show the artists' current state in the browser."""
        if self._background is None:
            self.canvas.draw_idle()  # first draw: caches the background through _on_draw
            return
        self.canvas.restore_region(self._background)
        self._draw_artists()
        self.canvas.blit(self.canvas.figure.bbox)
