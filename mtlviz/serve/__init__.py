"""Serve the lessons as Voila dashboards: ``python -m mtlviz.serve`` (see ``--help``).

What this adds to a plain ``voila notebooks/``:

* binds to 127.0.0.1 by default; any other address needs ``--token`` or ``--password``
  (Jupyter server's own identity provider checks them: ``Voila.token``,
  ``PasswordIdentityProvider.hashed_password``);
* a template (``share/voila/templates/mtlviz``) whose landing page lists the lessons in course
  order with their one-line summaries (from :data:`mtlviz.guide.LESSONS`) and that loads no
  resource from outside the server (the stock lab template links Font Awesome from a CDN);
  ``mtlviz-presenter`` adds a dark theme and larger fonts for a projector;
* a cap on kernels running at once (``--max-kernels``): the next visitor gets a "class is full"
  page (HTTP 503) instead of a kernel that would exhaust the machine's memory;
* ``--lessons``: serve only some lessons, from a folder of symbolic links next to nothing else;
* kernels are freed when a tab closes. Voila 0.5's page, on ``beforeunload``, posts a beacon to
  ``/voila/api/shutdown/<kernel>`` carrying the ``_xsrf`` cookie's value, but the page handler
  never sets that cookie, so the server rejects the beacon ("'_xsrf' argument missing",
  upstream voila#1458) and every closed tab leaked a kernel. The fix here sets the cookie when
  a dashboard page is served; XSRF checks stay on everywhere (rather than disabling them);
* idle kernels are culled (crashed tabs send no beacon).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from .landing import landing_entries
from .pools import available_mb, check_pools, parse_prewarm, pool_memory_lines

#: Refill policies of ``--refill`` (mtlviz.serve.app.REFILL_POLICIES, which imports Voila).
REFILL_POLICIES = ("idle", "nice", "at-once")
REFILL_WORDS = {"idle": "when no student's lesson is starting", "nice": "at once, at a lower CPU priority",
                "at-once": "at once"}

__all__ = ["SHARE_DIR", "DEFAULT_MAX_KERNELS", "voila_argv", "select_lessons", "mirror_lessons", "landing_entries",
           "share_urls", "main"]

SHARE_DIR = Path(__file__).resolve().parent / "share"
TEMPLATE = "mtlviz"
PRESENTER_TEMPLATE = "mtlviz-presenter"
# A dashboard kernel that has imported torch and drawn a lesson holds about 300-450 MB RSS
# (measured with psutil, see README "Serving a class"); 40 of them fit in 24 GiB with room for
# the server, the OS and a browser. Two cores still make the 40th page slow to first render.
DEFAULT_MAX_KERNELS = 40
# A lesson kernel peaks at up to ~1 GB while its cells run (lesson 06; benchmarks/kernel_footprint.py),
# then settles at 300-500 MB: keep room for one more start-up peak and the server itself.
DEFAULT_MIN_FREE_MB = 1500
# Read by torch (OpenMP, MKL) when a kernel imports it: how many threads its operations use.
KERNEL_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Lessons running their start-up cells at once. A kernel holds its slot while it waits for the
# server between cells, so one slot per core left the cores idle: with 30 sessions of lesson 03 on
# 2 cores, 2 slots drew the last page after 491 s, 4 slots after 362 s, no queue after 390 s
# (medians 323 / 315 / 373 s; RESULTS.md, "Classroom load").
DEFAULT_START_SLOTS = 2 * (os.cpu_count() or 1)
# Dashboard pages served at once before later students wait their turn on a small finished page
# (mtlviz.serve.waiting_room). 30 students of lesson 03, 30 Chromium pages on the same 2 cores, all
# drawn after (one run each unless two): no waiting room 139.6 / 141.5 s, 12 at once 143.0, 8 at
# once 135.5 / 139.5, 4 at once 131.2 / 132.2, 3 at once 127.5, 2 at once 123.2 / 129.6, 1 at once
# 126.8 (RESULTS.md, "Classroom load", 2026-12-04 night): one per core keeps the cores busy with
# the fewest pages loading.
DEFAULT_OPEN_AT_ONCE = os.cpu_count() or 1
# Seconds to wait for a cell's outputs once the kernel has replied (nbclient's default is 4).
IOPUB_TIMEOUT_S = 300
FORKED_KERNEL_MANAGER = "mtlviz.serve.forkserver.ForkedKernelManager"
TOKEN_ENV = "MTLVIZ_TOKEN"
PASSWORD_ENV = "MTLVIZ_PASSWORD"


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


def select_lessons(notebook_dir: Path, wanted: Sequence[str], option: str = "--lessons") -> List[Path]:
    """The notebooks of ``notebook_dir`` named by ``wanted`` (numbers, stem prefixes or file names).

    Each name must match exactly one notebook: ``03``, ``03_maml`` and
    ``03_maml_inner_and_outer_loop.ipynb`` all pick lesson 03. ``option`` names the command-line
    option in the error message.
    """
    notebooks = sorted(notebook_dir.glob("*.ipynb"))
    selected = []
    for name in wanted:
        stem = name[:-len(".ipynb")] if name.endswith(".ipynb") else name
        matches = [path for path in notebooks if path.stem == stem] or [
            path for path in notebooks if path.stem.startswith(stem)]
        if len(matches) != 1:
            found = "none" if not matches else ", ".join(path.stem for path in matches)
            raise ValueError(f"{option} {name!r} must name exactly one of {', '.join(p.stem for p in notebooks)}; "
                             f"matched {found}")
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected


def first_lesson(folder: Path) -> Path:
    """The lesson a class opens first: the lowest-numbered notebook served from ``folder``."""
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"no notebook in {folder}")
    return notebooks[0]


def mirror_lessons(notebook_dir: Path, keep: Iterable[Path], into: Path) -> Path:
    """Fill ``into`` with symbolic links to everything in ``notebook_dir`` except unlisted notebooks.

    Voila serves ``into``: a lesson left out has no file there, so no URL reaches it, while the
    kept lessons still find their neighbours (data files, sub-folders) by relative path and
    lesson 00's course map links only the lessons being served.
    """
    keep_names = {path.name for path in keep}
    for entry in sorted(notebook_dir.iterdir()):
        if entry.name.startswith(".") or (entry.suffix == ".ipynb" and entry.name not in keep_names):
            continue
        (into / entry.name).symlink_to(entry.resolve())
    return into


def share_urls(ip: str, port: int, token: Optional[str] = None) -> List[str]:
    """The addresses students type: this machine's network addresses when bound to all of them."""
    hosts = [ip]
    if ip in ("", "0.0.0.0", "::"):
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, family=socket.AF_INET)
        except OSError:
            infos = []
        hosts = sorted({info[4][0] for info in infos if not ipaddress.ip_address(info[4][0]).is_loopback})
        hosts = hosts or [socket.gethostname()]
    query = f"?token={token}" if token else ""
    return [f"http://{f'[{host}]' if ':' in host else host}:{port}/{query}" for host in hosts]


def voila_argv(notebook_dir: Path, *, ip: str = "127.0.0.1", port: int = 8866, cull_idle_timeout: int = 600,
               cull_interval: int = 60, max_kernels: int = DEFAULT_MAX_KERNELS,
               min_free_mb: int = DEFAULT_MIN_FREE_MB, presenter: bool = False,
               prewarm: Optional[Dict[str, int]] = None, refill: str = "idle", open_at_once: int = 0,
               token: Optional[str] = None, hashed_password: Optional[str] = None,
               fork_socket: Optional[Path] = None, extra: Optional[List[str]] = None) -> List[str]:
    """The Voila command line that serves ``notebook_dir`` as a classroom.

    It runs in this process (:class:`mtlviz.serve.app.ClassroomVoila`), so a token or password
    hash in it never shows in ``ps``.
    """
    auth = [f"--Voila.token={token}"] if token else []
    if hashed_password:
        auth.append(f"--PasswordIdentityProvider.hashed_password={hashed_password}")
    # Kernels forked from one process that imported torch once (mtlviz.serve.forkserver).
    forks = [f"--CappedKernelManager.kernel_manager_class={FORKED_KERNEL_MANAGER}",
             f"--ForkedKernelManager.fork_socket={fork_socket}"] if fork_socket else []
    return [
        str(notebook_dir),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--template={PRESENTER_TEMPLATE if presenter else TEMPLATE}",
        f"--theme={'dark' if presenter else 'light'}",
        f"--ClassroomVoila.presenter={presenter}",
        "--VoilaConfiguration.multi_kernel_manager_class=mtlviz.serve.app.CappedKernelManager",
        f"--CappedKernelManager.max_kernels={max_kernels}",
        f"--CappedKernelManager.min_free_mb={min_free_mb}",
        f"--ClassroomVoila.prewarm_pools={json.dumps(prewarm or {})}",
        f"--ClassroomVoila.refill={refill}",
        f"--ClassroomVoila.open_at_once={open_at_once}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        # Open-but-idle tabs stay alive (culling connected kernels freezes a student's plot).
        "--MappingKernelManager.cull_connected=False",
        # Kernels talk to the server over Unix sockets named after each kernel, not TCP ports: a
        # TCP port is picked free by the server and bound by the kernel a moment later, and with
        # 30 kernels starting while browsers open connections, another socket took it first in 6
        # of 30 starts (ZMQError "Address already in use"); one of those kernels died before its
        # page was drawn (2026-12-04, benchmarks/classroom_load.py).
        "--KernelManager.transport=ipc",
        "--VoilaConfiguration.show_tracebacks=False",
        # nbclient waits 4 s for a cell's outputs after its reply, then drops them with a warning:
        # with 30 kernels starting on 2 cores the server lags longer, and the lost output is the
        # dashboard itself, so the student's page never shows it. Waiting is free when all is well.
        f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}",
        "--VoilaExecutor.raise_on_iopub_timeout=True",
        *forks,
        *auth,
        *(extra or []),
    ]


def read_password(parser: argparse.ArgumentParser) -> str:
    """The password from $MTLVIZ_PASSWORD, or typed at a prompt (never on the command line)."""
    import getpass
    import sys

    password = os.environ.get(PASSWORD_ENV)
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password students will type: ")
    if not password:
        parser.error(f"--password reads the password from ${PASSWORD_ENV} or a prompt; neither gave one")
    return password


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m mtlviz.serve``: check the options, then run Voila until stopped (Ctrl-C, SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="python -m mtlviz.serve", description="Serve the mtlviz lessons as dashboards to a class.",
        epilog=f"Classroom: {TOKEN_ENV}=<word> bash scripts/serve --ip 0.0.0.0 --token --theme presenter")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1); any other needs --token or --password")
    parser.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    parser.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                        help=f"require this token (?token=... in the URL, or typed on the login page); "
                             f"without a value it is read from ${TOKEN_ENV} or a random one is made")
    parser.add_argument("--password", action="store_true",
                        help=f"require a password, read from ${PASSWORD_ENV} or typed at a prompt")
    parser.add_argument("--max-kernels", type=int, default=DEFAULT_MAX_KERNELS, metavar="N",
                        help=f"most dashboards open at once; the next visitor sees 'the class is full' "
                             f"(default {DEFAULT_MAX_KERNELS}; 0: no cap)")
    parser.add_argument("--min-free-mb", type=int, default=DEFAULT_MIN_FREE_MB, metavar="MB",
                        help=f"start no dashboard while less memory than this is free: the next visitor sees "
                             f"'the class is full' instead of the machine swapping (default {DEFAULT_MIN_FREE_MB}; 0: off)")
    parser.add_argument("--prewarm", nargs="+", default=[], metavar="LESSON=N",
                        help="keep N dashboards of LESSON (a number, name prefix or file name, as --lessons) "
                             "started and drawn, so students see it at once, e.g. --prewarm 03=30 05=10; a plain "
                             "N means the first served lesson. Each pool refills when no student's lesson is "
                             "starting (--refill). The memory they hold is printed at start")
    parser.add_argument("--refill", choices=REFILL_POLICIES, default="idle",
                        help="when a pool refills after a student took a dashboard: idle (default): once no "
                             "student's lesson is starting; nice: at once, at a lower CPU priority that the "
                             "student who later gets the kernel keeps; at-once: Voila's own way")
    parser.add_argument("--start-slots", type=int, default=DEFAULT_START_SLOTS, metavar="N",
                        help="lessons that run their start-up cells at the same time; the others wait their turn "
                             "behind the spinner, so pages draw one after another instead of all at the end "
                             f"(default: twice the number of cores, {DEFAULT_START_SLOTS}; 0: no queue)")
    parser.add_argument("--open-at-once", type=int, default=DEFAULT_OPEN_AT_ONCE, metavar="N",
                        help="dashboard pages served at once; a later student gets at once a small page that says "
                             "how many are ahead and opens the lesson by itself when their turn comes, instead of a "
                             "page that keeps loading (and costs its browser CPU) until its lesson has run "
                             f"(default: the number of cores, {DEFAULT_OPEN_AT_ONCE}; 0: no waiting room)")
    parser.add_argument("--theme", choices=["light", "presenter"], default="light",
                        help="presenter: dark, larger fonts, for a projector (default light)")
    parser.add_argument("--lessons", nargs="+", metavar="LESSON",
                        help="serve only these lessons: numbers or name prefixes, e.g. --lessons 00 03 05")
    parser.add_argument("--notebooks", type=Path, default=None, help="folder of lessons (default: notebooks/)")
    parser.add_argument("--cull-idle", type=int, default=600, metavar="SECONDS",
                        help="shut down kernels idle this long with no open tab (default 600)")
    parser.add_argument("--cull-interval", type=int, default=60, metavar="SECONDS",
                        help="how often to look for idle kernels (default 60)")
    parser.add_argument("--fresh-kernels", action="store_true",
                        help="start each dashboard kernel as a new Python that imports torch itself, instead of "
                             "forking it from one process that imported torch, numpy, matplotlib and ipykernel "
                             "when the server started (the default: about 1.2 CPU-s and 130 MB less per student)")
    parser.add_argument("--kernel-threads", type=int, default=1, metavar="N",
                        help="CPU threads each dashboard kernel's torch may use (default 1: a class shares the "
                             "cores, and torch's threads spin-wait on each other when kernels outnumber cores)")
    args, extra = parser.parse_known_args(argv)
    token = args.token
    if token == "":
        token = os.environ.get(TOKEN_ENV) or secrets.token_hex(8)
    if not is_loopback(args.ip) and not (token or args.password):
        parser.error(f"--ip must be a loopback address (127.0.0.1, ::1, localhost) unless --token or --password "
                     f"is given; got {args.ip}. Without one, anyone on the network could open the lessons' "
                     f"kernels. Example: {TOKEN_ENV}=<word> bash scripts/serve --ip {args.ip} --token")
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be in [1, 65535]; got {args.port}")
    if args.max_kernels < 0:
        parser.error(f"--max-kernels must be 0 (no cap) or more; got {args.max_kernels}")
    if not 0 <= args.min_free_mb <= 10**7:
        parser.error(f"--min-free-mb must be in [0, 10000000] (MB; 0 turns the floor off); got {args.min_free_mb}")
    if not 0 <= args.start_slots <= 1024:
        parser.error(f"--start-slots must be in [0, 1024] (0: no queue); got {args.start_slots}")
    if not 0 <= args.open_at_once <= 10_000:
        parser.error(f"--open-at-once must be in [0, 10000] (0: no waiting room); got {args.open_at_once}")
    if args.cull_idle < 1 or args.cull_interval < 1:
        parser.error("--cull-idle and --cull-interval must be at least 1 second")
    if not 1 <= args.kernel_threads <= 256:
        parser.error(f"--kernel-threads must be in [1, 256]; got {args.kernel_threads}")
    notebook_dir = args.notebooks or default_notebook_dir()
    if not notebook_dir.is_dir():
        parser.error(f"--notebooks must be a folder; {notebook_dir} is not")
    from . import forkserver

    if not args.fresh_kernels and not forkserver.supported():
        print("[mtlviz] this system cannot follow a forked kernel (no pidfd): each kernel imports torch itself",
              flush=True)
        args.fresh_kernels = True
    def check_pools_fit(forked: bool) -> None:
        check_pools(pools, max_kernels=args.max_kernels, min_free_mb=args.min_free_mb,
                    available_mb=available_mb() if pools else None, forked=forked)

    try:
        selected = select_lessons(notebook_dir, args.lessons) if args.lessons else sorted(notebook_dir.glob("*.ipynb"))
        pools = parse_prewarm(args.prewarm, selected, lambda name: select_lessons(notebook_dir, [name], "--prewarm")[0])
        check_pools_fit(forked=not args.fresh_kernels)
    except ValueError as error:
        parser.error(str(error))
    hashed_password = None
    if args.password:
        from jupyter_server.auth import passwd

        hashed_password = passwd(read_password(parser))
    # Kernels inherit the server's environment: cap the OpenMP/MKL threads torch starts in each.
    for variable in KERNEL_THREAD_VARIABLES:
        os.environ[variable] = str(args.kernel_threads)
    scratch = Path(tempfile.mkdtemp(prefix="mtlviz-serve-"))
    # Kernels inherit these: their IPython startup file (mtlviz.serve.kernel) takes a start slot
    # before each lesson (and lowers a pool kernel's priority under --refill nice), returns freed
    # memory after every cell and draws figures for the served theme.
    from .kernel import THEME_ENV, write_ipython_dir

    os.environ["IPYTHONDIR"] = str(write_ipython_dir(scratch / "ipython"))
    os.environ[THEME_ENV] = "presenter" if args.theme == "presenter" else "default"
    # ipywidgets 8 sends every value a page sets back to all of the kernel's front ends (an
    # "echo_update"), so that several views of one kernel stay in step. A served kernel has one
    # page, which ignores the echo of its own value: without it a slider move costs one websocket
    # message less for the kernel, the server and the page (RESULTS.md, "Classroom load"). Read
    # when ipywidgets is imported, so set before the fork server starts.
    os.environ.setdefault("JUPYTER_WIDGETS_ECHO", "0")
    if args.start_slots:
        from .startup_queue import SLOTS_DIR_ENV, SLOTS_ENV

        (scratch / "slots").mkdir()
        os.environ[SLOTS_DIR_ENV] = str(scratch / "slots")
        os.environ[SLOTS_ENV] = str(args.start_slots)
    fork_socket, zygote = None, None
    if not args.fresh_kernels:  # after the environment above, which the zygote and its kernels inherit
        fork_socket = scratch / "kernel-forks.sock"
        zygote = forkserver.start_zygote(fork_socket)
        if zygote.poll() is not None or not fork_socket.exists():
            print("[mtlviz] the kernel fork server did not start: each kernel imports torch itself", flush=True)
            args.fresh_kernels, fork_socket = True, None
            try:  # kernels of their own hold more: the pools must still fit
                check_pools_fit(forked=False)
            except ValueError as error:
                zygote.kill()
                parser.error(str(error))
    # Voila finds the mtlviz templates on the Jupyter data path.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(SHARE_DIR), os.environ.get("JUPYTER_PATH")]))
    from .app import ClassroomVoila, check_voila_internals

    try:  # refuse a Voila without the internals the classroom fixes patch, instead of losing them
        check_voila_internals()
    except RuntimeError as error:
        parser.exit(2, f"[mtlviz] {error}\n")
    served_dir = notebook_dir
    if args.lessons:
        served_dir = mirror_lessons(notebook_dir, selected, Path(tempfile.mkdtemp(prefix="mtlviz-lessons-")))
    print(f"[mtlviz] serving the lessons in {notebook_dir}"
          f"{' (only ' + ', '.join(p.stem for p in selected) + ')' if args.lessons else ''}; "
          f"at most {args.max_kernels or 'unlimited'} dashboards at once, lessons starting "
          f"{args.start_slots or 'all'} at a time, "
          f"{args.open_at_once or 'all'} dashboards opening at once (the others wait their turn), "
          + ("each kernel importing torch itself" if args.fresh_kernels else
             "kernels forked from one process that imported torch once"), flush=True)
    if pools:
        total = sum(pools.values())
        print(f"[mtlviz] pre-warming {total} dashboard{'s' if total > 1 else ''} before anyone asks, refilled "
              f"{REFILL_WORDS[args.refill]}:", flush=True)
        for line in pool_memory_lines(pools, forked=not args.fresh_kernels):
            print(f"[mtlviz]   {line}", flush=True)
    for url in share_urls(args.ip, args.port, token):
        print(f"[mtlviz] open: {url}", flush=True)
    if args.password:
        print("[mtlviz] students type the password on the login page", flush=True)
    try:
        ClassroomVoila.launch_instance(voila_argv(
            served_dir, ip=args.ip, port=args.port, cull_idle_timeout=args.cull_idle, cull_interval=args.cull_interval,
            max_kernels=args.max_kernels, min_free_mb=args.min_free_mb,
            prewarm={lesson.name: count for lesson, count in pools.items()}, refill=args.refill,
            open_at_once=args.open_at_once, presenter=args.theme == "presenter", token=token,
            hashed_password=hashed_password, fork_socket=fork_socket, extra=extra))
    finally:
        if zygote is not None:
            zygote.terminate()
            try:
                zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                zygote.kill()
        if served_dir != notebook_dir:
            shutil.rmtree(served_dir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0
