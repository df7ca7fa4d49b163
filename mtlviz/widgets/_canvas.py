"""Interactive matplotlib figures for long-lived dashboard kernels, without pyplot state."""
from __future__ import annotations

import struct
import weakref
import zlib
from collections import OrderedDict
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
from matplotlib.figure import Figure


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(pixels: np.ndarray, scanlines: Optional[np.ndarray] = None) -> bytes:
    """An (height, width, 4) uint8 RGBA array as a PNG: every row filtered by "Up" (its
    difference from the row above, computed by numpy), then zlib level 1.

    Pillow at level 1 took 15-20 ms for a lesson-01 frame (900 x 414 pixels), most of it
    choosing a filter per row: 14 ms even with compression off. This takes 5-6 ms for a file
    within 10 % of Pillow's size; every browser decodes it (PNG's filter type 2, one IDAT).
    ``scanlines``, a uint8 array of shape (height, width * 4 + 1), is filled instead of a new one
    (a canvas encoding frame after frame reuses its own; see ``FastPngCanvas.get_diff_image``).
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        raise ValueError(f"pixels must be an RGBA array of shape (height, width, 4), got {pixels.shape}")
    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 4)
    if scanlines is None or scanlines.shape != (height, width * 4 + 1) or scanlines.dtype != np.uint8:
        scanlines = np.empty((height, width * 4 + 1), dtype=np.uint8)
    scanlines[:, 0] = 2  # filter type "Up"
    scanlines[:1, 1:] = rows[:1]
    np.subtract(rows[1:], rows[:-1], out=scanlines[1:, 1:])  # uint8: wraps modulo 256, as PNG's filter does
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(scanlines, 1)) + _png_chunk(b"IEND", b""))


def _fast_canvas_class():
    """ipympl's canvas widget, encoding its frames faster (:func:`encode_png`) and drawing a
    figure once, not twice, when a browser connects.

    Encoding each frame is most of a slider move's cost: matplotlib's webagg core saves it at
    zlib's default level 6, about 35 ms for the lesson figure (``get_diff_image``, otherwise
    matplotlib's, 3.11).

    When a page connects, the browser sends ``resize`` and then ``refresh``; each makes the
    kernel ask for a ``draw``, so every figure was drawn in full twice, the second time onto
    the same pixels: about 0.45 CPU-s of lesson 03's 5.7 per student (profiled in a Voila
    session, RESULTS.md). A ``draw`` asked for only by ``refresh`` (a browser that needs the
    whole frame again) now re-sends the frame already drawn, when the figure was drawn at its
    current size and resolution and nothing has asked for a redraw since.
    """
    from ipympl.backend_nbagg import Canvas

    class FastPngCanvas(Canvas):
        _drawn_at = None  # (width, height, dpi) of the last full draw
        _refreshing = False
        _needs_draw = True  # something asked for a redraw since the last full draw

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._frame_buffers = {}  # get_diff_image's arrays, by name
            _CANVASES.add(self)

        def drawn_as_it_is(self) -> bool:
            """Whether the last full draw shows the figure as it is now, at its current size and
            resolution: a browser connecting then gets that frame again, without a draw."""
            return not self._needs_draw and self._drawn_at == self._size_now()

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

        def handle_resize(self, event):
            # A browser reporting the size the figure has already (a page connecting to a figure
            # drawn before it, a pre-warmed pool's) needs the frame sent, not drawn again.
            asked = (int(event.get("width", 800)) * self.device_pixel_ratio,
                     int(event.get("height", 800)) * self.device_pixel_ratio)
            self._refreshing = asked == tuple(self.figure.bbox.size)
            try:
                super().handle_resize(event)
            finally:
                self._refreshing = False

        def _size_now(self):
            return (*self.figure.bbox.size, self.figure.dpi)

        def handle_draw(self, event):
            if self.drawn_as_it_is():
                # The whole current frame goes, even if a blit since the refresh (a student moving
                # as the page opens) already sent it whole: as a diff it would be empty, and
                # ipympl's own front end (JupyterLab's) would draw it in place of that frame,
                # which it drops if it is still loading (see templates/mtlviz/ipympl-frames.js).
                self._force_full = True
                self._png_is_old = True
                self.manager.refresh_all()
                return
            self.draw()

        def draw(self):
            self._needs_draw = False
            try:
                super().draw()
            finally:
                self._drawn_at = self._size_now()

        def draw_unsent(self):
            """Draw the figure in full into the canvas's pixels and send nothing: the frame goes
            to the next browser that asks for it (``handle_draw``'s shortcut). Sent with no
            browser attached, a frame would also be PNG-encoded into the widget's ``_data_url``
            (ipympl 0.10, for pages without a kernel), without the ``data:`` prefix a browser
            needs: a page that later connected asked the server for that text as a file."""
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self._needs_draw = False
            try:
                FigureCanvasAgg.draw(self)
            finally:
                self._drawn_at = self._size_now()
                self._png_is_old = True

        def get_diff_image(self):
            """The frame to send: the whole figure, or only the pixels changed since the last
            frame (the rest transparent). The arrays it needs are the canvas's own, reused from
            frame to frame: allocated afresh (about 10 MB a frame for lesson 05's figure) they
            were faulted in again at many moves, which with 30 students' kernels moving at once
            made a move's kernel CPU two to five times one kernel's alone (RESULTS.md,
            "Classroom load", 2026-12-04 night; see also ``mtlviz._memory.hold_heap_between_trims``).
            They are written once at the first, full frame (the page connecting), so that the
            student's first move does not fault them in: 30 kernels' first moves at once cost 87-101
            ms of kernel CPU each with the pages still to fault in, 29 ms without (late night)."""
            if not self._png_is_old:
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            buff = pixels.view(np.uint32).squeeze(2)  # one uint32 per pixel: compare whole pixels
            previous = self._frame_buffers.get("previous")
            if self._force_full or previous is None or previous.shape != buff.shape or pixels[:, :, 3].min() != 255:
                self.set_image_mode("full")
                output = buff
                if previous is None or previous.shape != buff.shape:
                    previous = np.empty_like(buff)
                    height, width = buff.shape
                    self._frame_buffers = {"previous": previous, "changed": np.empty(buff.shape, bool),
                                           "diff": np.empty_like(buff),
                                           "scanlines": np.empty((height, width * 4 + 1), np.uint8)}
                    for array in self._frame_buffers.values():
                        array.fill(0)  # fault their pages in now, not at the student's first move
            else:
                self.set_image_mode("diff")
                changed, output = self._frame_buffers["changed"], self._frame_buffers["diff"]
                np.not_equal(buff, previous, out=changed)
                np.multiply(buff, changed, out=output)  # the changed pixels, 0 (transparent) elsewhere
            png = encode_png(output.view(dtype=np.uint8).reshape((*output.shape, 4)),
                             self._frame_buffers["scanlines"])
            np.copyto(previous, buff)
            self._last_buff = previous  # ipympl's send_binary reads it while no browser is connected
            self._force_full = False
            self._png_is_old = False
            return png

    return FastPngCanvas


#: Every interactive figure's canvas made in this process and still alive.
_CANVASES: "weakref.WeakSet" = weakref.WeakSet()


def draw_figures_not_yet_drawn() -> int:
    """Draw, in full, every live interactive figure whose last full draw does not show it as it
    is now (a figure never drawn: a lesson run without a browser, as a pre-warmed pool's is).

    A browser that connects later then gets the frame already drawn (``handle_draw``'s shortcut)
    instead of the kernel drawing it then: lesson 03's two figures cost 0.3-0.5 CPU-s to draw
    first, which each student of a class arriving at pre-warmed dashboards waited for
    (``mtlviz.serve.kernel.draw_figures_when_idle``). Only at the browser's device pixel ratio
    of 1: a screen of ratio 2 asks for the figure at twice the resolution, which is drawn then.
    Returns how many figures it drew. A figure that fails to draw is left for the browser's own
    draw, which shows the error where a student sees one.
    """
    drawn = 0
    for canvas in list(_CANVASES):
        if canvas.drawn_as_it_is():
            continue
        try:
            canvas.draw_unsent()
        except Exception:  # noqa: BLE001  (the browser's own draw shows it)
            continue
        drawn += 1
    return drawn


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


def _image_key(image):
    """What decides an image's pixels (its data, by digest, and how it is mapped and placed), or
    None for an image with no data yet."""
    import hashlib

    array = image.get_array()
    if array is None:
        return None
    data = np.ascontiguousarray(np.ma.getdata(array))
    digest = hashlib.blake2b(data.tobytes(), digest_size=16)
    if np.ma.is_masked(array):
        digest.update(np.ascontiguousarray(np.ma.getmaskarray(array)).tobytes())
    norm = image.norm
    return ("image", digest.digest(), data.shape, data.dtype.str, tuple(image.get_extent()), image.get_visible(),
            image.get_alpha(), image.get_interpolation(), image.cmap.name, type(norm).__name__,
            getattr(norm, "vmin", None), getattr(norm, "vmax", None), tuple(image.axes.viewLim.bounds))


def _overlay_key(artist):
    """What decides a text's, legend's or image's pixels, for :class:`BlitManager`'s cache; None
    for an artist drawn afresh each time (lines, bands, and a legend placed at "best", whose place
    follows the data)."""
    from matplotlib.image import AxesImage
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    def text_key(text):
        box = text.get_bbox_patch()
        box = None if box is None else (box.get_visible(), tuple(box.get_facecolor()), tuple(box.get_edgecolor()))
        return (box, text.get_text(), str(text.get_color()), tuple(text.get_position()), text.get_rotation(),
                text.get_visible(), hash(text.get_fontproperties()), text.get_horizontalalignment(),
                text.get_verticalalignment(), text.get_alpha())

    if isinstance(artist, Text):
        return ("text", text_key(artist))
    if isinstance(artist, Legend) and artist._loc not in (0, "best"):
        return ("legend", artist.get_visible(), text_key(artist.get_title()),
                tuple(text_key(text) for text in artist.texts),
                tuple(handle.get_visible() for handle in artist.legend_handles))
    if isinstance(artist, AxesImage):
        return _image_key(artist)
    return None


def _pin_best_legend(artist, renderer) -> None:
    """A blitted legend at ``loc="best"`` is kept where "best" puts it now (as axes fractions).

    "best" searches for the emptiest place among the axes' data at every draw: 10-20 ms for a
    small legend, at every slider move, and the step marker it avoids moves with the slider, so
    the legend could jump about while a student steps. Pinned at a full draw (a new episode, a
    resize), it stays put and :class:`BlitManager` caches its pixels.
    """
    from matplotlib.legend import Legend

    if not isinstance(artist, Legend) or artist._loc not in (0, "best"):
        return
    box = artist._legend_box.get_bbox(renderer)  # what Legend.draw hands its _findoffset
    x, y = artist._find_best_position(box.width, box.height, renderer)
    anchor = artist.get_bbox_to_anchor()
    artist.set_loc(((x - anchor.x0) / anchor.width, (y - anchor.y0) / anchor.height))


@lru_cache(maxsize=None)
def _kept_layout_class():
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    from matplotlib.transforms import Bbox

    class KeptLayout(ConstrainedLayoutEngine):
        """matplotlib's constrained layout that keeps room for every state it has laid out at
        the figure's current size: each panel's box is the intersection of its box now and the
        boxes of the layouts before, so each side's margin is the widest any state needed.

        For :class:`BlitManager`'s whole panels, which are drawn without a layout: lesson 12's
        two panels need different margins on a linear and a log scale (the y tick labels of one
        are wider in each), so a layout made for either left the other's labels outside the
        figure or over the next panel, and every toggle between them was a full draw. A panel
        keeps its slot's place; it loses only the width or height of the widest labels.
        """

        _kept = None  # ((width, height, dpi), {axes: Bbox})

        def execute(self, fig):
            super().execute(fig)
            size = (fig.bbox.width, fig.bbox.height, fig.dpi)
            now = {ax: ax.get_position(original=True) for ax in fig.axes}
            if self._kept is not None and self._kept[0] == size and set(self._kept[1]) == set(now):
                for ax, box in now.items():
                    old = self._kept[1][ax]
                    kept = Bbox.from_extents(max(box.x0, old.x0), max(box.y0, old.y0),
                                             min(box.x1, old.x1), min(box.y1, old.y1))
                    if kept.width > 0 and kept.height > 0:
                        ax._set_position(kept)  # as the constrained layout places a panel
                        now[ax] = kept
            self._kept = (size, now)

    return KeptLayout


class BlitManager:
    """Redraw only the artists that change, over a cached background (matplotlib's blitting).

    A full draw of the lesson figure (axes, ticks, text) costs a few hundred milliseconds on a
    small CPU, most of it text layout; a slider move only changes lines. The changing artists are
    marked ``animated``; the background is cached on every full draw (first display, resize) and
    :meth:`update` restores it, draws the animated artists and blits. ipympl then sends only the
    changed pixels to the browser.

    Titles and legends drawn over changing lines are blitted too, but their pixels rarely change:
    matplotlib 3.11 lays out and renders text glyph by glyph (17 ms for a five-entry legend,
    2.6 ms for a title), most of a blitted move. Each is rendered once onto a transparent layer
    and composited over the lines on later moves, until its text, colour, font, place or
    visibility changes or the figure is drawn in full again (a new layout). A full draw renders
    each of them onto the layer at once, instead of drawing it directly and leaving the layer to
    the first move: that move cost lesson 05 about 100 ms more than the others (the layer's
    renderer starts without the text metrics the canvas's has), and 30 students' first moves
    come together. A text that changed since the last move (a title showing the slider's value)
    is drawn directly the first time it shows a value; a value it shows again (a student
    stepping back and forth) is rendered onto the layer and composited from then on. Images
    are cached the same way, by a digest of their data (lesson 05's query panel: one picture
    per step, 3 ms to resample and draw, 0.1 ms to composite). The cache keeps the most recently
    shown versions up to :attr:`cache_bytes` (a few steps' worth for lesson 05) and is emptied by
    a full draw. A legend at ``loc="best"`` follows the data it avoids and is drawn every move,
    unless ``pin_best_legends``: for a dashboard whose moves change only markers over fixed
    curves (lesson 05's step marker), each such legend is pinned where "best" puts it at every
    full draw (:func:`_pin_best_legend`) and cached like the rest.

    An artist may be a whole panel (an :class:`~matplotlib.axes.Axes`) whose ticks follow its data
    (lesson 10's returns, lesson 08's embedding map, lesson 12's costs): drawn whole at every
    update, without the figure's constrained layout (30-60 ms a draw) as long as its labels still
    fit the last layout (:meth:`_layout_still_fits`); otherwise the figure is laid out again
    (drawn in full if anything else in it would move), and the layout then keeps room for the
    labels of both (``KeptLayout``: a student toggling between two settings pays one new layout
    for each, then blits).
    """

    #: Most bytes of rendered titles, legends and images kept for later moves.
    cache_bytes = 4 * 2**20
    #: Most values remembered per artist as shown once (drawn directly) since the last full draw.
    remembered_values = 64

    def __init__(self, canvas, artists, *, pin_best_legends: bool = False):
        """``artists``: what to blit, in drawing order; a callable stands for the artist it
        returns at each update (:meth:`_resolve`)."""
        self.canvas = canvas
        self.pin_best_legends = pin_best_legends
        self._sources = list(artists)
        self._resolve()
        self._background = None
        # (id(artist), its _overlay_key) -> (artist, x, y, rgba or None), most recently shown last
        self._overlays: "OrderedDict[tuple, tuple]" = OrderedDict()
        self._cached_bytes = 0
        self._keys = {}  # id(artist) -> its _overlay_key at the last move
        self._shown = {}  # id(artist) -> the keys it showed once, drawn directly, since the last full draw
        self._layer = None
        canvas.mpl_connect("draw_event", self._on_draw)
        self._keep_layouts()

    def _keep_layouts(self) -> None:
        """With whole panels among the artists, the figure's constrained layout keeps room for
        every state it laid out (``KeptLayout``)."""
        from matplotlib.axes import Axes
        from matplotlib.layout_engine import ConstrainedLayoutEngine

        figure = self.canvas.figure
        engine = figure.get_layout_engine()
        if (any(isinstance(artist, Axes) for artist in self.artists) and isinstance(engine, ConstrainedLayoutEngine)
                and not isinstance(engine, _kept_layout_class())):
            figure.set_layout_engine(_kept_layout_class()(**engine.get()))

    def _forget_overlays(self) -> None:
        self._overlays.clear()
        self._cached_bytes = 0
        self._shown.clear()

    def _on_draw(self, event):
        self._forget_overlays()  # a full draw may have moved every title and legend
        if self.pin_best_legends:
            for artist in self.artists:
                _pin_best_legend(artist, self.canvas.get_renderer())
        self._background = self.canvas.copy_from_bbox(self.canvas.figure.bbox)
        self._draw_artists(full_draw=True)

    def _render_overlay(self, artist):
        """``artist`` drawn alone on a transparent layer: the smallest box holding its pixels
        (x, y of its lower-left corner in display pixels, and its RGBA), or None if it draws nothing."""
        from matplotlib.backends.backend_agg import RendererAgg

        renderer = self.canvas.get_renderer()
        size = (renderer.width, renderer.height, renderer.dpi)
        if self._layer is None or (self._layer.width, self._layer.height, self._layer.dpi) != size:
            self._layer = RendererAgg(*size)
        self._layer.clear()
        artist.draw(self._layer)
        pixels = np.asarray(self._layer.buffer_rgba())
        rows = np.flatnonzero(pixels[:, :, 3].any(axis=1))
        if rows.size == 0:
            return 0, 0, None
        cols = np.flatnonzero(pixels[rows[0]:rows[-1] + 1, :, 3].any(axis=0))
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return left, renderer.height - bottom, pixels[top:bottom, left:right][::-1].copy()  # draw_image: bottom row first

    def _draw_artists(self, full_draw: bool = False):
        figure = self.canvas.figure
        renderer = self.canvas.get_renderer()
        for artist in self.artists:
            key = _overlay_key(artist)
            last, self._keys[id(artist)] = self._keys.get(id(artist)), key
            if key is None:  # a line or band
                figure.draw_artist(artist)
                continue
            slot = (id(artist), key)
            overlay = self._overlays.get(slot)
            if overlay is None or overlay[0] is not artist:
                shown = self._shown.setdefault(id(artist), OrderedDict())
                if not (full_draw or last == key or key in shown):  # a value shown for the first time
                    shown[key] = None
                    if len(shown) > self.remembered_values:
                        shown.popitem(last=False)
                    figure.draw_artist(artist)
                    continue
                overlay = self._cache(slot, (artist, *self._render_overlay(artist)))
            else:
                self._overlays.move_to_end(slot)
            _, x, y, rgba = overlay
            if rgba is not None:
                gc = renderer.new_gc()
                renderer.draw_image(gc, x, y, rgba)
                gc.restore()

    def _cache(self, slot, overlay):
        """Keep ``overlay`` for ``slot``, dropping the least recently shown beyond :attr:`cache_bytes`."""
        size = 0 if overlay[3] is None else overlay[3].nbytes
        self._overlays[slot] = overlay
        self._cached_bytes += size
        while self._cached_bytes > self.cache_bytes and len(self._overlays) > 1:
            _, old = self._overlays.popitem(last=False)
            self._cached_bytes -= 0 if old[3] is None else old[3].nbytes
        return overlay

    def replace_artists(self, artists) -> None:
        """Blit ``artists`` from now on instead of the current ones (a dashboard that makes new
        artists when its content changes, such as lesson 05's step markers per episode); the next
        :meth:`update` draws the whole figure, caching a new background."""
        for artist in self.artists:
            artist.set_animated(False)
        self._sources = list(artists)
        self._resolve()
        self._background = None
        self._forget_overlays()
        self._keys.clear()

    def _resolve(self) -> None:
        """The artists as they are now: a callable among those given stands for the artist it
        returns at each update (None: nothing), such as ``lambda: ax.get_legend()`` for a legend
        its dashboard makes anew when the lines it lists change (lesson 12)."""
        from matplotlib.artist import Artist

        self.artists = []
        for source in self._sources:
            artist = source if isinstance(source, Artist) else source()
            if artist is not None:
                artist.set_animated(True)  # drawn here, never by its axes
                self.artists.append(artist)

    def _layout_still_fits(self) -> bool:
        """Whether the panels blitted whole (:class:`~matplotlib.axes.Axes` among the artists)
        fit the layout of the last full draw with their data as it is now: their tick labels,
        axis labels and titles inside the figure and off every other panel's plotting area. A
        panel whose tick labels grew (a new data range) would otherwise be cut at the figure's
        edge or written over its neighbour; the figure is laid out again instead, to make room
        (:meth:`update`). Checked before drawing (the labels' places need no pixels), about 2 ms a
        panel; the layout itself is 30-60 ms a figure.
        """
        from matplotlib.axes import Axes

        panels = [artist for artist in self.artists if isinstance(artist, Axes) and artist.get_visible()]
        if not panels:
            return True
        renderer = self.canvas.get_renderer()
        figure = self.canvas.figure
        edge = figure.bbox.padded(0.5)
        for ax in panels:
            ax.apply_aspect()
            boxes = []
            for axis in (ax.xaxis, ax.yaxis):
                # matplotlib's own tick layout, as Axis.draw does it (private, matplotlib 3.11, pinned)
                boxes += [box for side in axis._get_ticklabel_bboxes(axis._update_ticks(), renderer) for box in side]
                axis._update_label_position(renderer)  # the axis label moves out past the tick labels
                boxes.append(axis.label.get_window_extent(renderer))
            boxes += [title.get_window_extent(renderer) for title in (ax.title, ax._left_title, ax._right_title)]
            others = [other.bbox for other in figure.axes if other is not ax and other.get_visible()]
            for box in boxes:
                if box.width <= 0 or box.height <= 0:
                    continue  # nothing drawn (an empty label)
                if not (edge.x0 <= box.x0 and box.x1 <= edge.x1 and edge.y0 <= box.y0 and box.y1 <= edge.y1):
                    return False
                if any(box.overlaps(other) for other in others):
                    return False
        return True

    def update(self) -> None:
        """Show the artists' current state in the browser."""
        self._resolve()
        if self._background is None:
            self.canvas.draw_idle()  # first draw: caches the background through _on_draw
            return
        if not self._layout_still_fits():
            figure = self.canvas.figure
            engine = figure.get_layout_engine()
            blitted = {id(artist) for artist in self.artists}
            if engine is None or any(id(child) not in blitted and child is not figure.patch and child.get_visible()
                                     for child in figure.get_children()):
                self.canvas.draw_idle()  # a new layout, and a new background
                return
            # Every panel is blitted, so the background is the bare figure, wherever they lie:
            # a new layout, and the panels drawn there, without a full draw and its round trip
            # to the browser (lesson 12's first toggle to each scale).
            engine.execute(figure)
            self._forget_overlays()  # its titles and legends may have moved
        self.canvas.restore_region(self._background)
        self._draw_artists()
        self.canvas.blit(self.canvas.figure.bbox)
