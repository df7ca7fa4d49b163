"""The Voila server's two per-student cuts (mtlviz.serve.speedups): same pages, less repeated work."""
from __future__ import annotations

from datetime import datetime, timezone

import jinja2
import pytest
from dateutil.parser import isoparse
from jupyter_client import jsonutil
from nbconvert.exporters import HTMLExporter

from mtlviz.serve import speedups


@pytest.fixture
def original_server_functions():
    """Undo the process-wide patches after each test (the test process is not a server)."""
    create, parse_date = speedups.TemplateExporter._create_environment, jsonutil.parse_date
    yield
    speedups.TemplateExporter._create_environment, jsonutil.parse_date = create, parse_date


def test_a_page_template_is_compiled_once_per_server(original_server_functions, monkeypatch):
    """If this fails, every student's page makes the server lex, parse and compile Voila's
    templates again (about 0.1 CPU-s per page, 30 times at the start of a class)."""
    speedups.share_template_code()
    first, second = HTMLExporter(template_name="lab"), HTMLExporter(template_name="lab")
    assert first.environment is not second.environment  # nbconvert still makes one per exporter
    assert first.environment.bytecode_cache is second.environment.bytecode_cache is not None
    first.environment.get_template("index.html.j2")

    def compile_again(*args, **kwargs):
        raise AssertionError("the second page compiled the template again")

    monkeypatch.setattr(second.environment, "compile", compile_again)
    assert second.environment.get_template("index.html.j2").render is not None
    assert speedups.share_template_code() is first.environment.bytecode_cache  # installing twice: one cache


def test_shared_code_follows_the_template_source_and_the_environment():
    """If this fails, an edited template (or an async environment given sync code) would render
    stale or broken pages."""
    shared = speedups.SharedTemplateCode()
    sources = {"page": "Hello {{ name }}"}

    def environment(**kwargs):
        return jinja2.Environment(loader=jinja2.DictLoader(sources), bytecode_cache=shared, **kwargs)

    assert environment().get_template("page").render(name="class") == "Hello class"
    assert len(shared.code) == 1
    sources["page"] = "Goodbye {{ name }}"
    assert environment().get_template("page").render(name="class") == "Goodbye class"
    assert len(shared.code) == 1  # replaced, not kept beside
    asynchronous = environment(enable_async=True).get_template("page")
    assert len(shared.code) == 2  # compiled for async on its own
    import asyncio

    assert asyncio.run(asynchronous.render_async(name="class")) == "Goodbye class"


@pytest.mark.parametrize("text", [
    "2026-12-03T22:44:37.123456Z", "2026-12-03T22:44:37Z", "2026-12-03T22:44:37.1+01:00",
    "2026-12-03T22:44:37.12345-0530", "2026-12-03T22:44:37", "2026-12-03T22:44:37.000001+00:00",
])
def test_message_dates_parse_to_the_same_datetime(text):
    """If this fails, the server would record a kernel's last activity at a wrong time, and
    idle-kernel culling would shut down a working student's kernel or keep an idle one."""
    got = speedups._parse_date(text)
    want = jsonutil._ensure_tzinfo(isoparse(text))
    assert isinstance(got, datetime) and got == want and got.utcoffset() == want.utcoffset()


@pytest.mark.parametrize("text", ["a3f1c2d4-0b1e-4c55-9f0e-6a7b8c9d0e1f", "execute_request", "5.3", "", None,
                                  "2026-12-03", "2026-13-45T99:99:99Z"])
def test_other_strings_are_left_as_they_are(text):
    """If this fails, message ids, types or versions would be turned into dates (or a malformed
    date would raise in the server) where jupyter_client leaves them alone."""
    if text is not None and jsonutil.ISO8601_PAT.match(text):  # matches the pattern, not a real date
        with pytest.raises(ValueError):
            speedups._parse_date(text)
        with pytest.raises(ValueError):
            isoparse(text)
    else:
        assert speedups._parse_date(text) is text


def test_message_headers_are_decoded_with_the_fast_parser(original_server_functions):
    """If this fails, the kernels' messages are still decoded through dateutil (the cut is lost)."""
    speedups.fast_message_dates()
    header = jsonutil.extract_dates({"msg_id": "abc", "date": "2026-12-03T22:44:37.123456Z"})
    assert header["msg_id"] == "abc"
    assert header["date"] == datetime(2026, 12, 3, 22, 44, 37, 123456, tzinfo=timezone.utc)
    assert jsonutil.parse_date is speedups._parse_date
