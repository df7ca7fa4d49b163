"""Dashboard kernels forked from one process that imported torch once (mtlviz.serve.forkserver).

Real parts: a real zygote process, real ipykernel kernels it forks, driven by Jupyter's own
kernel manager and client over Unix sockets, as the served dashboards are.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from mtlviz.serve.forkserver import PRELOAD, ForkedKernelManager, start_zygote

pytestmark = pytest.mark.server


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forks")
    socket_path = folder / "forks.sock"
    process = start_zygote(socket_path)
    assert wait_for(socket_path.exists), "the fork server never bound its socket"
    yield process, socket_path
    process.terminate()
    process.wait(timeout=10)


def run(coroutine):
    return asyncio.run(coroutine)


async def start(socket_path, cwd, env_extra=None):
    # Unix sockets beside the connection file (as the server's), not relative to a folder
    connection_file = Path(cwd) / f"kernel-{uuid.uuid4().hex[:8]}.json"
    manager = ForkedKernelManager(fork_socket=str(socket_path), transport="ipc", connection_file=str(connection_file))
    env = {**os.environ, **(env_extra or {})}
    await manager.start_kernel(cwd=str(cwd), env=env)
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    return manager, client


async def execute(client, code, timeout=60):
    """Run ``code``; (its stdout, the reply's status and exception name)."""
    out = []
    reply = await client.execute_interactive(
        code, timeout=timeout,
        output_hook=lambda msg: out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
    return "".join(out), reply["content"]["status"], reply["content"].get("ename")


async def stop(manager, client):
    client.stop_channels()
    await manager.shutdown_kernel(now=False)


def test_a_kernel_is_forked_with_torch_already_loaded_and_runs_as_in_its_own_folder_and_environment(zygote, tmp_path):
    """If this fails, each student's kernel imports torch, numpy and matplotlib itself again (about
    2 CPU-s more per student, 60 for a class of 30 on the server's 2 cores) or builds matplotlib's
    mathtext parser at its first draw (about 30 ms of lesson 03's or 05's), or a forked kernel runs
    in the server's folder or environment instead of its lesson's (a lesson's data files, the
    served theme and the start slots come from them)."""
    process, socket_path = zygote
    (tmp_path / "data.txt").write_text("lesson data")

    async def scenario():
        manager, client = await start(socket_path, tmp_path, {"MTLVIZ_TEST_MARK": "served"})
        try:
            pid = manager.provisioner.pid
            assert psutil.Process(pid).ppid() == process.pid, "the kernel was not forked by the fork server"
            code = textwrap.dedent(f"""
                import os, sys
                from matplotlib.mathtext import MathTextParser
                print(all(name in sys.modules for name in {list(PRELOAD)!r}), open('data.txt').read(),
                      os.environ.get('MTLVIZ_TEST_MARK'), os.environ['JPY_PARENT_PID'],
                      sys.argv[0], MathTextParser._parser is not None, sep='|')
            """)
            return await execute(client, code)
        finally:
            await stop(manager, client)

    out, status, _ = run(scenario())
    assert status == "ok"
    loaded, data, mark, server_pid, argv0, parser_built = out.strip().split("|")
    assert loaded == "True", "the forked kernel did not start with the preloaded modules"
    # matplotlib keeps its mathtext parser on the class, built at the first formula (private, pinned)
    assert parser_built == "True", "the forked kernel builds matplotlib's mathtext parser again (about 36 ms)"
    assert data == "lesson data", "the kernel does not run in the lesson's folder"
    assert mark == "served", "the kernel did not get the environment the server gave it"
    assert server_pid == str(os.getpid()), "the kernel's JPY_PARENT_PID is not the server's (the process that started the fork server)"
    assert argv0 == "ipykernel_launcher"


def test_widgets_imported_in_a_forked_kernel_register_with_it(zygote, tmp_path):
    """If this fails, a dashboard's widgets never reach the page: ipywidgets registers its comm
    targets only if a kernel is running when it is imported, which is why the fork server must
    not import it before forking."""
    _, socket_path = zygote

    async def scenario():
        manager, client = await start(socket_path, tmp_path)
        try:
            return await execute(client, "import ipywidgets\n"
                                         "print(sorted(get_ipython().kernel.comm_manager.targets))")
        finally:
            await stop(manager, client)

    out, status, _ = run(scenario())
    assert status == "ok"
    assert "'jupyter.widget'" in out and "'jupyter.widget.control'" in out, out


def test_a_forked_kernel_can_be_interrupted_and_is_gone_after_shutdown(zygote, tmp_path):
    """If this fails, a lesson stuck in a cell cannot be stopped, or a closed tab leaves its kernel
    (a forked kernel is the fork server's child, not the server's: the server reaches it through
    its process group and a pidfd)."""
    _, socket_path = zygote

    async def scenario():
        manager, client = await start(socket_path, tmp_path)
        pid = manager.provisioner.pid
        running = tmp_path / "running"
        task = asyncio.ensure_future(execute(client, f"import pathlib, time; pathlib.Path({str(running)!r}).touch(); "
                                                     "time.sleep(60)"))
        for _ in range(300):  # interrupt the cell once it runs (a busy machine may take a while)
            if running.exists():
                break
            await asyncio.sleep(0.1)
        started = time.monotonic()
        await manager.interrupt_kernel()
        _, status, ename = await asyncio.wait_for(task, 20)
        interrupted_after = time.monotonic() - started
        alive = await manager.is_alive() and manager.provisioner.pid == pid and not gone(pid)
        await stop(manager, client)
        return pid, status, ename, interrupted_after, alive

    pid, status, ename, interrupted_after, alive = run(scenario())
    assert (status, ename) == ("error", "KeyboardInterrupt")
    assert interrupted_after < 10
    assert alive, "interrupting the cell killed the kernel"
    assert wait_for(lambda: gone(pid), 10), "the kernel outlived its shutdown"


def test_two_forked_kernels_do_not_share_random_streams(zygote, tmp_path):
    """If this fails, every student's unseeded draw is the same: a fresh Python seeds Python's and
    numpy's global generators from the OS, and so must each fork."""
    _, socket_path = zygote
    code = "import random, numpy; print(random.random(), numpy.random.rand())"

    async def scenario():
        outs = []
        for _ in range(2):
            manager, client = await start(socket_path, tmp_path)
            try:
                outs.append((await execute(client, code))[0])
            finally:
                await stop(manager, client)
        return outs

    first, second = run(scenario())
    a, b = first.split(), second.split()
    assert a[0] != b[0], "Python's random module gives two kernels the same stream"
    assert a[1] != b[1], "numpy's global generator gives two kernels the same stream"


def test_without_a_fork_server_kernels_start_the_usual_way(tmp_path, caplog):
    """If this fails, a fork server that died (or never started) leaves every student at a spinner
    instead of costing them the usual start-up."""
    async def scenario():
        manager, client = await start(tmp_path / "no-such.sock", tmp_path)
        try:
            pid = manager.provisioner.pid
            return pid, psutil.Process(pid).ppid(), await execute(client, "print(6 * 7)")
        finally:
            await stop(manager, client)

    pid, parent, (out, status, _) = run(scenario())
    assert parent == os.getpid(), "the kernel was not started by this process"
    assert (out.strip(), status) == ("42", "ok")


def test_a_fork_server_that_dies_takes_no_student_kernel_with_it(tmp_path):
    """If this fails, one crashed process (the fork server, killed by the kernel's out-of-memory
    killer, say) ends every student's dashboard at once; instead their kernels keep running and
    the next students' kernels start the usual way."""
    socket_path = tmp_path / "forks.sock"
    zygote = start_zygote(socket_path)

    async def scenario():
        manager, client = await start(socket_path, tmp_path)
        try:
            pid = manager.provisioner.pid
            assert psutil.Process(pid).ppid() == zygote.pid
            zygote.kill()
            zygote.wait(timeout=10)
            await asyncio.sleep(2.5)  # more than ipykernel's parent poller takes to notice
            # the same process (Jupyter's restarter would replace a dead kernel after 3 s)
            assert not gone(pid) and manager.provisioner.pid == pid, "the student's kernel died with the fork server"
            survived = await execute(client, "print(6 * 7)")
            later, later_client = await start(socket_path, tmp_path)
            try:
                later_parent = psutil.Process(later.provisioner.pid).ppid()
            finally:
                await stop(later, later_client)
            return survived, later_parent
        finally:
            await stop(manager, client)

    (out, status, _), later_parent = run(scenario())
    assert (out.strip(), status) == ("42", "ok"), "the student's kernel died with the fork server"
    assert later_parent == os.getpid(), "a kernel asked for after the fork server died did not start the usual way"


def test_the_fork_server_and_its_kernels_leave_with_the_server(tmp_path):
    """If this fails, a server killed hard (the teacher's laptop closing the terminal, an
    out-of-memory kill) leaves the fork server and its kernels holding memory for good."""
    socket_path = tmp_path / "forks.sock"
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import asyncio, os, sys, time
        from pathlib import Path
        from mtlviz.serve.forkserver import start_zygote, ForkedKernelManager
        zygote = start_zygote(Path({str(socket_path)!r}))
        async def main():
            manager = ForkedKernelManager(fork_socket={str(socket_path)!r}, transport="ipc",
                                          connection_file={str(tmp_path / 'kernel-k.json')!r})
            await manager.start_kernel(cwd={str(tmp_path)!r})
            print(zygote.pid, manager.provisioner.pid, flush=True)
            time.sleep(600)
        asyncio.run(main())
    """)], stdout=subprocess.PIPE, text=True)
    try:
        zygote_pid, kernel_pid = map(int, server.stdout.readline().split())
        assert psutil.Process(kernel_pid).ppid() == zygote_pid, 'the kernel was not forked'
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        assert wait_for(lambda: gone(zygote_pid), 10), "the fork server outlived the server"
        assert wait_for(lambda: gone(kernel_pid), 10), "a forked kernel outlived the fork server"
    finally:
        server.kill()
