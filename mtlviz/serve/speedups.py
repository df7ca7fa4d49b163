"""Two per-student costs of the Voila server process, cut (issue 19).

Profiled in 10-session runs of ``benchmarks/classroom_load.py`` (py-spy on the server, RESULTS.md),
the server process spends about 0.7 CPU-s per student after its own start-up. Two parts of that
are repeated work with nothing to show for it:

- nbconvert builds a new Jinja environment for every page, so Voila's templates are lexed,
  parsed and compiled to Python again for every student (0.08-0.11 CPU-s per page).
  :func:`share_template_code` gives those environments one in-memory bytecode cache: a template
  is compiled once per server, and again only when its source changes (the cache checks a hash of
  the source) or for an environment compiled differently (async or not, other extensions).
- jupyter_server notes a kernel's activity by decoding every message it sends, dates included,
  with dateutil (about 10 µs per date). :func:`fast_message_dates` parses the ISO 8601 dates of
  message headers with the C ``datetime.fromisoformat`` (about 1 µs), falling back to
  jupyter_client's own parser for anything it does not take, so the result is the same datetime.

Installed by :class:`mtlviz.serve.app.ClassroomVoila` in the server process only: the kernels and
``import mtlviz`` never run this.
"""
from __future__ import annotations

from datetime import datetime
from typing import Dict, Tuple

import jinja2
from jupyter_client import jsonutil
from nbconvert.exporters.templateexporter import TemplateExporter

__all__ = ["SharedTemplateCode", "fast_message_dates", "install", "share_template_code"]


class SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept in memory and shared by every Jinja environment that uses it.

    Keyed by template (Jinja's key: name and file), by how the environment compiles (async or
    not, its extensions) and checked against the hash of the source, so an edited template or a
    differently configured environment compiles its own code.
    """

    def __init__(self) -> None:
        self.code: Dict[Tuple, Tuple[str, object]] = {}

    @staticmethod
    def _key(bucket: jinja2.bccache.Bucket) -> Tuple:
        environment = bucket.environment
        return bucket.key, environment.is_async, tuple(sorted(environment.extensions))

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        stored = self.code.get(self._key(bucket))
        if stored is not None and stored[0] == bucket.checksum:
            bucket.code = stored[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[self._key(bucket)] = (bucket.checksum, bucket.code)


def share_template_code() -> SharedTemplateCode:
    """Every nbconvert template environment made from now on in this process shares one cache."""
    current = getattr(TemplateExporter._create_environment, "mtlviz_shared_code", None)
    if current is not None:  # installed already
        return current
    shared = SharedTemplateCode()
    create = TemplateExporter._create_environment

    def _create_environment(self):
        environment = create(self)
        environment.bytecode_cache = shared
        return environment

    _create_environment.mtlviz_shared_code = shared
    TemplateExporter._create_environment = _create_environment
    return shared


def _parse_date(value, _dateutil_parse_date=jsonutil.parse_date):
    """jupyter_client's ``parse_date`` with the C ISO 8601 parser first: same results."""
    if value is None or not jsonutil.ISO8601_PAT.match(value):
        return value
    try:
        return jsonutil._ensure_tzinfo(datetime.fromisoformat(value))
    except ValueError:
        return _dateutil_parse_date(value)


def fast_message_dates() -> None:
    """Kernel message headers' dates parsed by :func:`datetime.fromisoformat` in this process."""
    jsonutil.parse_date = _parse_date  # extract_dates, which Session.deserialize calls, looks it up here


def install() -> None:
    """Both speed-ups, in the server process."""
    share_template_code()
    fast_message_dates()
