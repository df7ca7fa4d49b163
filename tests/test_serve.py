"""Classroom serving options of python -m mtlviz.serve, against a real Voila server.

The lessons here are tiny notebooks written to a temporary folder under the names of real
lessons (so the landing page shows their titles from mtlviz.guide), because the real ones
import torch and take seconds to start a kernel.
"""
from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import gzip
import http.cookiejar
import importlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from mtlviz.guide import LESSONS as COURSE
from mtlviz.serve import main as serve_main
from tests.harness import VoilaServer, write_notebook

pytestmark = pytest.mark.server

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "mtlviz"
TOKEN = "classroom-" + uuid.uuid4().hex[:8]
SERVED = ["00_start_here", "03_maml_inner_and_outer_loop", "99_scratch_pad"]
NOT_SERVED = "05_meta_lstm"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, data=None, opener=None):
    """(status, body, Location header) without following redirects."""
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=120) as response:
            return response.status, response.read().decode(), response.headers.get("Location")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), error.headers.get("Location")


@pytest.fixture(scope="module")
def lesson_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lessons")
    for stem in [*SERVED, NOT_SERVED]:
        write_notebook(folder / f"{stem}.ipynb", "import ipywidgets\nipywidgets.IntSlider(description='n', value=3)")
    return folder


@pytest.fixture(scope="module")
def classroom(lesson_dir):
    """Token, a cap of one dashboard, the presenter theme and three of the four lessons."""
    with VoilaServer(notebook_dir=lesson_dir, token=TOKEN,
                     extra_args=["--max-kernels=1", "--theme=presenter", "--lessons", "00", "03", "99"]) as server:
        yield server


@pytest.fixture
def dashboard(classroom):
    """Lesson 00 open in a 'browser'; closed (kernel shut down) after the test."""
    opened = classroom.open_dashboard(f"voila/render/{SERVED[0]}.ipynb")
    yield opened
    classroom.close_dashboard(opened)
    assert classroom.wait_for_kernels(lambda pids: not pids), "the test's kernel was not shut down"


def channels_url(server, kernel_id, token=None):
    query = f"session_id={uuid.uuid4().hex}" + (f"&token={token}" if token else "")
    return f"ws://{server.host}:{server.port}/api/kernels/{kernel_id}/channels?{query}"


def shell_message(msg_type, content):
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": uuid.uuid4().hex,
                       "username": "student", "date": "2026-01-01T00:00:00Z", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}


async def websocket_exchange(url, messages, listen_s=4.0, cookie=None):
    """Connect like the page does, send ``messages``, return (msg_type, content) of what comes back."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie} if cookie else {}))
    for message in messages:
        await connection.write_message(json.dumps(message))
    received = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + listen_s
    while (left := deadline - loop.time()) > 0:
        try:
            raw = await asyncio.wait_for(connection.read_message(), left)
        except asyncio.TimeoutError:
            break
        if raw is None:
            break
        if isinstance(raw, str):
            reply = json.loads(raw)
            received.append((reply["header"]["msg_type"], reply.get("content", {})))
    connection.close()
    return received


def test_token_is_required_when_given(classroom):
    """Without it anyone on the school network could open dashboards (and their kernels) uninvited."""
    for path in ["", f"voila/render/{SERVED[0]}.ipynb"]:
        status, _, location = fetch(classroom.url + path)
        assert status == 302 and "/login" in location, f"/{path} answered {status} without the token"
        status, _, _ = fetch(classroom.url + path + "?token=wrong")
        assert status == 302, f"/{path} accepted a wrong token"
    status, html, _ = fetch(classroom.page_url())
    assert status == 200 and "voila/render/" in html
    status, html, _ = fetch(classroom.url + "login")
    assert status == 200 and 'name="password"' in html, "the login page must let a student paste the token"


def test_lesson_and_kernel_websocket_work_with_token_only(classroom, dashboard):
    """With the token a student gets the dashboard and its live kernel; without it, not even the socket."""
    assert "application/vnd.jupyter.widget-view+json" in dashboard.html
    with pytest.raises(Exception, match="403"):
        asyncio.run(websocket_exchange(channels_url(classroom, dashboard.kernel_id), []))
    replies = asyncio.run(websocket_exchange(channels_url(classroom, dashboard.kernel_id, TOKEN),
                                             [shell_message("kernel_info_request", {})]))
    assert "kernel_info_reply" in [msg_type for msg_type, _ in replies]


def test_kernels_talk_over_unix_sockets_not_tcp_ports(classroom, dashboard):
    """If this fails, each kernel binds TCP ports the server picked free a moment before: with 30
    kernels starting while 30 browsers open connections, another socket took one first in 6 of 30
    starts (ZMQError "Address already in use"), and a student whose kernel then died waited at a
    spinner for good (2026-12-04). Unix sockets are named after their kernel and cannot collide."""
    import psutil

    (pid,) = classroom.kernel_pids()
    kernel = psutil.Process(pid)
    # What the server told it to bind: its connection file, in the folder the server logs.
    folder = re.search(r"Storing connection files in (\S+?)\.?$", classroom.log(), re.MULTILINE).group(1)
    info = json.loads((Path(folder) / f"kernel-{dashboard.kernel_id}.json").read_text())
    assert info["transport"] == "ipc"
    channels = {f"{info['ip']}-{info[name]}" for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")}
    assert channels <= {c.laddr for c in kernel.net_connections(kind="unix")}, "the kernel's channels are not its sockets"


def test_execute_request_over_the_kernel_websocket_is_refused(classroom, dashboard, tmp_path):
    """A student with the browser console open must not be able to run code on the teacher's machine."""
    marker = tmp_path / "executed"
    code = f"open({str(marker)!r}, 'w').write('x'); print('EXECUTED')"
    replies = asyncio.run(websocket_exchange(
        channels_url(classroom, dashboard.kernel_id, TOKEN),
        [shell_message("execute_request", {"code": code, "silent": False, "store_history": True,
                                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}),
         # A message the page may send: its reply proves the socket was open while execute_request was ignored.
         shell_message("kernel_info_request", {})]))
    types = [msg_type for msg_type, _ in replies]
    assert "kernel_info_reply" in types
    assert not {"execute_reply", "execute_result", "stream", "error"} & set(types), types
    assert not marker.exists(), "the kernel ran the code"
    assert re.search(r'message of type "execute_request", which is not allowed', classroom.log())


def test_class_full_page_at_the_cap(classroom, dashboard):
    """At the cap the next student must get a clear message, not a server that runs out of memory."""
    status, html, _ = fetch(classroom.page_url(f"voila/render/{SERVED[1]}.ipynb"))
    assert status == 503
    assert "The class is full" in html and "Try again in a minute" in html and "ask the teacher" in html
    assert "Traceback" not in html and "https://" not in html
    assert len(classroom.kernel_pids()) == 1, "a refused visitor still started a kernel"

    assert classroom.close_dashboard(dashboard) == 204
    assert classroom.wait_for_kernels(lambda pids: not pids), "closing the tab did not free the kernel"
    again = classroom.open_dashboard(f"voila/render/{SERVED[1]}.ipynb")
    assert "application/vnd.jupyter.widget-view+json" in again.html, "a freed place was not given to the next student"
    classroom.close_dashboard(again)


def test_class_full_page_when_memory_runs_short(lesson_dir):
    """A lesson bigger than the cap assumed (or a browser eating the laptop's memory) must turn the
    next student away with a message, not start a kernel that makes the machine swap for everyone."""
    import psutil

    floor_mb = int(psutil.virtual_memory().available / 2**20) + 100_000  # more than this machine has free
    with VoilaServer(notebook_dir=lesson_dir, extra_args=[f"--min-free-mb={floor_mb}"]) as server:
        status, html, _ = fetch(server.page_url(f"voila/render/{SERVED[1]}.ipynb"))
        assert status == 503
        assert "The class is full" in html and "short of memory" in html and f"{floor_mb} MB" in html
        assert "Traceback" not in html
        assert not server.kernel_pids(), "a visitor refused for memory still started a kernel"


@pytest.mark.parametrize("fresh", [False, True], ids=["forked", "fresh-kernels"])
def test_dashboard_kernels_are_forked_by_the_fork_server_unless_fresh_kernels(lesson_dir, fresh):
    """If this fails, each student's kernel imports torch, numpy, matplotlib and ipykernel itself
    (about 2 CPU-s more per student; RESULTS.md, "Classroom load") because the server no longer
    forks kernels from the process that imported them once; or --fresh-kernels (the way back,
    should a fork ever misbehave) no longer starts a kernel of its own."""
    import psutil

    with VoilaServer(notebook_dir=lesson_dir, extra_args=["--fresh-kernels"] if fresh else []) as server:
        page = server.open_dashboard(f"voila/render/{SERVED[1]}.ipynb")
        try:
            (pid,) = server.kernel_pids()
            parent = psutil.Process(pid).parent()
            if fresh:
                assert parent.pid == server.process.pid
            else:
                assert "mtlviz.serve.forkserver" in " ".join(parent.cmdline())
                assert parent.ppid() == server.process.pid
            assert "widget-view+json" in page.html, "the lesson's widget is not on the page"
        finally:
            server.close_dashboard(page)
        assert server.wait_for_kernels(lambda pids: not pids), "the kernel outlived its page"


def test_images_next_to_the_lessons_need_the_token(lesson_dir):
    """Voila serves a lesson folder's images with a handler that never checks the token: on a
    network bind, anyone could fetch what a teacher put next to the lessons."""
    picture = lesson_dir / "board-photo.svg"
    picture.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    with VoilaServer(notebook_dir=lesson_dir, token=TOKEN) as server:
        status, _, _ = fetch(server.url + "voila/files/board-photo.svg")
        assert status in (302, 403), f"the image was served without the token (HTTP {status})"
        status, _, _ = fetch(server.url + f"voila/files/board-photo.svg?token=wrong-{TOKEN}")
        assert status in (302, 403), f"the image was served with a wrong token (HTTP {status})"
        status, body, _ = fetch(server.page_url("voila/files/board-photo.svg"))
        assert status == 200 and "<svg" in body, "with the token, a student must still see the lesson's images"
        status, _, _ = fetch(server.page_url(f"voila/files/{SERVED[0]}.ipynb"))
        assert status == 403, "a notebook's source must stay out of reach even with the token"
    picture.unlink()


def benchmark_module(name):
    """A module of benchmarks/ (not a package), imported without leaving that folder on sys.path."""
    sys.path.insert(0, str(PACKAGE_DIR.parent / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def wait_for_log(server, text, count, timeout=120.0):
    """True once ``text`` is in the server's log ``count`` times (False after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while server.log().count(text) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_prewarmed_dashboard_is_ready_before_the_first_student_and_the_pool_refills(lesson_dir):
    """With --prewarm the first students must get a dashboard already drawn (no kernel start, no
    cells to run), the pool must refill for the next ones, and the cap must still hold."""
    with VoilaServer(notebook_dir=lesson_dir, extra_args=["--prewarm=1", "--max-kernels=2", "--lessons", "03"]) as server:
        lesson = f"voila/render/{SERVED[1]}.ipynb"
        # Drawn, not merely started: a kernel forked by the fork server exists a moment before
        # Voila has recorded its lesson, and a student arriving in that moment gets a kernel of
        # their own (Voila's handler), which is not what this test is about.
        assert wait_for_log(server, "pre-warmed dashboard of", 1), "no dashboard was pre-warmed"
        assert len(server.kernel_pids()) == 1
        first = server.open_dashboard(lesson)
        assert "application/vnd.jupyter.widget-view+json" in first.html
        assert server.log().count("Using pre-heated kernel") == 1, "the first student did not get the warm kernel"
        assert server.wait_for_kernels(lambda pids: len(pids) == 2, timeout=120), "the pool did not refill"

        second = server.open_dashboard(lesson)  # the refilled kernel: at the cap, but already counted
        assert server.log().count("Using pre-heated kernel") == 2
        assert "application/vnd.jupyter.widget-view+json" in second.html
        status, html, _ = fetch(server.page_url(lesson))  # no room to refill: the third is turned away
        assert status == 503 and "The class is full" in html
        assert len(server.kernel_pids()) == 2, "the cap of 2 was overshot by the pool"

        assert server.close_dashboard(first) == 204
        assert server.wait_for_kernels(lambda pids: len(pids) == 1)
        third = server.open_dashboard(lesson)  # a freed place goes to the next student
        assert "application/vnd.jupyter.widget-view+json" in third.html
        for dashboard in (second, third):
            server.close_dashboard(dashboard)


def restore_kernel_env_after(monkeypatch):
    """The command line sets these for the kernels it starts: restore them after the test."""
    import os

    from mtlviz.serve.startup_queue import SLOTS_DIR_ENV, SLOTS_ENV

    for name in ("IPYTHONDIR", "JUPYTER_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS", SLOTS_DIR_ENV, SLOTS_ENV):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:  # recorded as absent (delenv of an absent name records nothing to undo)
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)


def serve_argv_without_starting(monkeypatch, argv):
    """Run the command line up to launching Voila; return the Voila argv it would have run."""
    from mtlviz.serve import app

    restore_kernel_env_after(monkeypatch)
    launched = []
    monkeypatch.setattr(app.ClassroomVoila, "launch_instance", classmethod(lambda cls, voila: launched.append(voila)))
    assert serve_main(argv) == 0
    return launched[0]


@pytest.mark.parametrize("argv, message", [
    (["--prewarm=5", "--max-kernels=5"], "--prewarm keeps 5 dashboards ready, which leaves no place under --max-kernels 5"),
    (["--prewarm", "03=30", "05=10"], "--prewarm keeps 40 dashboards ready, which leaves no place under --max-kernels 40"),
    (["--prewarm", "03=-2"], "--prewarm '03=-2': the number of dashboards must be in [0, 100]; got -2"),
    (["--prewarm=-1"], "--prewarm '-1': the number of dashboards must be in [0, 100]; got -1"),
    (["--prewarm", "03=two"], "--prewarm '03=two': the number of dashboards must be a whole number; got 'two'"),
    (["--prewarm", "03=1.5"], "must be a whole number; got '1.5'"),
    (["--prewarm", "03"], "--prewarm '03' is ambiguous: write 03=N for N dashboards of lesson 03, or 3 for 3"),
    (["--prewarm", "=3"], "--prewarm items are N (the first served lesson) or LESSON=N"),
    (["--prewarm", "03=1=2"], "--prewarm items are N (the first served lesson) or LESSON=N"),
    (["--prewarm", "42=1"], "--prewarm '42' must name exactly one of"),
    (["--lessons", "00", "03", "--prewarm", "05=1"], "--prewarm '05=1': 05_meta_lstm is not served"),
    (["--prewarm", "03=1", "03_maml=2"], "--prewarm names 03_maml_inner_and_outer_loop twice"),
])
def test_bad_prewarm_is_refused(argv, message, capsys, monkeypatch):
    """A typo in --prewarm must stop the server at once with one line saying what is wrong, not
    start a class with no pool (or a pool for a lesson nobody can open), and a pool as big as the
    cap would leave no place for a student who opens another lesson."""
    from mtlviz.serve import app

    def launched(cls, argv):
        raise AssertionError("the server started")

    monkeypatch.setattr(app.ClassroomVoila, "launch_instance", classmethod(launched))
    with pytest.raises(SystemExit):
        serve_main(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err and err.startswith("python -m mtlviz.serve: error:")


def test_prewarm_that_cannot_fit_in_memory_is_refused(monkeypatch, capsys):
    """A pool the machine cannot hold would push it into swapping (or the memory floor would leave
    the pool half filled while the teacher thinks it is ready): refuse it at start, with the figures
    for the kernels the server will start (forked by default: a third of the memory each)."""
    import mtlviz.serve
    from mtlviz.serve.pools import FORKED_KERNEL_MB, FORKED_SHARED_MB, FRESH_KERNEL_MB, FRESH_SHARED_MB

    monkeypatch.setattr(mtlviz.serve, "available_mb", lambda: 2000.0)
    forked, fresh = FORKED_KERNEL_MB["03_maml_inner_and_outer_loop"], FRESH_KERNEL_MB["03_maml_inner_and_outer_loop"]
    room = 2000 - 1500
    assert 2 * forked + FORKED_SHARED_MB <= room < min(2 * fresh + FRESH_SHARED_MB, 8 * forked + FORKED_SHARED_MB)
    serve_argv_without_starting(monkeypatch, ["--prewarm", "03=2", "--min-free-mb=1500"])  # forked: fits
    for argv, need, each, shared in [(["--prewarm", "03=2", "--fresh-kernels"], 2 * fresh + FRESH_SHARED_MB, fresh, FRESH_SHARED_MB),
                                     (["--prewarm", "03=8"], 8 * forked + FORKED_SHARED_MB, forked, FORKED_SHARED_MB)]:
        count = argv[1].split("=")[1]
        with pytest.raises(SystemExit):
            serve_main([*argv, "--min-free-mb=1500"])
        err = capsys.readouterr().err
        assert f"--prewarm needs about {need:,} MB (03: {count} x {each} MB, {shared} MB shared)" in err
        assert "2,000 MB available and keeps --min-free-mb 1500 free, leaving 500 MB" in err


def test_a_pool_that_fits_only_forked_is_refused_if_the_fork_server_does_not_start(monkeypatch, capsys):
    """If this fails, a server whose fork server failed to start fills a pool sized for forked
    kernels with kernels of their own, three times the memory, and the machine swaps in class."""
    import sys

    import mtlviz.serve
    from mtlviz.serve import app, forkserver
    from mtlviz.serve.pools import FRESH_KERNEL_MB, FRESH_SHARED_MB

    def dead_zygote(socket_path, **kwargs):
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        return process

    restore_kernel_env_after(monkeypatch)
    monkeypatch.setattr(mtlviz.serve, "available_mb", lambda: 2000.0)
    monkeypatch.setattr(forkserver, "start_zygote", dead_zygote)
    monkeypatch.setattr(app.ClassroomVoila, "launch_instance", classmethod(lambda cls, argv: None))
    with pytest.raises(SystemExit):
        serve_main(["--prewarm", "03=2", "--min-free-mb=1500"])  # fits forked (the test above), not fresh
    captured = capsys.readouterr()
    assert "the kernel fork server did not start: each kernel imports torch itself" in captured.out
    fresh = FRESH_KERNEL_MB["03_maml_inner_and_outer_loop"]
    assert f"--prewarm needs about {2 * fresh + FRESH_SHARED_MB:,} MB (03: 2 x {fresh} MB" in captured.err


def test_prewarm_pools_per_lesson_and_their_memory_are_printed(monkeypatch, capsys):
    """The teacher plans the class with these lines: each pool's lesson, size and memory (N x that
    lesson's kernel), and Voila must get one pool per lesson with a "default" of 0 (else every other
    lesson silently gets a pool of 1, FIELD-NOTES)."""
    from mtlviz.serve.pools import FORKED_KERNEL_MB, FORKED_SHARED_MB, FRESH_KERNEL_MB, FRESH_SHARED_MB

    import mtlviz.serve

    monkeypatch.setattr(mtlviz.serve, "available_mb", lambda: 100_000.0)
    for extra, table, shared in [([], FORKED_KERNEL_MB, FORKED_SHARED_MB), (["--fresh-kernels"], FRESH_KERNEL_MB, FRESH_SHARED_MB)]:
        voila = serve_argv_without_starting(monkeypatch, ["--prewarm", "00=2", "03_maml_inner_and_outer_loop.ipynb=3",
                                                          "05=0", *extra])
        out = capsys.readouterr().out
        assert f"00_start_here: 2 x {table['00_start_here']} MB" in out
        assert f"03_maml_inner_and_outer_loop: 3 x {table['03_maml_inner_and_outer_loop']} MB" in out
        total = shared + 2 * table["00_start_here"] + 3 * table["03_maml_inner_and_outer_loop"]
        assert f"pre-warmed pools hold about {total:,} MB in all, with {shared} MB for" in out and "05_meta_lstm" not in out
    pools = json.loads(next(a for a in voila if a.startswith("--ClassroomVoila.prewarm_pools=")).split("=", 1)[1])
    assert pools == {"00_start_here.ipynb": 2, "03_maml_inner_and_outer_loop.ipynb": 3}
    assert "--ClassroomVoila.refill=idle" in voila

    from mtlviz.serve.app import ClassroomVoila

    app = ClassroomVoila()
    app.prewarm_pools = json.dumps(pools)
    app.voila_configuration = type("Configuration", (), {})()
    from voila.app import Voila

    monkeypatch.setattr(Voila, "initialize", lambda self, argv=None: None)
    app.initialize([])
    assert app.config.VoilaKernelManager.kernel_pools_config == {
        "default": {"pool_size": 0}, "00_start_here.ipynb": {"pool_size": 2},
        "03_maml_inner_and_outer_loop.ipynb": {"pool_size": 3}}
    assert app.voila_configuration.preheat_kernel and app.voila_configuration.default_pool_size == 0


def test_without_pidfds_the_server_says_so_and_starts_kernels_the_usual_way(monkeypatch, capsys):
    """If this fails, on a system where the server cannot follow a process that is not its child
    (no pidfd: Linux before 5.3) it would still hand kernels to the fork server and then lose
    track of them (a closed tab would leave its kernel running); or it would do so in silence."""
    from mtlviz.serve import forkserver

    assert forkserver.supported(), "this machine should support pidfds (the tests' kernels are forked)"
    monkeypatch.setattr(forkserver, "supported", lambda: False)
    voila = serve_argv_without_starting(monkeypatch, ["--lessons", "03"])
    assert "cannot follow a forked kernel (no pidfd): each kernel imports torch itself" in capsys.readouterr().out
    assert not any("ForkedKernelManager" in arg for arg in voila)


def test_plain_prewarm_count_still_means_the_first_served_lesson(monkeypatch):
    """``--prewarm 5`` (README, older scripts) must keep pre-warming the first served lesson."""
    import mtlviz.serve

    monkeypatch.setattr(mtlviz.serve, "available_mb", lambda: 100_000.0)
    voila = serve_argv_without_starting(monkeypatch, ["--prewarm", "2", "--lessons", "03", "05"])
    assert '--ClassroomVoila.prewarm_pools={"03_maml_inner_and_outer_loop.ipynb": 2}' in voila


def test_kernel_memory_tables_match_what_kernel_footprint_measures():
    """The memory printed at start (and the refusal of a pool that cannot fit) comes from the
    tables in mtlviz.serve.pools: if a lesson grows and a table is not updated, a teacher plans a
    pool the machine cannot hold; if a table overstates, a pool that fits is refused. Measured as
    benchmarks/kernel_footprint.py does, both ways the server starts kernels: the memory each
    kernel holds of its own, which unlike PSS does not move with the page cache."""
    footprint = benchmark_module("kernel_footprint")
    measure, memory_mb, start_fork_server = footprint.measure, footprint.memory_mb, footprint.start_fork_server
    from mtlviz.serve.pools import FORKED_KERNEL_MB, FORKED_SHARED_MB, FRESH_KERNEL_MB, FRESH_SHARED_MB

    notebooks = PACKAGE_DIR.parent / "notebooks"
    stems = sorted(path.stem for path in notebooks.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(FRESH_KERNEL_MB) == stems and sorted(FORKED_KERNEL_MB) == stems
    fork_socket, zygote = start_fork_server()
    off, shared = {}, {"fresh": 0.0, "forked": 0.0}
    try:
        for stem in stems:
            cells = json.loads((notebooks / f"{stem}.ipynb").read_text())["cells"]
            sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
            fresh, forked = measure(stem, sources), measure(stem, sources, fork_socket=fork_socket)
            for how, table, measured in [("started on its own", FRESH_KERNEL_MB, fresh["anon"]),
                                         ("forked", FORKED_KERNEL_MB, forked["private"])]:
                # the tables hold the measured figure plus 3 MB rounded up to 10: a lesson that grew
                # past its entry, or shrank by 20 MB, must be re-measured
                if not table[stem] - 20 <= measured <= table[stem]:
                    off[f"{stem} ({how})"] = f"table {table[stem]} MB, measured {measured:.0f} MB"
            # what kernels share: the libraries' file pages; the fork server and the file pages only forks map
            shared["fresh"] = max(shared["fresh"], fresh["rss"] - fresh["anon"])
            shared["forked"] = max(shared["forked"], forked["uss"] - forked["private"])
        shared["forked"] += memory_mb(zygote.pid)["rss"]
    finally:
        zygote.terminate()
        zygote.wait(timeout=10)
    assert not off, f"update mtlviz/serve/pools.py from benchmarks/kernel_footprint.py [--forked]: {off}"
    assert shared["fresh"] <= FRESH_SHARED_MB and shared["forked"] <= FORKED_SHARED_MB, \
        f"kernels share up to {shared} MB; FRESH_SHARED_MB and FORKED_SHARED_MB say {FRESH_SHARED_MB}, {FORKED_SHARED_MB}"


def test_pools_of_two_lessons_fill_and_serve_their_own_lesson(tmp_path):
    """With --prewarm 00=1 03=1 both lessons must have a dashboard drawn before anyone asks, and
    a student opening either gets that lesson's warm kernel (not a cold start, not the other
    lesson's kernel): else the teacher's planned pool for the second lesson does nothing."""
    for stem in ("00_start_here", "03_maml_inner_and_outer_loop", "05_meta_lstm"):
        write_notebook(tmp_path / f"{stem}.ipynb", f"import ipywidgets\nipywidgets.Label('{stem}')")
    with VoilaServer(notebook_dir=tmp_path, token=TOKEN, extra_args=["--prewarm", "00=1", "03=1"]) as server:
        wait_for_log(server, "pre-warmed dashboard of", 2)
        log = server.log()
        assert "pre-warmed dashboard of 00_start_here.ipynb drawn" in log
        assert "pre-warmed dashboard of 03_maml_inner_and_outer_loop.ipynb drawn" in log
        from mtlviz.serve.pools import FORKED_KERNEL_MB

        for stem in ("00_start_here", "03_maml_inner_and_outer_loop"):
            assert f"{stem}: 1 x {FORKED_KERNEL_MB[stem]} MB" in log
        warm = server.started_kernel_ids()
        assert len(warm) == 2, f"expected one pool kernel per lesson, got {len(warm)}"
        pages = []
        for stem in ("00_start_here", "03_maml_inner_and_outer_loop"):
            page = server.open_dashboard(f"voila/render/{stem}.ipynb")
            pages.append(page)
            assert page.kernel_id in warm, f"{stem} started a cold kernel despite its pool"
            assert f"Using pre-heated kernel: {page.kernel_id} for {stem}.ipynb" in server.log()
            assert stem in page.html
        cold = server.open_dashboard("voila/render/05_meta_lstm.ipynb")  # no pool: a kernel of its own
        assert cold.kernel_id not in warm and "05_meta_lstm" in cold.html
        for page in [*pages, cold]:
            server.close_dashboard(page)


@pytest.mark.parametrize("refill", ["idle", "at-once"])
def test_pool_refill_waits_until_no_student_lesson_is_starting(tmp_path, refill):
    """A student who takes the pool's dashboard makes the pool refill; with --refill idle that
    refill must wait while another student's lesson is still starting (else, in a class on two
    cores, every refill slows the students who are waiting for their page). Voila's own way
    (at-once) is the control that shows the test can fail."""
    record = tmp_path / "windows.jsonl"
    write_notebook(tmp_path / "03_pooled.ipynb",
                   f"import json, os, time\nopen({str(record)!r}, 'a').write(json.dumps(['pool', time.time()]) + '\\n')")
    write_notebook(tmp_path / "10_slow.ipynb",
                   f"import json, time\nstarted = time.time()\ntime.sleep(4)\n"
                   f"open({str(record)!r}, 'a').write(json.dumps(['slow', started, time.time()]) + '\\n')")
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--prewarm", "03=1", f"--refill={refill}"]) as server:
        wait_for_log(server, "pre-warmed dashboard of 03_pooled.ipynb drawn", 1)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(server.open_dashboard, "voila/render/10_slow.ipynb")
            time.sleep(1.0)  # the slow lesson is running its cell
            taken = server.open_dashboard("voila/render/03_pooled.ipynb")
            slow = slow.result()
        deadline = time.monotonic() + 60
        while len(record.read_text().splitlines()) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = [json.loads(line) for line in record.read_text().splitlines()]
        for page in (slow, taken):
            server.close_dashboard(page)
    (_, slow_start, slow_end), = [row for row in rows if row[0] == "slow"]
    refill_ran = [row[1] for row in rows if row[0] == "pool"][1:]
    assert refill_ran, f"the pool did not refill: {rows}"
    if refill == "idle":
        assert refill_ran[0] >= slow_end, f"the refill ran {slow_end - refill_ran[0]:.1f} s before the slow lesson ended"
    else:
        assert slow_start < refill_ran[0] < slow_end, f"Voila's refill did not overlap the slow lesson: {rows}"


@pytest.mark.parametrize("refill", ["idle", "at-once"])
def test_pool_refill_waits_while_a_student_page_talks_to_its_kernel(tmp_path, refill):
    """A page taken from a pool is served at once, but then fetches its files and talks to its
    kernel for seconds (30 pages on a classroom's two cores: the widgets' states, the figures).
    With --refill idle the refill must wait until the pages are quiet; if this fails, a class
    arriving at pre-warmed dashboards shares the server with up to 30 refills (lesson 03: half the
    server's CPU of the class's first seconds). Voila's own way (at-once) is the control."""
    WidgetStudent = benchmark_module("widget_client").WidgetStudent

    record = tmp_path / "refills.jsonl"
    write_notebook(tmp_path / "03_pooled.ipynb",
                   f"import json, time\nopen({str(record)!r}, 'a').write(json.dumps(time.time()) + '\\n')\n"
                   "from mtlviz.widgets._canvas import interactive_figure\ninteractive_figure(2.0, 1.0)[1]")
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--prewarm", "03=1", f"--refill={refill}"]) as server:
        wait_for_log(server, "pre-warmed dashboard of 03_pooled.ipynb drawn", 1)

        async def talking_student():
            student = WidgetStudent(server.url, "03_pooled.ipynb", [])
            await student.open()  # the pool's dashboard
            began = time.time()
            while time.time() - began < 6.0:  # a page busy with its kernel, as a loading one is
                await student._send("kernel_info_request", {})
                await asyncio.sleep(0.5)
            ended = time.time()
            await student.close()
            return ended

        talked_until = asyncio.run(asyncio.wait_for(talking_student(), 120))
        deadline = time.monotonic() + 60
        while len(record.read_text().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        refilled_at = [json.loads(line) for line in record.read_text().splitlines()][1:]
    assert refilled_at, "the pool did not refill"
    if refill == "idle":
        assert refilled_at[0] >= talked_until, f"the refill ran {talked_until - refilled_at[0]:.1f} s before the page went quiet"
    else:
        assert refilled_at[0] < talked_until, "Voila's refill waited for the page: the test cannot tell the policies apart"


@pytest.mark.parametrize("start_slots", [1, 0])
def test_lessons_start_one_after_another_with_one_start_slot(tmp_path, start_slots):
    """With 30 students on 2 cores, kernels that all run their lesson at once finish together:
    everyone waits as long as the last. With a start slot, each page's cells run in turn."""
    record = tmp_path / "windows.jsonl"
    write_notebook(tmp_path / "10_slow.ipynb",
                   "import json, time\nstarted = time.time()\ntime.sleep(2)\n"
                   f"open({str(record)!r}, 'a').write(json.dumps([started, time.time()]) + '\\n')")
    with VoilaServer(notebook_dir=tmp_path, extra_args=[f"--start-slots={start_slots}"]) as server:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            pages = list(pool.map(lambda _: server.open_dashboard("voila/render/10_slow.ipynb"), range(2)))
        windows = sorted(json.loads(line) for line in record.read_text().splitlines())
        for page in pages:
            server.close_dashboard(page)
    assert len(windows) == 2
    (_, first_end), (second_start, _) = windows
    if start_slots:
        assert second_start >= first_end, f"the two lessons ran at the same time: {windows}"
    else:  # the control: without the queue they overlap (else this test could not fail)
        assert second_start < first_end, f"without start slots the lessons still ran in turn: {windows}"


def test_start_slot_is_released_when_idle_and_kept_between_cells(tmp_path):
    """A kernel must keep its slot from one start-up cell to the next (else 30 kernels interleave
    cell by cell, as with no queue) and give it back once idle (else the class stalls)."""
    from mtlviz.serve.startup_queue import StartSlots

    first, second = StartSlots(tmp_path, 1), StartSlots(tmp_path, 1)
    first.acquire()
    waiting = threading.Thread(target=second.acquire, daemon=True)
    waiting.start()
    first.release_when_idle(delay_s=0.5)
    first.acquire()  # the next cell starts before the idle delay: the slot is still ours
    time.sleep(0.8)
    assert first.holding and not second.holding, "the slot was given away between two cells"
    first.release_when_idle(delay_s=0.2)
    waiting.join(timeout=5)
    assert second.holding and not first.holding, "an idle kernel kept its slot"
    second.release()


def test_bad_min_free_mb_is_refused(capsys):
    """A typo must be named, not turned into a server that refuses every student."""
    with pytest.raises(SystemExit):
        serve_main(["--min-free-mb=-5"])
    assert "--min-free-mb must be in [0, 10000000]" in capsys.readouterr().err


def test_only_the_chosen_lessons_are_served(classroom):
    """A lesson the teacher left out must not be reachable by typing its address."""
    status, html, _ = fetch(classroom.page_url())
    assert NOT_SERVED not in html
    for path in [f"voila/render/{NOT_SERVED}.ipynb", f"voila/tree/{NOT_SERVED}.ipynb"]:
        status, _, _ = fetch(classroom.page_url(path))
        assert status == 404, f"/{path} answered {status}"
    assert len(classroom.kernel_pids()) == 0


def test_landing_page_lists_lessons_in_course_order_with_summaries(classroom):
    """Students pick a lesson from the landing page: titles and one-line summaries, in course order."""
    status, html, _ = fetch(classroom.page_url())
    assert status == 200
    linked = re.findall(r'href="/voila/render/([^"]+)\.ipynb"', html)
    assert linked == SERVED, "known lessons in course order, then notebooks unknown to the course"
    for stem in SERVED[:2]:
        lesson = next(lesson for lesson in COURSE if lesson.stem == stem)
        item = re.search(rf'href="/voila/render/{stem}\.ipynb">(.*?)</a>', html, re.S).group(1)
        assert lesson.title.replace("&", "&amp;") in item.replace("&#39;", "'")
        assert lesson.summary in item.replace("&#39;", "'")
    assert "scratch pad" in html, "a notebook the course does not know is listed by its file name"
    assert "https://" not in html


def test_presenter_theme_is_dark_large_and_served_locally(classroom, dashboard):
    """On a projector the default light, small text is unreadable from the back of the room."""
    assert 'data-jp-theme-name="JupyterLab Dark"' in dashboard.html or "theme-dark" in dashboard.html
    css_url = re.search(r'href="/(voila/templates/mtlviz-presenter/static/presenter\.css[^"]*)"', dashboard.html)
    assert css_url, "the presenter stylesheet is not linked from this server"
    status, css, _ = fetch(classroom.url + css_url.group(1))
    assert status == 200 and "--jp-widgets-font-size" in css
    external = re.findall(r'<(?:link|script|img)[^>]*(?:src|href)="((?:https?:)?//[^"]+)"', dashboard.html)
    assert not external, f"the page loads {external} from outside the server"
    status, html, _ = fetch(classroom.page_url())
    assert "presenter theme" in html, "the landing page must be dark and large too"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10"])
def test_network_bind_without_token_is_refused(host, capsys):
    """Serving to the network with no token would hand every kernel to anyone on the network."""
    with pytest.raises(SystemExit) as raised:
        serve_main([f"--ip={host}"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "--token" in error and "--password" in error and host in error


def network_address():
    """A non-loopback IPv4 address of this machine, or None."""
    try:
        output = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((address for address in output.split() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address)
                 and not address.startswith("127.")), None)


def test_network_bind_with_token_or_password(lesson_dir, monkeypatch):
    """The classroom recipe: bound to the school network, students get in with the token or the password."""
    address = network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    monkeypatch.setenv("MTLVIZ_PASSWORD", "meta-learning")
    with VoilaServer(notebook_dir=lesson_dir, host=address, token=TOKEN, extra_args=["--password"]) as server:
        assert f"open: http://{address}:{server.port}/?token={TOKEN}" in server.log(), "the URL to share is printed"
        assert fetch(server.url)[0] == 302
        assert fetch(server.page_url())[0] == 200
        # The login form, as a student who types the password.
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(server.url + "login", timeout=60).read().decode()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login_page).group(1)
        for password, expected in [("wrong", False), ("meta-learning", True)]:
            fetch(server.url + "login?next=%2F", data=f"_xsrf={xsrf}&password={password}".encode(), opener=opener)
            status, html, _ = fetch(server.url, opener=opener)
            assert ("voila/render/" in html) is expected, f"password {password!r}: landing page answered {status}"


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def test_no_module_calls_eval_or_exec():
    """Widget values reach the kernel as comm messages; none may be run as code by eval/exec."""
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = function.id if isinstance(function, ast.Name) else None
            if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) \
                    and function.value.id == "builtins":
                name = function.attr
            if name in FORBIDDEN_CALLS:
                offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{node.lineno} {name}()")
    assert not offenders, offenders


def test_the_server_process_does_not_import_torch():
    """torch costs the server process a few hundred MB and seconds of start-up that it never uses
    (only the dashboard kernels need it): a teacher's laptop would start the class slower."""
    import sys

    code = ("import sys, mtlviz, mtlviz.serve, mtlviz.serve.app, mtlviz.guide\n"
            "mtlviz.serve.landing_entries\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "importing the server pulled in torch"


@pytest.mark.parametrize("threads", ["0", "1000"])
def test_kernel_threads_out_of_range_is_refused(threads, capsys):
    """A teacher's typo must stop the server with the allowed range, not start 1,000-thread kernels."""
    with pytest.raises(SystemExit) as raised:
        serve_main([f"--kernel-threads={threads}"])
    assert raised.value.code == 2
    assert "--kernel-threads must be in [1, 256]" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["logout", "voila/templates/lab/index.html.j2",
                                  f"voila/render/{SERVED[0]}.ipynb%00", "voila/files/%00", "x%00y"])
def test_addresses_the_server_does_not_serve_answer_404_not_500(classroom, path):
    """If this fails, a student (or a scanner) typing one of these addresses gets a server error:
    jupyter_server's logout page needs a static_path Voila lacks, Voila's template handler
    unpacks three path parts, and a null byte ends up in a redirect header (each was a 500)."""
    status, _, _ = fetch(classroom.url + path + f"?token={TOKEN}")
    assert status == 404, f"/{path} answered {status}"


def test_template_static_files_are_still_served(classroom):
    """If this fails, the 404 for malformed template paths swallowed the real ones the page loads."""
    status, body, _ = fetch(classroom.page_url("voila/templates/lab/static/index.css"))
    assert status == 200 and body


def fetch_raw(url, headers):
    """(status, headers, body bytes as sent, without decoding any content encoding)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("path", ["voila/static/voila.js", "voila/templates/lab/static/index.css"])
def test_scripts_and_stylesheets_go_gzip_compressed_to_a_browser_that_accepts_it(classroom, path):
    """If this fails, every student downloads a lesson page's 5.3 MB of scripts and stylesheets
    as they are on disk instead of 1.6 MB: a class of 30 with a pool of ready dashboards waited
    22.5 s for its pages over a 100 Mbit/s link instead of 13.1-13.5 s (RESULTS.md)."""
    url = classroom.page_url(path)
    status, plain_headers, plain = fetch_raw(url, {})
    assert status == 200 and plain_headers.get("Content-Encoding") is None and len(plain) > 1024
    status, headers, sent = fetch_raw(url, {"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(sent) == plain, "the compressed answer is not the file"
    assert int(headers["Content-Length"]) == len(sent) < 0.5 * len(plain)
    assert "Accept-Encoding" in headers["Vary"] and "Accept-Encoding" in plain_headers["Vary"]
    assert headers["Content-Type"] == plain_headers["Content-Type"]
    if plain_headers.get("Etag"):  # the compressed bytes are not the file's: a weak tag
        assert headers["Etag"] == "W/" + plain_headers["Etag"]
    # A second student gets the same bytes (from the server's cache).
    assert fetch_raw(url, {"Accept-Encoding": "gzip"})[2] == sent


def test_ranges_revalidation_and_fonts_are_answered_as_before_compression(classroom):
    """If this fails, a browser asking for part of a file, revalidating its cached copy or
    loading a font (compressed already) gets a compressed answer it did not ask for."""
    url = classroom.page_url("voila/static/voila.js")
    _, _, plain = fetch_raw(url, {})
    status, headers, part = fetch_raw(url, {"Accept-Encoding": "gzip", "Range": "bytes=0-99"})
    assert status == 206 and headers.get("Content-Encoding") is None and part == plain[:100]
    status, headers, sent = fetch_raw(url, {"Accept-Encoding": "gzip"})
    status, headers, body = fetch_raw(url, {"Accept-Encoding": "gzip", "If-Modified-Since": headers["Last-Modified"]})
    assert status == 304 and body == b"" and headers.get("Content-Encoding") is None
    from voila.paths import collect_static_paths  # where the server looks for the template's files

    fonts = sorted(path for root in collect_static_paths(["voila", "nbconvert"], "lab")
                   for path in Path(root).glob("*.woff2"))
    assert fonts, "no woff2 font among the lab template's static files"
    status, headers, body = fetch_raw(classroom.page_url("voila/templates/lab/static/" + fonts[0].name),
                                      {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") is None and body == fonts[0].read_bytes()
