"""A real Voila server (python -m mtlviz.serve) on 127.0.0.1 renders every lesson."""
from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from mtlviz.serve import is_loopback, main as serve_main
from tests.harness import VoilaServer

from tests._lessons import LESSONS

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server():
    with VoilaServer() as running:
        yield running


def get(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, response.read().decode()


def test_there_are_lessons():
    """Without lessons the class would open an empty landing page."""
    assert LESSONS, "no notebooks/NN_*.ipynb found"


def test_landing_page_lists_lessons_in_order(server):
    """The teacher's landing page must link every lesson, in course order."""
    status, html = get(server.url)
    assert status == 200
    linked = re.findall(r'href="/voila/render/([^"]+\.ipynb)"', html)
    assert linked == LESSONS
    assert "cdn." not in html and "https://" not in html, "the landing page must not load anything from outside"


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_renders_without_error(server, lesson):
    """A lesson that fails to execute would show the class an error instead of its dashboard."""
    status, html = get(server.url + f"voila/render/{lesson}")
    assert status == 200
    assert "There was an error when executing cell" not in html
    assert "Traceback (most recent call last)" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html, "a cell wrote to stderr"
    assert "application/vnd.jupyter.widget-view+json" in html, "the lesson shows no widget"
    # Code is hidden from the class: the source of the import cell must not be on the page.
    assert "from mtlviz" not in html


def test_notebook_sources_are_not_downloadable(server):
    """Students must not be able to fetch the notebooks' code through the dashboard server."""
    for path in [f"voila/files/{LESSONS[0]}", f"files/{LESSONS[0]}", f"api/contents/{LESSONS[0]}"]:
        try:
            status, body = get(server.url + path)
        except urllib.error.HTTPError as error:
            status, body = error.code, ""
        assert status in (403, 404), f"/{path} answered {status}"


def post_shutdown(opener, server, kernel_id, *, headers=None, form=b""):
    request = urllib.request.Request(server.url + f"voila/api/shutdown/{kernel_id}", data=form, method="POST",
                                     headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_shutdown_beacon_is_accepted_and_still_xsrf_protected(server):
    """Closing a tab must free its kernel, but no other site may shut kernels down (voila#1458)."""
    before = set(server.kernel_pids())
    dashboard = server.open_dashboard(f"voila/render/{LESSONS[0]}")
    kernel_id, opener, xsrf = dashboard.kernel_id, dashboard.opener, dashboard.xsrf
    assert server.wait_for_kernels(lambda pids: len(pids - before) == 1)
    opened = set(server.kernel_pids()) - before
    assert xsrf, "the dashboard page must set the _xsrf cookie that Voila's shutdown beacon sends back"

    origin = server.url.rstrip("/")
    assert post_shutdown(opener, server, kernel_id, headers={"Origin": "http://evil.example"},
                         form=f"_xsrf={xsrf}".encode()) in (403, 404)
    assert post_shutdown(urllib.request.build_opener(), server, kernel_id, headers={"Origin": origin}) == 403
    assert opened <= set(server.kernel_pids()), "a refused request shut the kernel down"

    # What the page's beforeunload beacon sends: the cookie and the same token as a form field.
    assert post_shutdown(opener, server, kernel_id, headers={"Origin": origin},
                         form=f"_xsrf={xsrf}".encode()) == 204
    assert server.wait_for_kernels(lambda pids: not pids & opened), "the kernel survived its shutdown beacon"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10"])
def test_non_loopback_bind_is_refused(host, capsys):
    """Serving to the network without a password would expose kernels to anyone on it."""
    assert not is_loopback(host)
    with pytest.raises(SystemExit) as raised:
        serve_main([f"--ip={host}"])
    assert raised.value.code == 2
    assert "--ip must be a loopback address" in capsys.readouterr().err


def test_loopback_names_are_accepted():
    """127.0.0.1, ::1 and localhost are the machine itself and must be allowed."""
    assert all(is_loopback(host) for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost"])


def test_idle_kernels_are_culled():
    """A crashed tab sends no shutdown beacon: its kernel must still be reclaimed when idle."""
    with VoilaServer(extra_args=["--cull-idle=3", "--cull-interval=1"]) as short_lived:
        kernel_id = short_lived.open_dashboard(f"voila/render/{LESSONS[0]}").kernel_id  # no websocket: a dead tab
        assert short_lived.wait_for_kernels(lambda pids: len(pids) == 1, timeout=30)
        assert short_lived.wait_for_kernels(lambda pids: not pids, timeout=60), "the idle kernel was never culled"
        culled = [line for line in short_lived.log().splitlines() if "Culling" in line and kernel_id in line]
        assert culled, "the server log does not say it culled this kernel"
