"""Dashboard kernels forked from one process that has already imported torch.

Every dashboard kernel of ``python -m mtlviz.serve`` used to start as a fresh Python that
imported ipykernel, torch, numpy and matplotlib before its lesson's first cell: about 1.9 CPU-s
of the ~3 CPU-s a student of lesson 03 cost the server (RESULTS.md, "Classroom load",
2026-12-05), repeated for each of 30 students on 2 cores. Here one process, the *zygote*,
imports them once when the server starts (and builds matplotlib's mathtext parser, which a
lesson drawing a log axis would build at its first draw), then forks a kernel for each request:
the kernel starts with those modules in memory (shared with the zygote and its siblings until written),
and runs ipykernel as ``python -m ipykernel_launcher -f <connection file>`` would, in its
lesson's folder and environment. What still differs from a fresh Python: those modules are
already in ``sys.modules`` before the first cell, and kernels share the zygote's string-hash
seed (Python's and numpy's random generators are reseeded in each kernel).

What is *not* imported in the zygote: anything that registers itself with a running kernel as
it is imported (ipywidgets registers its comm targets only if a kernel exists at import time,
ipympl and the mtlviz widgets import ipywidgets), and anything the lessons import that is cheap.
The zygote runs no torch operation, so no thread pool is copied half-way into a child; its
one thread of its own waits on the server's pidfd in ``select`` and holds no lock when it forks.

Server side, :class:`ForkedKernelManager` (Jupyter's per-kernel manager) launches through
:class:`ForkProvisioner`: a plain ``python -m ipykernel_launcher`` command from the server's own
Python goes to the zygote over a Unix socket; anything else, or a zygote that is not running,
starts the kernel the usual way (logged once). The kernel is not the server's child, so its
handle (:class:`ForkedKernel`) follows it through a pidfd and signals its process group.

The zygote and every kernel it forked leave when the server does (each follows the server
through a pidfd). A kernel does not depend on the zygote: should the zygote die, the students'
kernels keep running and new ones start the usual way.

Pitfalls met on the way (each has a test in ``tests/test_forkserver.py``): ipykernel reads
``JPY_PARENT_PID`` into a class attribute when it is *imported*, so a forked kernel would poll
the wrong parent and print its terminal banner; Jupyter's Unix-socket transport names sockets
after the connection file, so the kernel must run in its own folder; a zygote still starting when
the first kernel is asked for must not send that kernel the slow way (the server waits for its
socket, about 0.1 s).

    python -m mtlviz.serve.forkserver SOCKET SERVER_PID   # started by python -m mtlviz.serve
"""
from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ["PRELOAD", "ForkedKernel", "ForkProvisioner", "ForkedKernelManager", "launch_request",
           "start_zygote", "supported", "main"]

#: Imported by the zygote before it forks any kernel: what every dashboard kernel imports and
#: nothing that acts on a running kernel at import time (see the module's docstring).
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "torch", "matplotlib", "matplotlib.pyplot")
#: ipykernel sets this for its kernels before matplotlib is imported (kernelapp.init_gui_pylab);
#: the zygote imports matplotlib with the same default so rcParams match a fresh kernel's.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: How long a kernel request waits for the zygote (which may still be importing at start-up).
REPLY_TIMEOUT_S = 120.0
#: How long the server waits for a new zygote to bind its socket.
BIND_TIMEOUT_S = 30.0
LAUNCHER = ("-m", "ipykernel_launcher")


# --------------------------------------------------------------------------------------------
# The zygote (its own process)
# --------------------------------------------------------------------------------------------

def _reap(*_args) -> None:
    """Collect every finished kernel, so none lingers as a zombie."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_request(conn: socket.socket) -> Dict[str, Any]:
    conn.settimeout(10.0)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    request = json.loads(data.decode())
    if not (isinstance(request.get("args"), list) and all(isinstance(a, str) for a in request["args"])
            and isinstance(request.get("env"), dict) and isinstance(request.get("cwd"), str)):
        raise ValueError("a kernel request needs args (strings), env and cwd")
    return request


def _leave_with(pid: int) -> None:
    """Exit this process as soon as process ``pid`` (the server) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="mtlviz-leave-with-server", daemon=True).start()


def _run_kernel(request: Dict[str, Any], server_pid: int, zygote_path0: str) -> int:
    """In the forked child: become ``python -m ipykernel_launcher ARGS`` in the request's folder
    and environment, run the kernel until it shuts down, and return its exit status."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    os.environ["JPY_PARENT_PID"] = str(server_pid)  # as jupyter_client's launcher sets it
    # Leave with the server, not with the zygote. ipykernel's own parent poller is off: it would
    # watch the zygote (its parent), and it read JPY_PARENT_PID when the zygote imported it.
    _leave_with(server_pid)
    # As ipykernel_launcher: the launcher's folder is not on the path (IPython adds '' back).
    if sys.path and sys.path[0] == zygote_path0:
        del sys.path[0]
    # parent_handle 1 is ipykernel's "no parent to poll" that also keeps the kernel from printing
    # its terminal banner (0, read from the zygote's environment, would print it).
    sys.argv = ["ipykernel_launcher", "--IPKernelApp.parent_handle=1", *request["args"]]
    if "numpy.random" in sys.modules:  # seeded in the zygote: a fresh process draws its seed from the OS
        sys.modules["numpy.random"].seed()  # (Python's random module reseeds itself in a forked child)
    from ipykernel import kernelapp

    try:
        kernelapp.launch_new_instance()
        return 0
    except SystemExit as leaving:
        code = leaving.code
        return code if isinstance(code, int) else (0 if code is None else 1)


def _fork_kernel(conn: socket.socket, listener: socket.socket, request: Dict[str, Any], path0: str,
                 server_pid: int) -> None:
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            os.close(ready_r)
            listener.close()
            conn.close()
            os.setsid()  # its own process group, which the server signals (as Popen(start_new_session=True))
            os.write(ready_w, b"1")
            os.close(ready_w)
            for number in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # the server interrupts cells with SIGINT
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            code = _run_kernel(request, server_pid, path0)
            atexit._run_exitfuncs()  # what the interpreter would run at exit
        except BaseException:  # noqa: BLE001 -- the kernel's last word goes to the server's log
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os._exit(code)
    os.close(ready_w)
    try:
        ready, _, _ = select.select([ready_r], [], [], 10.0)
        if not ready or os.read(ready_r, 1) != b"1":
            raise OSError("the forked kernel did not start its session")
    finally:
        os.close(ready_r)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _build_mathtext_parser() -> None:
    """Build matplotlib's mathtext parser (its grammar, built once per process, about 36 ms) and
    load its fonts, which every kernel otherwise does at its first draw of a log axis's ticks or of
    a formula: lesson 03's first full draw in a forked kernel 266-284 ms without, 239-244 with;
    lesson 05's 369 -> 336-347 (RESULTS.md, "Classroom load"). A speed-up only: should it fail,
    the kernels build the parser themselves, as before."""
    try:
        from matplotlib.mathtext import MathTextParser

        MathTextParser("agg").parse(r"$10^{-3}$", dpi=72)
    except Exception:  # noqa: BLE001 - never worth a fork server that does not start
        pass


def serve(socket_path: str, parent: int) -> None:
    """Bind ``socket_path``, import :data:`PRELOAD`, then fork a kernel per request until the
    parent process (the server, ``parent``) is gone."""
    _leave_with(parent)  # as the kernels do; at once if the server left before we started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the teacher's terminal is the server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)  # bound before the imports: early requests wait in the backlog
    listener.listen(128)
    path0 = sys.path[0] if sys.path else ""
    had_backend = "MPLBACKEND" in os.environ
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    _build_mathtext_parser()
    if not had_backend:
        del os.environ["MPLBACKEND"]
    gc.collect()
    gc.freeze()  # the collector never walks (and so never writes to) the shared modules' objects
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                request = _read_request(conn)
                _fork_kernel(conn, listener, request, path0, parent)
            except (OSError, ValueError) as error:
                try:
                    conn.sendall(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode() + b"\n")
                except OSError:
                    pass


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m mtlviz.serve.forkserver SOCKET SERVER_PID", file=sys.stderr)
        return 2
    serve(argv[0], int(argv[1]))
    return 0


# --------------------------------------------------------------------------------------------
# The server's side
# --------------------------------------------------------------------------------------------

def supported() -> bool:
    """True where a process can follow and signal a process that is not its child (Linux 5.3+:
    pidfds), which the server needs for kernels that are the zygote's children."""
    if not (hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal") and hasattr(os, "fork")):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def start_zygote(socket_path: Path, timeout: float = BIND_TIMEOUT_S,
                 env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start the zygote in its own session (so a Ctrl-C meant for the server does not reach it),
    with ``env`` or else this process's environment (the kernels' thread caps must be set before
    torch loads), and wait until it listens (about 0.1 s: it binds before its imports). A zygote
    that failed to start is returned as it is: kernels then start the usual way."""
    process = subprocess.Popen([sys.executable, "-m", "mtlviz.serve.forkserver", str(socket_path), str(os.getpid())],
                               stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + timeout
    while not Path(socket_path).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return process


def launch_request(cmd: List[str], kwargs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What to ask the zygote for, or None when ``cmd`` is not this Python's plain
    ``-m ipykernel_launcher`` or asks for something a fork cannot give (redirected streams)."""
    if len(cmd) < 3 or tuple(cmd[1:3]) != LAUNCHER:
        return None
    try:
        if os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
            return None
    except OSError:
        return None
    if any(kwargs.get(name) is not None for name in ("stdin", "stdout", "stderr")):
        return None
    return {"args": [str(a) for a in cmd[3:]], "env": dict(kwargs.get("env") or os.environ),
            "cwd": str(kwargs.get("cwd") or os.getcwd())}


async def ask_zygote(socket_path: str, request: Dict[str, Any], timeout: float = REPLY_TIMEOUT_S) -> int:
    """The pid of a kernel the zygote forked for ``request``; OSError or ValueError if none."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError as error:
        raise OSError(f"the kernel fork server did not answer within {timeout:.0f} s") from error
    finally:
        writer.close()
    reply = json.loads(line.decode() or "{}")
    if not isinstance(reply.get("pid"), int):
        raise ValueError(reply.get("error", "the kernel fork server closed the connection"))
    return reply["pid"]


class ForkedKernel:
    """The part of ``subprocess.Popen`` that Jupyter's provisioner uses, for a kernel that is
    the zygote's child, not ours: followed through a pidfd, signalled through it."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: Optional[int] = None
        self._pidfd: Optional[int] = os.pidfd_open(pid)

    def _exited(self, timeout: Optional[float]) -> bool:
        if self._pidfd is None:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        if ready:
            os.close(self._pidfd)
            self._pidfd = None
            self.returncode = 0  # its status went to the zygote, which reaped it
        return bool(ready)

    def poll(self) -> Optional[int]:
        self._exited(0)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if not self._exited(timeout):
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self._pidfd is not None and self.poll() is None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __del__(self):
        if getattr(self, "_pidfd", None) is not None:
            os.close(self._pidfd)


def _server_classes():
    """:class:`ForkProvisioner` and :class:`ForkedKernelManager`, built on first use: they
    subclass jupyter_client's and jupyter_server's classes, which the zygote never needs."""
    from jupyter_client.provisioning import LocalProvisioner
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
    from traitlets import Unicode

    class ForkProvisioner(LocalProvisioner):
        """Jupyter's local provisioner, launching plain ipykernel commands through the zygote."""

        fork_socket: Optional[str] = None
        _warned = False

        async def launch_kernel(self, cmd, **kwargs):
            request = launch_request(cmd, kwargs) if self.fork_socket else None
            if request is not None:
                try:
                    pid = await ask_zygote(self.fork_socket, request)
                    process = ForkedKernel(pid)
                except (OSError, ValueError) as error:
                    if not ForkProvisioner._warned:
                        ForkProvisioner._warned = True
                        self.log.warning("[mtlviz] kernels start the usual way (slower): the kernel fork server "
                                         "failed: %s", error)
                else:
                    self.process, self.pid, self.pgid = process, pid, pid
                    self.cwd = kwargs.get("cwd", Path.cwd())
                    return self.connection_info
            return await super().launch_kernel(cmd, **kwargs)

    class ForkedKernelManager(ServerKernelManager):
        """Jupyter server's kernel manager whose kernels are forked by the zygote at ``fork_socket``."""

        fork_socket = Unicode("", config=True, help="The kernel fork server's Unix socket ('': start kernels as usual).")

        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None and self.fork_socket:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))  # as the base class does
                self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
                self.provisioner.fork_socket = self.fork_socket
            return await super()._async_pre_start_kernel(**kw)

    for cls in (ForkProvisioner, ForkedKernelManager):
        cls.__module__ = __name__
    return {"ForkProvisioner": ForkProvisioner, "ForkedKernelManager": ForkedKernelManager}


def __getattr__(name: str):
    if name in ("ForkProvisioner", "ForkedKernelManager"):
        globals().update(_server_classes())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
