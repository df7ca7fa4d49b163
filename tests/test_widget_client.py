"""``benchmarks/widget_client.py``: the students of ``classroom_load.py --without-browsers`` still
speak Voila's wire protocol. That benchmark is the measure of the serving machine alone (RESULTS.md,
"Classroom load"); if a Voila, ipympl or jupyter_server upgrade changes what a page sends, its
students would time out or time the wrong frames, and nobody would notice until the next class
measurement. A real server renders the real lesson 03; a real Chromium records the page's files."""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.harness import VoilaServer

pytestmark = pytest.mark.browser

LESSON = "03_maml_inner_and_outer_loop.ipynb"
SLIDER = "α (inner lr)"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def widget_client():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import widget_client
    finally:
        sys.path.remove(str(BENCHMARKS))
    return widget_client


def test_a_student_without_a_browser_opens_a_lesson_moves_its_slider_and_frees_its_kernel(widget_client):
    """If this fails, ``classroom_load.py --without-browsers`` no longer measures a class: its
    students cannot open the dashboard, get no frame after a slider move, or leave their kernels
    running (the figures it printed would then be a server waiting for nobody)."""
    # The server pings every websocket each 0.2 s and closes one unanswered for 1.5 s (30 s and
    # 90 s by default), so that a student that stops answering pings is found in seconds.
    # (The dict form: traitlets passes key=value items on as strings.)
    # One dashboard opening at a time, so that the second of two students waits in the room.
    with VoilaServer(extra_args=["--start-slots=0", "--open-at-once=1",
                                 "--Voila.tornado_settings={'ws_ping_interval': 200, 'ws_ping_timeout': 1500}"]) as server:
        files = widget_client.page_files(server.url, LESSON, timeout_s=180)
        # The page's own code: Voila's bundle and the widget managers' chunks, served locally.
        assert any(path.endswith(".js") or ".js?" in path for path in files), files
        assert not any(path.startswith("/voila/render/") for path in files)

        async def one_student():
            student = widget_client.WidgetStudent(server.url, LESSON, files)
            try:
                await asyncio.wait_for(student.open(), 180)
                await asyncio.wait_for(student.settle(), 60)
                slider = student.slider(SLIDER)
                first = student.states[slider]["state"]["value"]
                moves = [await asyncio.wait_for(student.move(slider, i), 60) for i in range(3)]
                # A student that has not read its messages for a while (in a class, the first
                # pages wait minutes for the last before anyone moves) still answers the server's
                # pings, as a browser does: before 2026-12-05 its websocket was closed after 90 s
                # and every later move of that student timed out.
                await student._send("comm_msg", {"comm_id": slider, "data": {
                    "method": "update", "state": {"value": first}, "buffer_paths": []}})
                await asyncio.sleep(4)
                moves.append(await asyncio.wait_for(student.move(slider, 3), 60))
                return student, first, moves
            finally:
                await student.close()

        async def waiting_student():
            """Opens with the first, so it is let in by the server's waiting room; its dashboard's
            answer then sets no cookie (the room's did), and its beacon still needs the _xsrf one."""
            student = widget_client.WidgetStudent(server.url, LESSON, files)
            try:
                await asyncio.wait_for(student.open(), 180)
            finally:
                await student.close()

        async def two_students():
            return (await asyncio.gather(one_student(), waiting_student()))[0]

        student, first, moves = asyncio.run(two_students())
        # Three moves, each one step the same way (a student turns after five), so the value moved.
        assert student.states[student.slider(SLIDER)]["state"]["value"] != first
        assert len(student.canvases) >= 1 and all(0 < ms < 60_000 for ms in moves), moves
        # Everything the page fetched came back (the dashboard alone is ~100 KB; its files ~5 MB).
        assert student.bytes_fetched > 1_000_000, student.bytes_fetched
        with pytest.raises(KeyError, match="no slider labelled"):
            student.slider("no such slider")

        # The recorder's page and the two students each started a kernel; the beacons free all three.
        assert len(server.started_kernel_ids()) == 3
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.kernel_pids():
            time.sleep(0.5)
        assert not server.kernel_pids(), "a kernel outlived its student's shutdown beacon"
