"""The classroom Voila application: a kernel cap, a waiting room, the landing page's catalogue, the XSRF cookie fix.

Imported only by :func:`mtlviz.serve.main` (it needs Voila and jupyter_server at import time).
"""
from __future__ import annotations

import asyncio
import html
import json
import os
import time
from typing import Dict, Optional, Set
from urllib.parse import parse_qsl, urlencode

import tornado.web
from tornado.log import access_log
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from traitlets import Bool, Enum, Integer, Unicode
from voila import app as voila_app
from voila import handler as voila_handler
from voila import notebook_renderer as voila_renderer
from voila.app import Voila
from voila.execute import VoilaExecutor
from voila.static_file_handler import AllowListFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from . import compression, speedups
from .kernel import DRAW_WHEN_IDLE_ENV
from .landing import landing_entries, lesson_heading
from .pools import available_mb
from .startup_queue import NICE_ENV
from .waiting_room import LONG_POLL_S, WaitingRoom

__all__ = ["ClassFull", "CappedKernelManager", "PoolRefills", "ClassroomHandler", "ClassroomFileHandler",
           "ClassroomVoila", "LessonExecutor", "LessonRenderer", "NotServedHandler", "REFILL_POLICIES",
           "StudentTraffic", "WaitingRoomHandler", "check_voila_internals", "log_noting_traffic",
           "watch_student_traffic"]

#: How pre-warmed pools refill after a student takes a dashboard: ``idle`` waits until no
#: student's page is starting, and no page has fetched a file or talked to its kernel, for
#: :data:`QUIET_S` (then at most ``pool_fill_at_once`` pool dashboards start at a time);
#: ``nice`` starts them at once but at a lower OS priority (``os.nice`` in the kernel, for its
#: whole life: the student who later gets it keeps it); ``at-once`` is Voila's own behaviour.
REFILL_POLICIES = ("idle", "nice", "at-once")
#: ``nice`` policy: the niceness of pool kernels (weight 110 against a student's 1024 on Linux CFS).
POOL_NICENESS = 10
#: ``idle`` policy: seconds with no student page starting, no request answered and no message
#: between a page and its kernel, before a pool refill may start.
QUIET_S = 2.0
POLL_S = 0.25
#: The query argument that carries a waiting-room ticket to the dashboard's address.
TICKET_ARGUMENT = "mtlviz_ticket"
#: tornado settings keys: the server's :class:`WaitingRoom`, and its ``open_at_once`` (0: none).
ROOM_SETTING, OPEN_AT_ONCE_SETTING = "mtlviz_waiting_room", "mtlviz_open_at_once"
#: A long poll looks this often whether its page went away.
WAKE_S = 2.0


class StudentTraffic:
    """When a student's page last had the server's attention: a request answered (the files a
    page loads, the waiting room's polls) or a message between a page and its kernel.

    A page taken from a pool is served at once, so "no page starting" (the ``idle`` policy until
    2026-12-05) let the refills start about 2 s after a class of 30 arrived, while their pages
    were still fetching their files and asking their kernels for the widgets: in a class of
    pre-warmed lesson-03 dashboards, the refills took half the server's CPU of the class's first
    seconds (``classroom_load.py --without-browsers --prewarm 30``, RESULTS.md).
    """

    last = 0.0  # time.monotonic() of the latest

    @classmethod
    def note(cls) -> None:
        cls.last = time.monotonic()


def watch_student_traffic() -> None:
    """Note every message between a page and its kernel (jupyter_server's websocket connection,
    both ways) in :class:`StudentTraffic`; pool kernels being filled talk to Voila directly, not
    through a websocket, so they do not count. Once per process."""
    for name in ("handle_incoming_message", "handle_outgoing_message"):
        original = getattr(ZMQChannelsWebsocketConnection, name)
        if getattr(original, "mtlviz_noted", False):
            continue

        def noted(self, *args, _original=original, **kwargs):
            StudentTraffic.note()
            return _original(self, *args, **kwargs)

        noted.mtlviz_noted = True
        setattr(ZMQChannelsWebsocketConnection, name, noted)


def log_noting_traffic(previous=None):
    """A request log for tornado's ``log_function`` setting that notes each request in
    :class:`StudentTraffic`, then logs it with ``previous`` (the log function already set, if
    any) or as tornado does without one (its format and levels)."""
    def log_request(handler) -> None:
        StudentTraffic.note()
        if previous is not None:
            return previous(handler)
        status = handler.get_status()
        log = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
        log("%d %s %.2fms", status, handler._request_summary(), 1000.0 * handler.request.request_time())

    return log_request


class ClassFull(Exception):
    """Raised instead of starting a kernel at the cap or below the memory floor; says which, in words."""


class CappedKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a cap on kernels running or starting at once, and a floor
    on free memory below which no kernel starts.

    Starting kernels count too, so 30 students opening a lesson in the same second cannot
    overshoot the cap: the check and the reservation happen without an ``await`` in between.
    The memory floor covers what a count cannot: a lesson whose kernels are bigger than the cap
    assumed, or other programs on the teacher's laptop.
    """

    max_kernels = Integer(0, config=True, help="Most kernels running or starting at once (0: no cap).")
    min_free_mb = Integer(0, config=True, help="Start no kernel while less memory than this is free, in MB (0: off).")
    starting = Integer(0, help="Kernels whose start is in progress.")
    pages_starting = Integer(0, help="Dashboard pages being served now (a student's lesson starting).")
    last_page_done = 0.0  # time.monotonic() when the last such page finished

    def full_reason(self) -> Optional[str]:
        """Why no further kernel may start now, in words for the class-full page; None if one may."""
        if self.max_kernels > 0 and len(self.list_kernel_ids()) + self.starting >= self.max_kernels:
            return f"All {self.max_kernels} dashboards this server can run at once are open"
        if self.min_free_mb > 0:
            free = available_mb()
            if free < self.min_free_mb:
                return (f"The server is short of memory ({free:.0f} MB free; it keeps {self.min_free_mb} MB "
                        f"in reserve so that the open dashboards keep working)")
        return None

    def is_full(self) -> bool:
        return self.full_reason() is not None

    async def start_kernel(self, *args, **kwargs):
        reason = self.full_reason()
        if reason is not None:
            raise ClassFull(reason)
        self.starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self.starting -= 1


class PoolRefills:
    """Mixed into Voila's pre-heating kernel manager (``VoilaKernelManager``, Voila 0.5.13, pinned):
    pool dashboards that yield to students.

    Voila refills a pool one second after a student takes a dashboard from it (``fill_if_needed``
    creates a task per missing dashboard that runs ``_initialize``: start a kernel, then render the
    whole lesson in it), whatever else the server is doing, so in a busy class the refills compete
    for the cores with the students who are waiting for their own lessons to start. Here each
    pool dashboard, before starting its kernel, waits for a place among ``pool_fill_at_once``
    (so pool kernels can never fill all the start slots students need) and, with the ``idle``
    policy, until for :data:`QUIET_S` no student page has been starting and no page has had the
    server's attention (:class:`StudentTraffic`). A pool entry still
    waiting is not ready: Voila's handler must not hand it to a student (who would then wait for
    the class to go quiet, including for themself), so ``get_pool_size`` counts only entries past
    the wait and ``get_rendered_notebook`` hands those out first.
    """

    refill_policy = "idle"
    pool_fill_at_once = 1

    def _pool_state(self):
        if not hasattr(self, "_refill_places"):
            self._refill_places = asyncio.Semaphore(max(1, self.pool_fill_at_once))
            self._past_wait: Set[asyncio.Task] = set()
            self._pool_target: Dict[str, int] = {}
        return self._refill_places, self._past_wait

    def _ready(self, task: asyncio.Task) -> bool:
        """A pool entry a student may be given: its kernel started or starting, not failed."""
        if task.done():
            return not task.cancelled() and task.exception() is None
        return task in self._pool_state()[1]

    def ready_in_pool(self, notebook_name: str) -> int:
        return sum(self._ready(task) for task in self._pools.get(notebook_name, ()))

    def get_pool_size(self, notebook_name: str) -> int:
        return self.ready_in_pool(notebook_name)

    async def get_rendered_notebook(self, notebook_name: str, *args, **kwargs):
        pool = self._pools.get(notebook_name, [])
        pool.sort(key=lambda task: not self._ready(task))  # stable: ready entries first, in order
        return await super().get_rendered_notebook(notebook_name, *args, **kwargs)

    async def _until_students_are_quiet(self) -> None:
        while self.pages_starting or time.monotonic() - max(self.last_page_done, StudentTraffic.last) < QUIET_S:
            await asyncio.sleep(POLL_S)

    async def _initialize(self, notebook_path: str, kernel_id: Optional[str] = None, **kwargs):
        if kernel_id is not None:  # a restart: Voila's own way
            return await super()._initialize(notebook_path, kernel_id, **kwargs)
        places, past_wait = self._pool_state()
        gated = self.refill_policy != "at-once"
        asked = time.monotonic()
        task = asyncio.current_task()  # the pool entry itself (Voila awaits _initialize in it)
        # Its kernel draws the lesson's figures once the cells have run (mtlviz.serve.kernel), so
        # that the student who takes this dashboard does not wait for that draw.
        kwargs["env"] = {**kwargs.get("env", {}), DRAW_WHEN_IDLE_ENV: "1"}
        if gated:
            await places.acquire()
        try:
            if self.refill_policy == "idle":
                await self._until_students_are_quiet()
            elif self.refill_policy == "nice":  # the kernel lowers its own priority as it starts
                kwargs["env"] = {**kwargs.get("env", {}), NICE_ENV: str(POOL_NICENESS)}
            past_wait.add(task)
            content = await super()._initialize(notebook_path, None, **kwargs)
        except BaseException:
            if gated:
                places.release()
            past_wait.discard(task)
            raise

        def drawn(render_task: asyncio.Future) -> None:
            if gated:
                places.release()
            past_wait.discard(task)
            self.log.info("[mtlviz] pre-warmed dashboard of %s drawn %.1f s after it was asked for; "
                          "%d of %s ready", notebook_path, time.monotonic() - asked,
                          self.ready_in_pool(notebook_path), self.kernel_pools_config.get(
                              notebook_path, {}).get("pool_size", "?"))

        content["task"].add_done_callback(drawn)
        return content


class ClassroomHandler(TornadoVoilaHandler):
    """Voila's dashboard page, plus the ``_xsrf`` cookie, a "class is full" page at the cap, and
    the waiting room's page for a student past ``--open-at-once`` (:mod:`mtlviz.serve.waiting_room`).

    Voila 0.5's page posts a shutdown beacon carrying the ``_xsrf`` cookie on ``beforeunload``,
    but its handler never sets the cookie, so every closed tab leaked a kernel (voila#1458).
    Reading ``xsrf_token`` makes tornado set it.
    """

    async def prepare(self, *args, **kwargs):
        result = super().prepare(*args, **kwargs)
        if result is not None:
            await result
        self.xsrf_token  # reading it makes tornado set the _xsrf cookie on this response

    @tornado.web.authenticated
    async def get(self, path=None):
        manager, room = self.kernel_manager, self.waiting_room()
        ticket = self.get_argument(TICKET_ARGUMENT, None)
        claimed = room is not None and room.claim(ticket, path)  # used up, even if the class is full
        prewarmed = self._prewarmed_ready(path)
        reason = None if prewarmed else manager.full_reason()
        if reason is not None:  # answer at once, before the notebook is read
            return self.finish_class_full(reason)
        # A pre-warmed dashboard costs the server next to nothing: it never waits.
        if room is not None and not (claimed or prewarmed or room.may_open_now()):
            return self.finish_waiting_room(room, ticket if room.holds(ticket, path) else room.join(path), path)
        manager.pages_starting += 1  # pool refills wait for this (PoolRefills, policy "idle")
        place = room.page_started() if room is not None else None
        try:
            await super().get(path=path)
        except ClassFull as full:
            if self._headers_written:
                raise
            self.finish_class_full(str(full))
        finally:
            manager.pages_starting -= 1
            manager.last_page_done = time.monotonic()
            if room is not None:
                room.page_done(place)

    def waiting_room(self) -> Optional[WaitingRoom]:
        """The server's waiting room (one, made at the first page), or None if it has none."""
        room = self.settings.get(ROOM_SETTING)
        if room is None and self.settings.get(OPEN_AT_ONCE_SETTING):
            room = self.settings[ROOM_SETTING] = WaitingRoom(self.settings[OPEN_AT_ONCE_SETTING])
        return room

    def finish_waiting_room(self, room: WaitingRoom, ticket: str, path: str) -> None:
        """Answer at once with a small finished page that opens the dashboard when its turn comes."""
        status = room.status(ticket)
        query = [(key, value) for key, value in parse_qsl(self.request.query, keep_blank_values=True)
                 if key != TICKET_ARGUMENT]
        open_url = f"{self.request.path}?{urlencode(query + [(TICKET_ARGUMENT, ticket)])}"
        ahead = status["ahead"] if status else 0
        self.log.info("[mtlviz] %s waits its turn (%d ahead, %d dashboards opening)", path, ahead, room.opening())
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.render_template(
            "waiting-room.html", status_url=url_path_join(self.base_url, "voila", "mtlviz-queue", ticket),
            open_url=open_url, ahead=ahead, ahead_words=ahead_words(ahead),
            lesson=lesson_heading(path or "")))

    def _prewarmed_ready(self, path) -> bool:
        """True if a pre-warmed dashboard of ``path`` is waiting (it counts against the cap already).

        A pool refill refused at the cap leaves a failed entry in Voila's pool, which Voila would
        hand to the next student as an error: drop those first (``_pools`` is Voila 0.5's, pinned).
        """
        pool = getattr(self.kernel_manager, "_pools", {}).get(path)
        if not pool:
            return False
        pool[:] = [task for task in pool if not (task.done() and (task.cancelled() or task.exception() is not None))]
        ready_in_pool = getattr(self.kernel_manager, "ready_in_pool", None)  # PoolRefills
        return ready_in_pool(path) > 0 if ready_in_pool else bool(pool)

    def finish_class_full(self, reason: str) -> None:
        """Answer 503 with a friendly page instead of starting one more kernel."""
        self.log.warning("The class is full (%s); refused %s", reason, self.request.path)
        self.clear()
        self.set_status(503)
        self.set_header("Retry-After", "60")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.render_template("class-full.html", reason=reason))


def ahead_words(ahead: int) -> str:
    """The waiting page's line (its script writes the same words as the line moves)."""
    if ahead == 0:
        return "You are next."
    return "1 student is ahead of you." if ahead == 1 else f"{ahead} students are ahead of you."


class WaitingRoomHandler(JupyterHandler):
    """``/voila/mtlviz-queue/<ticket>?ahead=N``: a waiting page's long poll. Answers JSON
    ``{"ahead": n, "go": bool}`` once the number ahead differs from ``N`` or the turn has come, at
    the latest after :data:`~mtlviz.serve.waiting_room.LONG_POLL_S`; 404 for a ticket the room
    does not hold (the page then asks for the dashboard again)."""

    gone = False

    def on_connection_close(self):
        self.gone = True

    @tornado.web.authenticated
    async def get(self, ticket):
        room = self.settings.get(ROOM_SETTING)
        known = self.get_argument("ahead", None)
        status = room.status(ticket) if room is not None else None
        if status is not None:
            room.poll_opened(ticket)
            try:
                deadline = time.monotonic() + LONG_POLL_S
                while (not status["go"] and str(status["ahead"]) == known and not self.gone
                       and time.monotonic() < deadline):
                    await room.changed(min(WAKE_S, max(0.0, deadline - time.monotonic())))
                    status = room.status(ticket)
                    if status is None:
                        break
            finally:
                room.poll_closed(ticket)
        if self.gone:
            return
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        if status is None:
            self.set_status(404)
            self.finish(json.dumps({"error": "this place in the waiting room is no longer held"}))
        else:
            self.finish(json.dumps(status))


class ClassroomFileHandler(JupyterHandler, AllowListFileHandler):
    """Voila's ``/voila/files/`` (the images a lesson shows), behind the server's token or password.

    Voila serves these with a plain tornado static handler that never asks who is calling, so a
    server started with ``--token`` still handed the lessons' images to anyone on the network.
    """

    @tornado.web.authenticated
    def head(self, path):
        return super().head(path)

    @tornado.web.authenticated
    def get(self, path, include_body=True):
        return super().get(path, include_body=include_body)


class NotServedHandler(tornado.web.RequestHandler):
    """A plain 404 for addresses the classroom server does not serve, where Voila's or
    jupyter_server's own handler would fail with a 500: ``/logout`` (its page needs a
    ``static_path`` Voila does not set), template paths without ``<template>/static/<file>``
    (Voila's handler unpacks three parts), and any path holding an encoded null byte (Voila puts
    it into a redirect header)."""

    def prepare(self):
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish("404: Not Found")


#: Raw (still percent-encoded) paths, relative to the server's base URL, that answer 404.
NOT_SERVED_PATTERNS = (r"/logout", r"/voila/templates/(?![^/]+/static/[^/]).*", r"/.*%00.*")


class LessonExecutor(VoilaExecutor):
    """Voila's cell executor, going on past a failing cell and saying in one line what failed.

    Voila 0.5 stops rendering a page at the first cell that raises, and replaces the error with
    "There was an error when executing cell [N]. Please run Voilà with --show_tracebacks=True ...":
    a lesson whose shipped file is missing would show nothing below that cell, and the student
    reads advice meant for whoever runs the server. Here the rest of the page runs (nbclient's
    ``allow_errors``), and each error shows as one line, its type and the first line of its
    message: for a missing or corrupt artefact, :class:`~mtlviz.WeightsError` names the command
    that regenerates it. Tracebacks stay hidden unless Voila runs with ``--show_tracebacks``.
    """

    allow_errors = Bool(True, config=True, help="Run the cells after a failing one (one-line errors).")

    def strip_code_cell_errors(self, cell):
        if cell.get("cell_type") != "code":
            return cell
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                message = (str(output.get("evalue", "")).strip().splitlines() or [""])[0]
                output["traceback"] = [f"{output.get('ename', 'Error')}: {message}" if message else output.get("ename", "Error")]
        return cell


#: What a student's page says, in place of Voila's spinner, when its lesson stopped before it was
#: drawn (its kernel died while starting, or the server lost it); ``{error}`` is one line.
START_FAILED_HTML = """
</div></div>
<p class="mtlviz-start-failed" style="padding: 2em 6ex; font-family: sans-serif; font-size: 15px;">
This lesson stopped before it was drawn ({error}). Reload the page to start it again.</p>
<script>(function () { var spinner = document.getElementById("loading"); if (spinner) spinner.remove(); })();</script>
</body>
</html>
"""


async def _ending_on_failure(snippets, log):
    """``snippets`` (Voila's page, streamed), ending with :data:`START_FAILED_HTML` if it fails."""
    try:
        async for snippet in snippets:
            yield snippet
    except Exception as error:  # noqa: BLE001  (any failure must end the page, not leave it spinning)
        line = (str(error).strip().splitlines() or [""])[0]
        log.warning("A page stopped before it was drawn: %s: %s", type(error).__name__, line)
        said = html.escape(f"{type(error).__name__}: {line}" if line else type(error).__name__)
        yield START_FAILED_HTML.replace("{error}", said), {}


class LessonRenderer(voila_renderer.NotebookRenderer):
    """Voila's page renderer, whose page ends with one line if the lesson stops before it is drawn.

    Voila 0.5.13 streams a page from a task; if that task fails (the kernel died while starting:
    "Kernel died before replying to kernel_info"), the exception is lost and the page waits for
    the rest forever, its spinner turning, while Voila sends heartbeats. The page now ends with
    :data:`START_FAILED_HTML` instead.
    """

    def generate_content_generator(self, kernel_id=None, kernel_future=None):
        return _ending_on_failure(super().generate_content_generator(kernel_id, kernel_future), self.log)


#: What this module relies on in Voila and jupyter_server beyond their public API (Voila 0.5.13,
#: pinned in requirements/lock.txt): checked before the server starts, so that a different version
#: refuses to start instead of silently losing the kernel cap, the XSRF fix or the one-line errors.
VOILA_INTERNALS = [
    (voila_app, "voila_kernel_manager_factory"),
    (voila_renderer, "VoilaExecutor"),
    (voila_handler, "NotebookRenderer"),
    (voila_renderer.NotebookRenderer, "generate_content_generator"),
    (VoilaExecutor, "strip_code_cell_errors"),
    (VoilaExecutor, "should_strip_error"),
    (TornadoVoilaHandler, "get"),
    (ZMQChannelsWebsocketConnection, "handle_incoming_message"),  # watch_student_traffic
    (ZMQChannelsWebsocketConnection, "handle_outgoing_message"),
    (AllowListFileHandler, "validate_absolute_path"),
    (speedups.TemplateExporter, "_create_environment"),  # speedups.share_template_code
    (speedups.jsonutil, "parse_date"),  # speedups.fast_message_dates
    (speedups.jsonutil, "ISO8601_PAT"),
    (speedups.jsonutil, "_ensure_tzinfo"),
]


def check_voila_internals() -> None:
    """Raise RuntimeError naming the pin if the installed Voila lacks what mtlviz.serve patches."""
    import voila

    missing = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in VOILA_INTERNALS
               if not hasattr(owner, name)]
    if missing:
        raise RuntimeError(f"mtlviz.serve needs Voila 0.5.13's internals ({', '.join(missing)} missing in voila "
                           f"{voila.__version__}); install the tested set: pip install -c requirements/lock.txt -e .")


class ClassroomVoila(Voila):
    """Voila in tree mode with :class:`ClassroomHandler` and the lesson catalogue for the landing page."""

    presenter = Bool(False, config=True, help="Presenter theme: dark, larger fonts (projector).")
    prewarm_pools = Unicode("{}", config=True, help="JSON object: lesson file name (relative to the served "
                            "folder) -> dashboards to keep started and rendered, ready for the next visitor.")
    refill = Enum(REFILL_POLICIES, default_value="idle", config=True,
                  help="How pools refill after a dashboard is taken (see REFILL_POLICIES).")
    pool_fill_at_once = Integer(max(1, os.cpu_count() or 1), config=True,
                                help="Most pool dashboards starting at once (policies idle and nice).")
    open_at_once = Integer(0, config=True, help="Dashboard pages served at once; later students wait their turn "
                           "on a small finished page (mtlviz.serve.waiting_room). 0: no waiting room.")

    def pools(self) -> Dict[str, int]:
        return {name: int(size) for name, size in json.loads(self.prewarm_pools).items() if int(size) > 0}

    def initialize(self, argv=None):
        check_voila_internals()
        # Voila's page renderer makes its executor by this module-level name (checked above).
        voila_renderer.VoilaExecutor = LessonExecutor
        voila_handler.NotebookRenderer = LessonRenderer  # the page handler's name for its renderer
        speedups.install()  # templates compiled once per server, message dates parsed in C
        compression.install()  # static files gzip-compressed, once per server
        watch_student_traffic()  # for the idle refill policy (PoolRefills)
        super().initialize(argv)
        pools = self.pools()
        if pools:
            # Voila's pre-heated kernels, per lesson. Without the "default" entry of 0, every other
            # notebook would silently get a pool of 1 (FIELD-NOTES).
            self.voila_configuration.preheat_kernel = True
            self.voila_configuration.default_pool_size = 0
            self.config.VoilaKernelManager.kernel_pools_config = {
                "default": {"pool_size": 0}, **{name: {"pool_size": size} for name, size in pools.items()}}

    def init_settings(self):
        if not self.pools():
            settings = super().init_settings()
        else:
            # Voila builds its kernel manager class inside init_settings, from a factory: wrap the
            # class it returns so the pools refill the classroom's way (PoolRefills).
            factory = voila_app.voila_kernel_manager_factory
            policy, at_once = self.refill, self.pool_fill_at_once

            def classroom_factory(*args, **kwargs):
                base = factory(*args, **kwargs)
                return type("ClassroomKernelManager", (PoolRefills, base),
                            {"refill_policy": policy, "pool_fill_at_once": at_once})

            voila_app.voila_kernel_manager_factory = classroom_factory
            try:
                settings = super().init_settings()
            finally:
                voila_app.voila_kernel_manager_factory = factory
        settings["voila_jinja2_env"].globals.update(mtlviz_lessons=landing_entries, mtlviz_presenter=self.presenter)
        settings[OPEN_AT_ONCE_SETTING] = self.open_at_once
        settings["log_function"] = log_noting_traffic(settings.get("log_function"))  # for PoolRefills
        return settings

    def init_handlers(self):
        ours = {TornadoVoilaHandler: ClassroomHandler, AllowListFileHandler: ClassroomFileHandler}
        not_served = [(url_path_join(self.server_url, pattern), NotServedHandler) for pattern in NOT_SERVED_PATTERNS]
        queue = [(url_path_join(self.server_url, r"/voila/mtlviz-queue/([A-Za-z0-9_-]+)"), WaitingRoomHandler)]
        return not_served + queue + [(pattern, ours.get(handler, handler), *rest)
                             for pattern, handler, *rest in super().init_handlers()]
