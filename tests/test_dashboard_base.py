"""The dashboard base (mtlviz/widgets/_base.py): one status line, one guard, for every dashboard."""
from __future__ import annotations

import inspect
import logging
import sys

import pytest

import mtlviz.widgets as dashboards
from mtlviz.pretrained import load_sinusoid
from mtlviz.widgets import InnerOuterDashboard
from mtlviz.widgets._base import STATUS_STYLES, Dashboard

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_every_dashboard_derives_from_the_base():
    """If this fails, a dashboard writes its own status handling again (the seven copies this base
    replaced drew the line in seven ways, one of them unreadable on the projector theme)."""
    classes = [getattr(dashboards, name) for name in dashboards.__all__]
    classes = [c for c in classes if inspect.isclass(c)]
    assert len(classes) >= 8
    assert [c.__name__ for c in classes if not issubclass(c, Dashboard)] == []


def test_status_line_escapes_text_and_uses_the_theme_colour_of_its_kind():
    """A message with '<' must read as text, and each kind must have its theme-aware colour."""
    board = Dashboard()
    board.show_status("loss < 1 & rising", "warning")
    assert "loss &lt; 1 &amp; rising" in board.status_line.value
    assert STATUS_STYLES["warning"] in board.status_line.value and "var(--jp-warn-color0" in STATUS_STYLES["warning"]
    board.show_status("all good")
    assert board.status_kind == "info" and STATUS_STYLES["info"] in board.status_line.value
    with pytest.raises(ValueError, match=r"kind must be one of \['info', 'warning', 'error'\]; got 'loud'"):
        board.show_status("x", "loud")


def test_status_line_keeps_room_for_the_lines_a_dashboard_asks_for():
    """A dashboard whose messages wrap onto two lines keeps room for both from the start, so that
    its first long message does not move the page below it (the browser test checks lesson 05 in a
    served page); a count the status line cannot honour is refused, naming the attribute."""
    class TwoLines(Dashboard):
        status_lines = 2

    assert Dashboard().status_line.layout.min_height == "1.6em"
    assert TwoLines().status_line.layout.min_height == "calc(2 * var(--jp-widgets-inline-height, 28px))"

    class NoLine(Dashboard):
        status_lines = 0

    with pytest.raises(ValueError, match=r"status_lines must be an int in \[1, 4\]; got 0"):
        NoLine()


def test_guard_turns_an_expected_failure_into_one_line():
    """A ValueError from a control's action must reach the student as its first line, no traceback."""
    board = Dashboard()
    with board.guard("redrawing"):
        raise ValueError("inner_lr must be in [0, 10]; got -1\nmore detail")
    assert board.status == "redrawing: inner_lr must be in [0, 10]; got -1" and board.status_kind == "error"


def test_guard_reports_a_bug_in_one_line_and_logs_the_traceback(caplog):
    """An unexpected exception is a bug: the page shows one line, the kernel log keeps the traceback."""
    board = Dashboard()
    with caplog.at_level(logging.ERROR, logger="mtlviz.widgets"):
        with board.guard("drawing"):
            {}["missing"]  # noqa: B018 - a KeyError, as a bug would raise
    assert board.status.startswith("drawing failed (KeyError: 'missing')") and board.status_kind == "error"
    assert "Traceback" in caplog.text


@pytest.fixture(scope="module")
def lesson03():
    return InnerOuterDashboard(load_sinusoid("maml"), load_sinusoid("joint"), random_state=0)


def test_a_bad_value_set_from_code_shows_one_line_naming_the_parameter(lesson03):
    """A teacher typing dashboard.inner_lr = -1 in JupyterLab gets a message, not a traceback."""
    lesson03.inner_lr = -1.0
    assert lesson03.status_kind == "error" and "inner_lr must be in" in lesson03.status
    lesson03.inner_lr = 0.01  # and the dashboard recovers on a good value
    assert lesson03.status_kind == "info" and "query MSE" in lesson03.status


def test_divergence_is_flagged_as_a_warning(lesson03):
    """A diverging adaptation must be drawn as a warning, never shown as a plain (or NaN) result."""
    with lesson03.hold_trait_notifications():
        lesson03.inner_lr, lesson03.n_inner_steps = 1.0, 10
    assert lesson03.status_kind == "warning" and "diverged" in lesson03.status
    with lesson03.hold_trait_notifications():
        lesson03.inner_lr, lesson03.n_inner_steps = 0.01, 1
    assert lesson03.status_kind == "info"


def test_presenter_theme_draws_light_ink_on_a_dark_figure():
    """If this fails, the projector shows white figures on the dark page (or black text on a dark
    figure): unreadable from the back of a room. The theme must apply to figures made after it."""
    import matplotlib

    from mtlviz import plotting
    from mtlviz.widgets._canvas import interactive_figure

    try:
        plotting.use_theme("presenter")
        figure, _ = interactive_figure(4.0, 3.0)
        ax = figure.subplots()
        artists = plotting.plot_adaptation(ax, n_max_steps=2, color="#1f77b4", title="t")
        dark = matplotlib.colors.to_rgb(figure.get_facecolor())
        ink = matplotlib.colors.to_rgb(artists["true"].get_color())
        assert max(dark) < 0.2 and min(ink) > 0.8, (dark, ink)
    finally:
        plotting.use_theme("default")
    figure, _ = interactive_figure(4.0, 3.0)
    assert matplotlib.colors.to_rgb(figure.get_facecolor()) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"name must be one of \['default', 'presenter'\]; got 'neon'"):
        plotting.use_theme("neon")


def _connected_canvas(width=4.0, height=3.0):
    """A dashboard figure whose frames to the browser are recorded, and its full draws counted."""
    from mtlviz.widgets._canvas import interactive_figure

    figure, canvas = interactive_figure(width, height)
    (line,) = figure.subplots().plot([0, 1, 2], [0, 1, 0])
    frames, draws = [], []
    canvas.send_binary = frames.append  # what refresh_all hands to the browser's socket
    canvas.mpl_connect("draw_event", lambda event: draws.append(1))
    return canvas, line, frames, draws


def _decoded(frame):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(frame)))


def _on_screen(canvas):
    """The figure's current pixels, as a full frame would carry them."""
    import numpy as np

    return np.asarray(canvas.get_renderer().buffer_rgba())


def test_a_connecting_browser_gets_each_figure_drawn_once():
    """If this fails, every dashboard figure is drawn in full twice when a student's page connects
    (the browser's resize and then its refresh each ask for a draw): about 0.45 CPU-s more per
    student on lesson 03, 30 students opening it at once; or, worse, a changed or resized figure
    is not redrawn and the student sees a stale plot (in JupyterLab also when a move comes between
    the refresh and its draw, whose answer would then be an empty diff that ipympl's front end
    draws in place of the move's frame if that is still loading)."""
    canvas, line, frames, draws = _connected_canvas()
    width, height = canvas.figure.bbox.size
    for event in ({"type": "resize", "width": width, "height": height}, {"type": "draw"},
                  {"type": "refresh"}, {"type": "draw"}):  # the order a connecting page sends them in
        canvas.handle_event(event)
    assert len(draws) == 1 and len(frames) == 2
    assert (_decoded(frames[1]) == _on_screen(canvas)).all()  # the refresh got the whole frame again
    line.set_ydata([1, 0, 1])  # a dashboard changing its plot asks for a draw: it is drawn
    canvas.draw_idle()
    canvas.handle_event({"type": "draw"})
    assert len(draws) == 2 and not (_on_screen(canvas) == _decoded(frames[0])).all()
    canvas.handle_event({"type": "refresh"})  # nothing changed since: the frame is sent, not redrawn
    canvas.handle_event({"type": "draw"})
    assert len(draws) == 2 and (_decoded(frames[-1]) == _on_screen(canvas)).all()
    canvas.handle_event({"type": "refresh"})
    canvas.blit(canvas.figure.bbox)  # a move between the refresh and its draw goes out whole ...
    canvas.handle_event({"type": "draw"})  # ... and so does the draw's answer, not an empty diff
    assert len(draws) == 2 and (_decoded(frames[-1]) == _on_screen(canvas)).all()
    canvas.handle_event({"type": "resize", "width": width / 2, "height": height / 2})  # smaller window
    canvas.handle_event({"type": "draw"})
    canvas.handle_event({"type": "refresh"})
    canvas.handle_event({"type": "draw"})  # drawn at the new size, then re-sent
    assert len(draws) == 3 and _decoded(frames[-1]).shape[:2] == (round(height / 2), round(width / 2))


def test_a_figure_drawn_before_any_browser_is_sent_whole_when_one_connects():
    """A pre-warmed pool runs its lesson with no browser attached; its kernel then draws the
    figures (mtlviz.serve.kernel.draw_figures_when_idle), so that the student who takes the
    dashboard gets them without a draw. If this fails, each such student waits for the first
    draw (0.4 CPU-s of lesson 03's kernel, 30 at once as a class arrives), or sees a stale
    figure, or (a frame sent with no browser there) the page asks the server for ipympl's
    base64 text as a file and never shows the figure."""
    from mtlviz.widgets._canvas import draw_figures_not_yet_drawn, interactive_figure

    figure, canvas = interactive_figure(4.0, 3.0)
    (line,) = figure.subplots().plot([0, 1, 2], [0, 1, 0])
    draws = []
    canvas.mpl_connect("draw_event", lambda event: draws.append(1))
    assert not canvas.drawn_as_it_is()
    draw_figures_not_yet_drawn()
    assert len(draws) == 1 and canvas.drawn_as_it_is()
    assert canvas._data_url is None, "the unseen draw sent a frame into the widget's _data_url"
    predrawn = _on_screen(canvas).copy()
    draw_figures_not_yet_drawn()
    assert len(draws) == 1, "a figure already drawn was drawn again"
    frames = []
    canvas.send_binary = frames.append  # a browser connects
    width, height = canvas.figure.bbox.size
    for event in ({"type": "resize", "width": width, "height": height}, {"type": "draw"},
                  {"type": "refresh"}, {"type": "draw"}):
        canvas.handle_event(event)
    assert len(draws) == 1, "the connecting browser's draw drew the figure again"
    assert frames and all((_decoded(frame) == predrawn).all() for frame in frames)
    line.set_ydata([1, 0, 1])
    canvas.draw_idle()  # changed since: drawn again, not taken for drawn
    draw_figures_not_yet_drawn()
    assert len(draws) == 2 and not (_on_screen(canvas) == predrawn).all()


def test_frames_decode_to_the_pixels_on_screen():
    """If this fails, the browser shows a corrupt or wrong picture after a slider move: the
    frames are PNGs that mtlviz encodes itself (three times faster than Pillow)."""
    import numpy as np

    from mtlviz.widgets._canvas import encode_png

    random = np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    assert (_decoded(encode_png(random)) == random).all()  # every byte value, wrapping row differences
    canvas, line, frames, draws = _connected_canvas()
    canvas.handle_event({"type": "draw"})
    first = _decoded(frames[-1])
    assert (first == _on_screen(canvas)).all()
    line.set_ydata([1, 0, 1])
    canvas.draw_idle()  # as a dashboard changing its plot asks for a draw
    canvas.handle_event({"type": "draw"})  # a diff frame: changed pixels, the rest transparent
    diff = _decoded(frames[-1])
    shown = np.where(diff[..., 3:] == 0, first, diff)  # what the browser composes
    assert canvas._current_image_mode == "diff" and (shown == _on_screen(canvas)).all()
    assert (diff[..., 3] == 0).any() and not (shown == first).all()  # a diff, of a changed plot
    line.set_ydata([0, 1, 0])  # the next diff is against the frame just sent (the canvas reuses its arrays)
    canvas.draw_idle()
    canvas.handle_event({"type": "draw"})
    diff = _decoded(frames[-1])
    assert (np.where(diff[..., 3:] == 0, shown, diff) == _on_screen(canvas)).all()
    with pytest.raises(ValueError, match="pixels must be an RGBA array"):
        encode_png(random[..., :3])


def test_a_frame_allocates_no_frame_sized_array():
    """If this fails, every slider move allocates its frame's arrays afresh (about 10 MB a move
    for lesson 05's figure): with 30 students' kernels, faulting those pages in again cost 54-62
    ms of kernel CPU a move where 32-36 ms was the rule (RESULTS.md, 2026-12-04)."""
    import tracemalloc

    canvas, line, frames, draws = _connected_canvas(11.5, 6.4)  # lesson 05's size
    canvas.handle_event({"type": "draw"})  # the first, full frame
    renderer = canvas.get_renderer()
    frame_bytes = renderer.width * renderer.height * 4
    for y in ([1, 0, 1], [0, 1, 0]):
        line.set_ydata(y)
        canvas.figure.draw(renderer)  # new pixels, as a blit leaves them
        canvas._png_is_old = True
        tracemalloc.start()
        try:
            png = canvas.get_diff_image()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert canvas._current_image_mode == "diff" and len(png) < frame_bytes / 4
        # zlib's own state is about 0.3 MB whatever the frame (deflate's window and hash tables)
        assert peak < frame_bytes / 4, f"a diff frame allocated {peak} bytes at its peak; the frame is {frame_bytes}"


_RESIDENT_AFTER_FIRST_FRAME = r"""
import ctypes, json, mmap
from mtlviz._memory import _libc_function, _mallopt
_mallopt()(-3, 64 * 1024)  # M_MMAP_THRESHOLD, fixed: each frame-sized array is a fresh mapping
mincore = _libc_function("mincore", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p), ctypes.c_int)
from tests.test_dashboard_base import _connected_canvas
canvas, line, frames, draws = _connected_canvas(11.5, 6.4)  # lesson 05's size
canvas.handle_event({"type": "draw"})  # the page connects: its first, full frame
def resident(array):
    start = array.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
    length = array.ctypes.data + array.nbytes - start
    pages = (ctypes.c_ubyte * ((length + mmap.PAGESIZE - 1) // mmap.PAGESIZE))()
    assert mincore(start, length, pages) == 0
    return sum(page & 1 for page in pages) / len(pages)
print(json.dumps({name: resident(array) for name, array in canvas._frame_buffers.items()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore and mallopt as glibc has them")
def test_the_first_full_frame_faults_in_the_arrays_of_the_first_move():
    """If this fails, a student's first slider move faults in its frame's arrays (3 MB for lesson
    05's figure): with 30 students' kernels moving at once on this machine that first move cost
    87-101 ms of kernel CPU against 29 ms with the pages already in (RESULTS.md, "Classroom load",
    2026-12-04 late night). Fresh mappings, so that a page counts as in memory only if written."""
    import json
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _RESIDENT_AFTER_FIRST_FRAME], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    resident = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(resident) == {"previous", "changed", "diff", "scanlines"}, resident
    assert all(share == 1.0 for share in resident.values()), f"share of each array's pages in memory: {resident}"


def _blitted_figure(legend_loc="lower left"):
    import numpy as np

    from mtlviz.widgets._canvas import BlitManager, interactive_figure

    figure, canvas = interactive_figure(6.0, 3.0)
    ax = figure.subplots()
    x = np.linspace(0, 6, 50)
    lines = [ax.plot(x, np.sin(x + i), label=f"step {i}")[0] for i in range(4)]
    legend = ax.legend(loc=legend_loc, fontsize=7, framealpha=0.8)
    ax.set_title("a new task (A = 2.31, φ = 1.20)")
    blitter = BlitManager(canvas, [*lines, ax.title, legend])
    canvas.draw()
    return canvas, blitter, lines, ax.title, legend, x


def _drawn_directly(canvas, blitter):
    """The figure's pixels with every blitted artist drawn the slow way, over the same background."""
    import numpy as np

    canvas.restore_region(blitter._background)
    for artist in blitter.artists:
        canvas.figure.draw_artist(artist)
    return np.asarray(canvas.get_renderer().buffer_rgba()).copy()


def test_blitted_titles_and_legends_are_rendered_once_and_look_the_same():
    """If this fails, either a slider move renders every title and legend again (matplotlib 3.11
    draws text glyph by glyph: 17 ms for one five-entry legend, most of a blitted move in lessons
    05, 07, 09 and 11), or the cached ones look different from what a full draw shows, or a
    changed title keeps showing its old text, or a title changing every move costs twice."""
    import numpy as np

    canvas, blitter, lines, title, legend, x = _blitted_figure()
    renders = []
    for artist in (title, legend):
        draw = artist.draw
        artist.draw = lambda renderer, draw=draw: (renders.append(1), draw(renderer))
    canvas.draw()  # a full draw (a new layout) renders them again
    assert len(renders) == 2
    for shift in (0.3, 0.6, 0.9):  # three slider moves
        for i, line in enumerate(lines):
            line.set_ydata(np.sin(x + i + shift))
        blitter.update()
    assert len(renders) == 2  # not again
    shown = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    direct = _drawn_directly(canvas, blitter)
    assert np.abs(shown.astype(int) - direct.astype(int)).max() <= 2  # rounding of the compositing only
    renders.clear()  # drawing directly rendered both again
    title.set_text("another task (A = 4.00, φ = 0.10)")
    blitter.update()
    assert len(renders) == 1  # the changed title only
    renders.clear()
    for step in range(3):  # a title that shows the slider's value changes every move
        title.set_text(f"after {step} steps")
        blitter.update()
    assert len(renders) == 3  # drawn directly: once a move, not rendered onto a layer as well
    shown = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    assert np.abs(shown.astype(int) - _drawn_directly(canvas, blitter).astype(int)).max() <= 2


def test_titles_and_images_a_student_steps_back_to_are_composited_not_drawn_again():
    """Lesson 05's step slider changes a title and the query picture at every move. If this fails,
    either a value shown again (a student stepping back and forth) costs its full text layout and
    image resampling again (5 and 3 ms of a 24 ms move, profiled), or a cached picture or title
    shows the wrong step, or the cache grows without bound in a kernel a student keeps open."""
    import numpy as np

    from mtlviz.widgets._canvas import BlitManager, interactive_figure

    figure, canvas = interactive_figure(6.0, 3.0)
    ax_line, ax_image = figure.subplots(1, 2)
    marker = ax_line.axvline(0.0, color="red")
    pictures = [np.random.default_rng(step).random((20, 20, 3)) for step in range(4)]
    image = ax_image.imshow(pictures[0])
    blitter = BlitManager(canvas, [marker, ax_image.title, image])
    canvas.draw()
    renders = []
    for artist in (ax_image.title, image):
        draw = artist.draw
        artist.draw = lambda renderer, draw=draw, artist=artist: (renders.append(artist), draw(renderer))

    def show(step):
        marker.set_xdata([step, step])
        ax_image.set_title(f"answers after step {step}")
        image.set_data(pictures[step])
        blitter.update()
        return np.asarray(canvas.get_renderer().buffer_rgba()).copy()

    first = {step: show(step) for step in (1, 2, 3)}  # forward: each value drawn directly, once
    assert len(renders) == 6
    renders.clear()
    again = {step: show(step) for step in (2, 1)}  # back: rendered onto the layer, once each
    assert len(renders) == 4
    renders.clear()
    for step in (2, 1, 2, 1, 2):  # and forth: composited only
        shown = show(step)
        assert np.abs(shown.astype(int) - first[step].astype(int)).max() <= 2, f"step {step} shows other pixels"
    assert not renders
    assert np.abs(again[1].astype(int) - first[1].astype(int)).max() <= 2
    show(3)  # shown once before: rendered onto the layer now
    assert len(renders) == 2
    renders.clear()
    image.set_data(1.0 - pictures[2])  # new data under a title seen before: not the cached picture
    ax_image.set_title("answers after step 2")
    marker.set_xdata([2, 2])
    blitter.update()
    assert renders == [image]
    shown = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    assert np.abs(shown.astype(int) - first[2].astype(int)).max() > 50
    assert np.abs(shown.astype(int) - _drawn_directly(canvas, blitter).astype(int)).max() <= 2
    assert len(blitter._overlays) > 2
    blitter.cache_bytes = 1  # a bounded cache keeps only the most recent overlay
    canvas.draw()  # (and a full draw empties it)
    for step in (1, 2, 1, 2, 1):
        show(step)
    assert len(blitter._overlays) == 1
    assert blitter._cached_bytes == sum(o[3].nbytes for o in blitter._overlays.values() if o[3] is not None)


def test_a_legend_placed_where_the_data_leaves_room_is_drawn_every_time():
    """If this fails, a legend at loc="best" stays where the old lines left room and covers
    the new ones."""
    import numpy as np

    canvas, blitter, lines, title, legend, x = _blitted_figure(legend_loc="best")
    renders = []
    draw = legend.draw
    legend.draw = lambda renderer: (renders.append(1), draw(renderer))
    for shift in (0.3, 0.6):
        for i, line in enumerate(lines):
            line.set_ydata(np.sin(x + i + shift))
        blitter.update()
    assert len(renders) == 2


def test_a_pinned_best_legend_stays_where_best_put_it_and_is_rendered_once():
    """Lesson 05 moves only a step marker over curves that are fixed within an episode. If this
    fails, either its "best" legends are laid out and searched for a place again at every move
    (10-20 ms each), or a pinned legend is not where "best" put it on the full draw, looks
    different from a legend drawn directly, or stays put after a new episode moved the curves."""
    import numpy as np

    from mtlviz.widgets._canvas import BlitManager, interactive_figure

    figure, canvas = interactive_figure(6.0, 3.0)
    ax = figure.subplots()
    x = np.linspace(0, 6, 50)
    curves = [ax.plot(x, np.sin(x + i) + 2.0 * (x < 3), label=f"layer {i}")[0] for i in range(4)]
    marker = ax.axvline(0.0, color="red")
    legend = ax.legend(fontsize=7)  # loc="best" (rcParams)
    blitter = BlitManager(canvas, [marker, legend], pin_best_legends=True)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = legend._legend_box.get_bbox(renderer)
    expected = ax.transAxes.inverted().transform(legend._find_best_position(box.width, box.height, renderer))
    assert np.allclose(legend._loc, expected)  # pinned where "best" puts it now
    placed = legend.get_window_extent(renderer).bounds
    renders = []
    draw = legend.draw
    legend.draw = lambda renderer: (renders.append(1), draw(renderer))
    for step in (1.0, 2.0, 3.0, 4.0):  # four slider moves: the marker sweeps the axes
        marker.set_xdata([step, step])
        blitter.update()
    assert not renders  # rendered onto the layer by the full draw, composited on every move
    assert legend.get_window_extent(renderer).bounds == placed  # not chasing the marker
    shown = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    assert np.abs(shown.astype(int) - _drawn_directly(canvas, blitter).astype(int)).max() <= 2
    for i, curve in enumerate(curves):  # a new episode: the curves move, a full draw pins again
        curve.set_ydata(np.sin(x + i) + 2.0 * (x >= 3))
    canvas.draw()
    box = legend._legend_box.get_bbox(renderer)
    legend.set_loc("best")
    best = ax.transAxes.inverted().transform(legend._find_best_position(box.width, box.height, renderer))
    canvas.draw()
    assert np.allclose(legend._loc, best) and legend.get_window_extent(renderer).bounds != placed
