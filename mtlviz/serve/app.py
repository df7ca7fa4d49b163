"""The classroom Voila application: a kernel cap, the landing page's catalogue, the XSRF cookie fix.

Imported only by :func:`mtlviz.serve.main` (it needs Voila and jupyter_server at import time).
"""
from __future__ import annotations

from typing import Optional

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from traitlets import Bool, Integer, Unicode
from voila.app import Voila
from voila.static_file_handler import AllowListFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from .landing import landing_entries

__all__ = ["ClassFull", "CappedKernelManager", "ClassroomHandler", "ClassroomFileHandler", "ClassroomVoila",
           "NotServedHandler"]


class ClassFull(Exception):
    """Raised instead of starting a kernel at the cap or below the memory floor; says which, in words."""


def available_mb() -> float:
    """Memory the system can give new processes without swapping, in MB (psutil comes with ipykernel)."""
    import psutil

    return psutil.virtual_memory().available / 2**20


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


class ClassroomHandler(TornadoVoilaHandler):
    """Voila's dashboard page, plus the ``_xsrf`` cookie and a "class is full" page at the cap.

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
        prewarmed = self._prewarmed_ready(path)
        reason = None if prewarmed else self.kernel_manager.full_reason()
        if reason is not None:  # answer at once, before the notebook is read
            return self.finish_class_full(reason)
        try:
            await super().get(path=path)
        except ClassFull as full:
            if self._headers_written:
                raise
            self.finish_class_full(str(full))

    def _prewarmed_ready(self, path) -> bool:
        """True if a pre-warmed dashboard of ``path`` is waiting (it counts against the cap already).

        A pool refill refused at the cap leaves a failed entry in Voila's pool, which Voila would
        hand to the next student as an error: drop those first (``_pools`` is Voila 0.5's, pinned).
        """
        pool = getattr(self.kernel_manager, "_pools", {}).get(path)
        if not pool:
            return False
        pool[:] = [task for task in pool if not (task.done() and (task.cancelled() or task.exception() is not None))]
        return bool(pool)

    def finish_class_full(self, reason: str) -> None:
        """Answer 503 with a friendly page instead of starting one more kernel."""
        self.log.warning("The class is full (%s); refused %s", reason, self.request.path)
        self.clear()
        self.set_status(503)
        self.set_header("Retry-After", "60")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.render_template("class-full.html", reason=reason))


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


class ClassroomVoila(Voila):
    """Voila in tree mode with :class:`ClassroomHandler` and the lesson catalogue for the landing page."""

    presenter = Bool(False, config=True, help="Presenter theme: dark, larger fonts (projector).")
    prewarm = Integer(0, config=True, help="Dashboards of prewarm_lesson to keep started and rendered, ready for the next visitor.")
    prewarm_lesson = Unicode("", config=True, help="File name of the lesson to pre-warm (relative to the served folder).")

    def initialize(self, argv=None):
        super().initialize(argv)
        if self.prewarm > 0:
            # Voila's pre-heated kernels, for one lesson only: every other notebook's pool is 0.
            self.voila_configuration.preheat_kernel = True
            self.voila_configuration.default_pool_size = 0
            self.config.VoilaKernelManager.kernel_pools_config = {
                "default": {"pool_size": 0}, self.prewarm_lesson: {"pool_size": self.prewarm}}

    def init_settings(self):
        settings = super().init_settings()
        settings["voila_jinja2_env"].globals.update(mtlviz_lessons=landing_entries, mtlviz_presenter=self.presenter)
        return settings

    def init_handlers(self):
        ours = {TornadoVoilaHandler: ClassroomHandler, AllowListFileHandler: ClassroomFileHandler}
        not_served = [(url_path_join(self.server_url, pattern), NotServedHandler) for pattern in NOT_SERVED_PATTERNS]
        return not_served + [(pattern, ours.get(handler, handler), *rest)
                             for pattern, handler, *rest in super().init_handlers()]
