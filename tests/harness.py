"""Start a real Voila server and a real headless Chromium: shared by the tests and benchmarks
(``from tests.harness import ...`` with the repository root on ``sys.path``; not shipped in the package).

Chromium is Debian's package (``apt-get install chromium``), driven by Playwright's Python
package through ``executable_path``; Playwright's own browser download is never used.
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Set
from urllib.parse import urlparse

__all__ = ["VoilaServer", "Dashboard", "free_port", "chromium_path", "launch_chromium", "is_local_url", "PageWatcher",
           "CANVAS_DRAWN"]

# The ipympl canvas is blank until the first PNG from the kernel has been painted on it.
CANVAS_DRAWN = """() => {
  const canvas = document.querySelector('.jupyter-matplotlib-canvas-div canvas');
  if (!canvas || !canvas.width) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  // drawn: an opaque pixel that is not white (a canvas not drawn yet is transparent black)
  for (let i = 0; i < data.length; i += 4 * 97) if (data[i + 3] > 0 && (data[i] < 250 || data[i + 1] < 250)) return true;
  return false;
}"""

CHROMIUM_CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"]
# Without these, Chromium phones home at start and the closed network refuses it many times.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


def stop_process(process: Optional[subprocess.Popen], timeout: float) -> None:
    """Terminate a test server's process, killing it if it does not exit within ``timeout`` s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


#: In the command line of the server's kernel fork server, and so of every kernel it forks.
FORK_SERVER = "mtlviz.serve.forkserver"


def write_notebook(path: Path, code: str) -> None:
    """A served test notebook: a heading and one code cell, on the python3 kernel."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {path.stem}"),
                                               nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_local_url(url: str) -> bool:
    """True for URLs that stay on this machine (loopback, data:, blob:, about:)."""
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parsed.hostname in ("127.0.0.1", "localhost", "::1")


@dataclass
class Dashboard:
    """A dashboard page fetched like a browser does: its HTML, kernel and cookies."""

    html: str
    kernel_id: str
    opener: urllib.request.OpenerDirector
    cookies: http.cookiejar.CookieJar

    @property
    def xsrf(self) -> Optional[str]:
        return {cookie.name: cookie.value for cookie in self.cookies}.get("_xsrf")


@dataclass
class VoilaServer:
    """``python -m mtlviz.serve`` in a subprocess on a free port of ``host`` (default 127.0.0.1)."""

    notebook_dir: Optional[Path] = None
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    extra_args: List[str] = field(default_factory=list)
    token: Optional[str] = None
    process: Optional[subprocess.Popen] = None
    log_path: Optional[Path] = None
    started_in_s: Optional[float] = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def page_url(self, path: str = "") -> str:
        """``url + path``, with ``?token=...`` when the server was started with a token."""
        return self.url + path + (f"?token={self.token}" if self.token else "")

    def start(self, timeout: float = 60.0) -> "VoilaServer":
        args = [sys.executable, "-m", "mtlviz.serve", f"--port={self.port}", f"--ip={self.host}", *self.extra_args]
        if self.token is not None:
            args.append(f"--token={self.token}")
        if self.notebook_dir is not None:
            args.append(f"--notebooks={self.notebook_dir}")
        self.log_path = Path(tempfile.mkstemp(prefix="voila-", suffix=".log")[1])
        self._log = open(self.log_path, "w")
        began = time.monotonic()
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Voila exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.page_url(), timeout=2) as response:
                    if response.status == 200:
                        self.started_in_s = time.monotonic() - began
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Voila did not answer on {self.url} within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def started_kernel_ids(self) -> Set[str]:
        """Kernels the server started so far (Voila exposes no /api/kernels listing; its log names each)."""
        return set(re.findall(r"Kernel started: ([0-9a-f-]{36})", self.log()))

    def kernel_pids(self) -> List[int]:
        """PIDs of the kernels this server runs: ipykernel processes it started, and the children
        of its kernel fork server (mtlviz.serve.forkserver), which carry the fork server's command
        line."""
        import psutil

        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        commands, parents = {}, {}
        for child in children:
            try:
                commands[child.pid], parents[child.pid] = " ".join(child.cmdline()), child.ppid()
            except psutil.Error:
                continue
        zygotes = {pid for pid, command in commands.items()
                   if FORK_SERVER in command and parents[pid] == self.process.pid}
        return [pid for pid, command in commands.items() if "ipykernel" in command or parents[pid] in zygotes]

    def open_dashboard(self, path: str, timeout: float = 300) -> Dashboard:
        """GET a dashboard page like a browser (cookies kept): the kernel it started and its cookies."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(self.page_url(path), timeout=timeout) as response:
            html = response.read().decode()
        kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', html).group(1)
        return Dashboard(html, kernel_id, opener, jar)

    def close_dashboard(self, dashboard: Dashboard) -> int:
        """Send what the page's ``beforeunload`` beacon sends; returns the HTTP status (204: shut down)."""
        request = urllib.request.Request(self.url + f"voila/api/shutdown/{dashboard.kernel_id}",
                                         data=f"_xsrf={dashboard.xsrf}".encode(), method="POST",
                                         headers={"Origin": self.url.rstrip("/")})
        try:
            with dashboard.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def wait_for_kernels(self, predicate: Callable[[Set[int]], bool], timeout: float = 30.0) -> bool:
        """Wait until ``predicate(set of kernel PIDs)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(set(self.kernel_pids())):
                return True
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def chromium_path() -> Optional[str]:
    """Debian's Chromium binary, or None when it is not installed."""
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


def launch_chromium(playwright, extra_args=(), **kwargs):
    """Launch headless Debian Chromium with a fresh profile through Playwright (``extra_args``
    are added to :data:`CHROMIUM_ARGS`)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium is not installed: apt-get install chromium (scripts/test does this)")
    return playwright.chromium.launch(executable_path=path, headless=True, args=[*CHROMIUM_ARGS, *extra_args], **kwargs)


class PageWatcher:
    """Collects a page's console errors, uncaught exceptions and requests leaving the machine."""

    def __init__(self, page):
        self.console_errors: List[str] = []
        self.external_requests: List[str] = []
        self.failed_requests: List[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        page.on("request", self._on_request)
        page.on("requestfailed", lambda request: self.failed_requests.append(request.url))

    def _on_console(self, message):
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_request(self, request):
        if not is_local_url(request.url):
            self.external_requests.append(request.url)
