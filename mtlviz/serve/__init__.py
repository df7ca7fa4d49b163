"""Serve the lessons as Voila dashboards: ``python -m mtlviz.serve`` (see ``--help``).

What this adds to a plain ``voila notebooks/``:

* binds to 127.0.0.1 by default and refuses other addresses (no authentication yet);
* a template (``share/voila/templates/mtlviz``) that lists the lessons in order and loads no
  resource from outside the server (the stock lab template links Font Awesome from a CDN);
* kernels are freed when a tab closes. Voila 0.5's page, on ``beforeunload``, posts a beacon to
  ``/voila/api/shutdown/<kernel>`` carrying the ``_xsrf`` cookie's value, but the page handler
  never sets that cookie, so the server rejects the beacon ("'_xsrf' argument missing",
  upstream voila#1458) and every closed tab leaked a kernel. The fix here sets the cookie when
  a dashboard page is served; XSRF checks stay on everywhere (rather than disabling them);
* idle kernels are culled (crashed tabs send no beacon).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import List, Optional

__all__ = ["SHARE_DIR", "voila_argv", "patch_xsrf_cookie", "main"]

SHARE_DIR = Path(__file__).resolve().parent / "share"
TEMPLATE = "mtlviz"


def default_notebook_dir() -> Path:
    """The repository's ``notebooks/`` folder (mtlviz is installed in development mode)."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def is_loopback(host: str) -> bool:
    """True if ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def voila_argv(notebook_dir: Path, *, ip: str = "127.0.0.1", port: int = 8866, cull_idle_timeout: int = 600,
               cull_interval: int = 60, extra: Optional[List[str]] = None) -> List[str]:
    """The Voila command line that serves ``notebook_dir`` as a classroom."""
    return [
        str(notebook_dir),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--template={TEMPLATE}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        # Open-but-idle tabs stay alive (culling connected kernels freezes a student's plot).
        "--MappingKernelManager.cull_connected=False",
        "--VoilaConfiguration.show_tracebacks=False",
        *(extra or []),
    ]


def patch_xsrf_cookie() -> None:
    """Make Voila's dashboard pages set the ``_xsrf`` cookie that their shutdown beacon sends back."""
    from voila.handler import VoilaHandler

    if getattr(VoilaHandler, "_mtlviz_sets_xsrf_cookie", False):
        return
    original_prepare = VoilaHandler.prepare

    async def prepare(self, *args, **kwargs):
        result = original_prepare(self, *args, **kwargs)
        if result is not None:
            await result
        self.xsrf_token  # reading it makes tornado set the _xsrf cookie on this response

    VoilaHandler.prepare = prepare
    VoilaHandler._mtlviz_sets_xsrf_cookie = True


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mtlviz.serve", description="Serve the mtlviz lessons as dashboards.")
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1; loopback only)")
    parser.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    parser.add_argument("--notebooks", type=Path, default=None, help="folder of lessons (default: notebooks/)")
    parser.add_argument("--cull-idle", type=int, default=600, metavar="SECONDS",
                        help="shut down kernels idle this long with no open tab (default 600)")
    parser.add_argument("--cull-interval", type=int, default=60, metavar="SECONDS",
                        help="how often to look for idle kernels (default 60)")
    args, extra = parser.parse_known_args(argv)
    if not is_loopback(args.ip):
        parser.error(f"--ip must be a loopback address (127.0.0.1, ::1, localhost) until password protection "
                     f"is added; got {args.ip}")
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be in [1, 65535]; got {args.port}")
    if args.cull_idle < 1 or args.cull_interval < 1:
        parser.error("--cull-idle and --cull-interval must be at least 1 second")
    notebook_dir = args.notebooks or default_notebook_dir()
    if not notebook_dir.is_dir():
        parser.error(f"--notebooks must be a folder; {notebook_dir} is not")
    # Voila finds the mtlviz template on the Jupyter data path.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(SHARE_DIR), os.environ.get("JUPYTER_PATH")]))
    patch_xsrf_cookie()
    from voila.app import Voila

    print(f"[mtlviz] serving the lessons in {notebook_dir} at http://{args.ip}:{args.port}/", flush=True)
    Voila.launch_instance(voila_argv(notebook_dir, ip=args.ip, port=args.port, cull_idle_timeout=args.cull_idle,
                                     cull_interval=args.cull_interval, extra=extra))
    return 0
