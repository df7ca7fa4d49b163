"""What one dashboard kernel costs: CPU seconds to run each lesson, and its memory afterwards.

    python benchmarks/kernel_footprint.py                 # every lesson in notebooks/
    python benchmarks/kernel_footprint.py 03 07           # lessons whose names start so
    python benchmarks/kernel_footprint.py 05 07 --repeat 3  # each lesson 3 times, each after a bare kernel: medians

For every lesson, a fresh kernel (as ``python -m mtlviz.serve`` starts one: one torch thread and
the serve's kernel start-up, :mod:`mtlviz.serve.kernel`) runs the notebook's code cells; the script then prints the kernel's CPU time (user +
system: what 30 students opening the lesson at once share between this machine's cores), wall
time, RSS / PSS / USS in MB (USS: memory only this kernel holds; torch's shared libraries make
RSS count the same pages once per kernel) and which heavy optional modules the lesson pulled in.
A bare kernel that only imports torch is the baseline, measured in the same run; the columns
"above bare" are what the lesson adds, against issue 19's start-up budget of 1.0 CPU-s and 100 MB PSS.
With ``--repeat N`` every lesson starts N times, in rounds, each time right after a bare kernel:
the "above bare" columns are then the median of the N paired differences (lesson minus the bare
kernel started just before it, under the same load), the other columns medians of the N kernels,
with the CPU range (min-max) beside the CPU: on a shared machine one kernel's CPU-s moves by
several tenths of a second with the load, and one bare kernel measured at a quiet moment would
inflate every "above bare".
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]
#: Modules a dashboard should not need at start-up; printed when a lesson loads one.
HEAVY = ("torch._dynamo", "torch._inductor", "sklearn", "scipy", "pandas")
BASELINE = "baseline: import torch, matplotlib, ipywidgets, ipympl"
#: Issue 19's start-up budget per lesson, above the bare kernel of the same run.
CPU_BUDGET_S = 1.0
PSS_BUDGET_MB = 100
PROBE = ("import json, resource, sys\n"
         "r = resource.getrusage(resource.RUSAGE_SELF)\n"
         f"print(json.dumps({{'cpu': r.ru_utime + r.ru_stime, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")


def run_cells(client, sources):
    for source in sources:
        reply = client.execute_interactive(source, timeout=600, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")


def probe(client):
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    client.execute_interactive(PROBE, timeout=60, output_hook=hook)
    return json.loads("".join(out))


def served_kernel_env() -> dict:
    """The environment a kernel of ``python -m mtlviz.serve`` starts with (default theme, no start
    slots): one torch thread and the serve's IPython startup file (memory returned after every cell)."""
    from mtlviz.serve.kernel import THEME_ENV, write_ipython_dir

    ipython_dir = write_ipython_dir(Path(tempfile.mkdtemp(prefix="mtlviz-footprint-")) / "ipython")
    return {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "IPYTHONDIR": str(ipython_dir), THEME_ENV: "default"}


def memory_mb(pid: int) -> dict:
    """The kernel's memory in MB: RSS, PSS and USS, and the two figures that stay put whatever
    else runs. ``anon``: its anonymous pages (``Pss_Anon``: heap, tensors, Python objects), what a
    kernel started on its own costs on top of the shared libraries; ``private``: the pages it
    wrote to or allocated and shares with no process (``Private_Dirty``), what a kernel forked
    from the fork server costs on top of the fork server. PSS and RSS also count the shared
    libraries' pages mapped from files, whose number in one process depends on the page cache
    (the same bare kernel measured 259 and 317 MB RSS in two venvs, a freshly installed
    libtorch_cpu.so mapping 45 MB more into each process)."""
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0]) / 1024
    if "Pss_Anon" not in rollup:
        raise RuntimeError(f"no Pss_Anon in /proc/{pid}/smaps_rollup (Linux before 5.10)")
    uss = rollup["Private_Clean"] + rollup["Private_Dirty"]
    return {"rss": rollup["Rss"], "pss": rollup["Pss"], "uss": uss, "anon": rollup["Pss_Anon"],
            "private": rollup["Private_Dirty"]}


def measure(name, sources, extra_env=None, fork_socket=None):
    """Start a kernel as the server does (forked from the fork server listening on ``fork_socket``,
    or on its own), run ``sources`` in the lessons' folder; its CPU, wall time, memory and heavy modules."""
    env = {**os.environ, **served_kernel_env(), **(extra_env or {})}
    t0 = time.monotonic()
    if fork_socket is None:
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"), env=env)
        shutdown = lambda: manager.shutdown_kernel(now=True)  # noqa: E731
    else:
        from jupyter_client import BlockingKernelClient
        from mtlviz.serve.forkserver import ForkedKernelManager

        loop = asyncio.new_event_loop()
        manager = ForkedKernelManager(fork_socket=str(fork_socket))
        loop.run_until_complete(manager.start_kernel(cwd=str(ROOT / "notebooks"), env=env))
        client = BlockingKernelClient()
        client.load_connection_info(manager.get_connection_info())
        client.start_channels()
        client.wait_for_ready(timeout=60)

        def shutdown():
            loop.run_until_complete(manager.shutdown_kernel(now=True))
            loop.close()
    try:
        run_cells(client, sources)
        wall = time.monotonic() - t0
        result = probe(client)
        return {"name": name, "wall": wall, "cpu": result["cpu"], "heavy": result["heavy"],
                **memory_mb(manager.provisioner.pid)}
    finally:
        client.stop_channels()
        shutdown()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="prefixes of notebooks in notebooks/ (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="kernels per row, in rounds; medians are printed (default 1)")
    parser.add_argument("--forked", action="store_true",
                        help="fork every kernel from a fork server, as python -m mtlviz.serve does by default "
                             "(default: each kernel starts on its own, as with --fresh-kernels)")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 20:
        parser.error(f"--repeat must be in [1, 20]; got {args.repeat}")
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in args.lessons)]
        if not notebooks:
            parser.error(f"no lesson in notebooks/ starts with {' or '.join(args.lessons)}")
    print(f"{psutil.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; kernels "
          + ("forked from a fork server" if args.forked else "each started on its own"), flush=True)
    zygote = fork_socket = None
    if args.forked:
        fork_socket, zygote = start_fork_server()
    try:
        return report(args, notebooks, fork_socket, zygote)
    finally:
        if zygote is not None:
            zygote.terminate()
            zygote.wait(timeout=10)


def start_fork_server():
    """A fork server as ``python -m mtlviz.serve`` starts one: the kernels' thread caps set before
    it imports torch. Returns its socket and process."""
    from mtlviz.serve.forkserver import start_zygote

    socket_path = Path(tempfile.mkdtemp(prefix="mtlviz-footprint-")) / "kernel-forks.sock"
    zygote = start_zygote(socket_path, env={**os.environ, **served_kernel_env()})
    if zygote.poll() is not None or not socket_path.exists():
        raise SystemExit("kernel_footprint: the fork server did not start")
    return socket_path, zygote


def report(args, notebooks, fork_socket, zygote) -> int:
    kernels = [(BASELINE, ["import torch, matplotlib, ipywidgets, ipympl"])]
    kernels += [(nb.stem, ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"])
                for nb in notebooks]
    own = "private" if fork_socket else "anon"
    runs = {name: [] for name, _ in kernels}
    paired = {name: [] for name, _ in kernels[1:]}  # lesson minus the bare kernel started just before it
    for round_ in range(args.repeat):
        for name, sources in kernels[1:] if args.repeat > 1 else kernels:
            if args.repeat > 1:  # a bare kernel right before every lesson: the two see the same load
                runs[BASELINE].append(measure(BASELINE, kernels[0][1], fork_socket=fork_socket))
            runs[name].append(measure(name, sources, fork_socket=fork_socket))
            if args.repeat > 1:
                paired[name].append({k: runs[name][-1][k] - runs[BASELINE][-1][k] for k in ("cpu", "pss", own)})
            print(f"  {name}: {runs[name][-1]['cpu']:.1f} s CPU" + (f" (round {round_ + 1}, bare kernel just before: "
                  f"{runs[BASELINE][-1]['cpu']:.1f})" if args.repeat > 1 else ""), flush=True)
    rows = []
    for name, _ in kernels:
        row = {"name": name, "heavy": sorted({m for r in runs[name] for m in r["heavy"]})}
        row.update({key: statistics.median(r[key] for r in runs[name]) for key in ("wall", "cpu", "rss", "pss", "uss", own)})
        row["cpu_range"] = (min(r["cpu"] for r in runs[name]), max(r["cpu"] for r in runs[name]))
        if paired.get(name):
            row["extra"] = {k: statistics.median(d[k] for d in paired[name]) for k in ("cpu", "pss", own)}
        rows.append(row)
    print(f"load average at the end {os.getloadavg()[0]:.1f}" + (f"; medians of {args.repeat} kernels per row" if args.repeat > 1 else ""))
    print()
    bare = rows[0]
    own_title = "private MB (its own, beside the fork server)" if args.forked else "anonymous MB (its own, beside the libraries)"
    print(f"| kernel | CPU s | CPU s above bare (budget {CPU_BUDGET_S}) | wall s | RSS MB | PSS MB "
          f"| PSS MB above bare (budget {PSS_BUDGET_MB}) | USS MB | {own_title} | heavy modules |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra_cpu, extra_pss, extra_own = ((r["extra"]["cpu"], r["extra"]["pss"], r["extra"][own]) if "extra" in r else
                                           (r["cpu"] - bare["cpu"], r["pss"] - bare["pss"], r[own] - bare[own]))
        verdict = "" if r is bare else (" ok" if extra_cpu <= CPU_BUDGET_S and extra_pss <= PSS_BUDGET_MB else " OVER")
        spread = f" ({r['cpu_range'][0]:.1f}-{r['cpu_range'][1]:.1f})" if args.repeat > 1 else ""
        print(f"| {r['name']} | {r['cpu']:.1f}{spread} | {'-' if r is bare else f'{extra_cpu:+.1f}'} | {r['wall']:.1f} "
              f"| {r['rss']:.0f} | {r['pss']:.0f} | {'-' if r is bare else f'{extra_pss:+.0f}'}{verdict} "
              f"| {r['uss']:.0f} | {r[own]:.0f}{'' if r is bare else f' ({extra_own:+.0f})'} | {', '.join(r['heavy']) or '-'} |")
    if zygote is not None:
        memory = memory_mb(zygote.pid)
        print(f"\nthe fork server, shared by every forked kernel: RSS {memory['rss']:.0f} MB, PSS {memory['pss']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
