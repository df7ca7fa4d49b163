"""Static files sent gzip-compressed, each compressed once per server (issue 19).

A lesson's page fetches about 110 files from the server besides the dashboard, 5.3 MB of them
(Voila's and the widget libraries' JavaScript, the stylesheets, the fonts), and Voila sends them
as they are on disk. Gzipped, the same files are 1.6 MB. On the teacher's machine that does not
matter; on a classroom's network it does: every student downloads them at the same moment. A
class of 30 with a pool of ready dashboards (``benchmarks/classroom_load.py --without-browsers
--prewarm 03=30 --link-mbit N``, 2026-12-05) drew all its pages after 22.5-22.7 s through one
100 Mbit/s link and 48-51 s through 30 Mbit/s, against 11 s with no link in between; with the
files compressed, 13.1-13.5 s and 23.9 s (RESULTS.md, "Classroom load").

:func:`install` makes tornado's ``StaticFileHandler``, which every static route of Voila and
jupyter_server derives from, answer a client that accepts gzip with the file gzip-compressed:

- only text-like files (JavaScript, CSS, JSON, SVG, HTML) of at least 1 KB; fonts and pictures are
  compressed already and go as they are;
- each file is compressed once (level 6, no timestamp, so the bytes are the same every time) and
  kept in memory by its path, size and modification time, :data:`CACHE_BYTES` in all, the least
  recently sent dropped first; a file that changes on disk is compressed again;
- a request for a byte range, a ``304 Not Modified`` and a client that does not accept gzip get
  what they got before; the ``Vary: Accept-Encoding`` header tells caches the answers differ, and
  the entity tag is marked weak (``W/``) on a compressed answer, since its bytes are not the file's.

The dashboard page itself is not compressed: Voila streams it while the lesson's cells run.
Installed by :class:`mtlviz.serve.app.ClassroomVoila` in the server process only.
"""
from __future__ import annotations

import gzip
import os
from collections import OrderedDict
from typing import Optional, Tuple

import tornado.web

__all__ = ["CACHE_BYTES", "CompressedFiles", "MIN_BYTES", "compressible", "install", "wants_gzip"]

#: Smallest file worth compressing (tornado's own threshold for compressed responses).
MIN_BYTES = 1024
#: Largest file compressed; a bigger one is sent as it is.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Compressed bytes kept in memory at most (a lesson's files take about 1.6 MB).
CACHE_BYTES = 64 * 1024 * 1024

_TEXT_LIKE = {"application/javascript", "application/x-javascript", "application/json", "application/xml",
              "application/manifest+json", "image/svg+xml"}


def compressible(content_type: Optional[str]) -> bool:
    """Whether a file of this ``Content-Type`` gains from gzip (text-like types only)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype.startswith("text/") or ctype in _TEXT_LIKE or ctype.endswith(("+json", "+xml"))


def wants_gzip(accept_encoding: Optional[str]) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (and does not refuse it with ``q=0``)."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


class CompressedFiles:
    """Files gzip-compressed once, kept by (path, size, modification time), at most ``limit``
    compressed bytes in all; the least recently used are dropped first."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0 bytes, got {limit}")
        self.limit = limit
        self.compressions = 0  # how many times a file was compressed (tests, benchmarks)
        self._entries: "OrderedDict[str, Tuple[Tuple[int, int], bytes]]" = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Compressed bytes held."""
        return self._size

    def get(self, path: str) -> Optional[bytes]:
        """The file at ``path`` gzip-compressed, or None for a file under :data:`MIN_BYTES` or
        over :data:`MAX_FILE_BYTES` (sent as it is)."""
        stat = os.stat(path)
        version = (stat.st_size, stat.st_mtime_ns)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == version:
            self._entries.move_to_end(path)
            return entry[1]
        if not MIN_BYTES <= stat.st_size <= MAX_FILE_BYTES:
            return None
        with open(path, "rb") as file:
            data = file.read()
        compressed = gzip.compress(data, compresslevel=6, mtime=0)
        self.compressions += 1
        self._drop(path)
        if len(compressed) <= self.limit:
            self._entries[path] = (version, compressed)
            self._size += len(compressed)
            while self._size > self.limit:
                self._drop(next(iter(self._entries)))
        return compressed

    def _drop(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is not None:
            self._size -= len(entry[1])


#: The server's compressed files.
FILES = CompressedFiles()

_original_set_headers = tornado.web.StaticFileHandler.set_headers


def _set_headers(self: tornado.web.StaticFileHandler) -> None:
    """StaticFileHandler.set_headers, then the file's gzip-compressed bytes as its content when
    the client accepts them (see the module's docstring)."""
    _original_set_headers(self)
    if not compressible(self._headers.get("Content-Type")):
        return
    self.add_header("Vary", "Accept-Encoding")
    request = self.request
    if (not wants_gzip(request.headers.get("Accept-Encoding")) or request.headers.get("Range")
            or self.should_return_304()):
        return
    compressed = FILES.get(self.absolute_path)
    if compressed is None:
        return
    # tornado's get() asks the instance for the content and its size after this call.
    self.get_content_size = lambda: len(compressed)
    self.get_content = lambda abspath, start=None, end=None: [compressed]
    self.set_header("Content-Encoding", "gzip")
    etag = self._headers.get("Etag")
    if etag and not etag.startswith("W/"):
        self.set_header("Etag", "W/" + etag)


def install() -> None:
    """Compressed static files in this (the server's) process."""
    tornado.web.StaticFileHandler.set_headers = _set_headers
