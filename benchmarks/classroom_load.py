"""A class at once: N dashboard sessions against one server, in one headless Chromium.

    python benchmarks/classroom_load.py                      # 30 sessions of lesson 03
    python benchmarks/classroom_load.py --sessions 3 --settle 20
    python benchmarks/classroom_load.py --lesson 07_domain_adaptation.ipynb --slider "target rotation"
    python benchmarks/classroom_load.py --sessions 4 --prewarm 03=2 --refill idle   # 2 warm, 2 cold + refills
    python benchmarks/classroom_load.py --without-browsers --prewarm 03=30 --link-mbit 100   # a classroom network

Starts ``python -m mtlviz.serve`` on a free port of 127.0.0.1 (nothing else is ever bound or
contacted: the browser's only proxy is a closed loopback port, so any request for another host
fails, and it is counted), opens N pages of one lesson at once (one browser context each, like N
students) and prints:

* the time until every page's first figure was drawn (and p50/max per page), and the bytes that
  went between the class and the server meanwhile (``--link-mbit``: all of them through one link
  of that rate);
* slider-to-plot latency under that load: once the machine has settled (the pages drawn last
  may still be typesetting and drawing), every page scrolls to its slider and, once the machine
  is quiet again, presses its arrow keys, all pages at the same time, measured in each page's own clock from the key press to ipympl's
  ``drawImage`` of the new frame (the instrumentation of ``slider_latency.py``); each page presses
  its next key ``--pause-ms`` after its last frame, and the pause it actually saw (in its own
  clock, from the frame to the key press) is printed too: on a loaded machine the key press itself
  waits, so the load a class offers is that pause, not the nominal one;
* the memory of the server and its kernels (RSS, and USS/PSS: torch's shared libraries make the
  RSS sum count the same pages once per kernel);
* the kernels left ``--settle`` seconds after every page was closed (their ``beforeunload``
  beacon must free them: must be 0, or the --prewarm pools' size, which the server keeps ready);
* with ``--prewarm``: which pages came from the pool, the others' (cold) first-draw times, and
  how long each pool refill took (the server logs it), so ``--refill`` policies can be compared.

``--without-browsers``: the students speak the wire protocol from this script instead
(``widget_client.py``): what the serving machine does for a class whose browsers are the
students' laptops.

Exits with status 1 if a page did not render, logged a console error, asked for anything outside
127.0.0.1, a slider move got no new frame, or a kernel outlived its page. Ends with a Markdown
table, ready to paste. Bounded: a per-page and per-move timeout and an overall ``--timeout``;
the browser and the server are stopped whatever happens.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import psutil

from slider_latency import _INSTRUMENT, CANVAS, FRAME_LATENCY, LESSON, percentile  # puts the repository root on sys.path
from tests.harness import CANVAS_DRAWN, PageWatcher, VoilaServer, launch_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

HOST = "127.0.0.1"
MAX_SESSIONS = 60
RENDER_TIMEOUT_MS = 900_000  # 30 torch kernels starting at once on 2 cores take minutes
MOVE_TIMEOUT_MS = 60_000
QUIET_CORES = 0.25  # CPU use (cores, over one second) under which the machine counts as settled
QUIET_LIMIT_S = 60.0
# Poll on a timer, not on animation frames: Chromium gives a page that is not in front few or
# no frames, so Playwright's default requestAnimationFrame polling can wait forever.
POLL_MS = 500
#: What the server logs when a pre-warmed dashboard has drawn its lesson (mtlviz.serve.app.PoolRefills).
POOL_DRAWN = "pre-warmed dashboard of"
# Thirty tabs of one browser are thirty windows, of which one is in front: without these flags
# Chromium throttles the timers and paints of the others, which a class of separate laptops does
# not do.
FOREGROUND_ARGS = ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                   "--disable-backgrounding-occluded-windows"]
MB = 1024 * 1024


@dataclass
class Session:
    """One student's tab: its page, what it logged, and what was measured on it."""

    index: int
    context: object = None
    page: object = None
    watcher: Optional[PageWatcher] = None
    rendered_s: Optional[float] = None
    attempts: int = 0
    error: Optional[str] = None
    latencies_ms: List[float] = field(default_factory=list)
    pauses_ms: List[float] = field(default_factory=list)  # from a frame to the next key press
    kernel_id: Optional[str] = None
    client: object = None  # --without-browsers: its widget_client.WidgetStudent


# --still-pages: no CSS animation in the simulated pages (Voila's spinner turns while a page waits
# for its kernel). Five pages on the smooth spinner used 4.5-5.3 CPU-s of this machine's browser per
# 10 s, 2.3 without (2026-12-04); the served spinner now turns in eight steps (2.4-2.5). In a class
# that work is on the students' laptops.
_STILL = """
new MutationObserver((records, observer) => {
  if (!document.head) return;
  const style = document.createElement('style');
  style.textContent = '*, *::before, *::after { animation: none !important; }';
  document.head.appendChild(style);
  observer.disconnect();
}).observe(document, {childList: true, subtree: true});
"""


def _said(error: BaseException) -> str:
    """An error as a failed session reports it: its type and its message's first line."""
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


async def open_session(browser, url: str, session: Session, t0: float, still: bool = False) -> None:
    """Open the dashboard and wait for its first figure; one retry (a page once hung for good after
    its kernel died at start, its TCP port taken by another socket; served kernels use Unix
    sockets since 2026-12-04, and such a page now ends with one line, which counts as a failed
    attempt). ``rendered_s`` counts from ``t0``, the common start."""
    for attempt in range(2):
        session.attempts = attempt + 1
        session.context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        await session.context.add_init_script(_INSTRUMENT)
        if still:
            await session.context.add_init_script(_STILL)
        page = session.page = await session.context.new_page()
        session.watcher = PageWatcher(page)
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        try:
            await page.goto(url, timeout=RENDER_TIMEOUT_MS)
            await page.wait_for_selector(".mtlviz-status, .mtlviz-start-failed", timeout=RENDER_TIMEOUT_MS)
            failed = page.locator(".mtlviz-start-failed")
            if await failed.count():
                raise RuntimeError((await failed.inner_text()).strip())
            if await page.locator(CANVAS).count():
                await page.wait_for_function(CANVAS_DRAWN, polling=POLL_MS, timeout=RENDER_TIMEOUT_MS)
            session.rendered_s = time.monotonic() - t0
            session.kernel_id = await page.evaluate(
                "() => { const m = document.documentElement.innerHTML.match(/\"kernelId\": \"([0-9a-f-]{36})\"/);"
                " return m ? m[1] : null; }")
            session.error = None
            print(f"  page {session.index:2d} drawn at {session.rendered_s:5.1f} s", flush=True)
            return
        except Exception as error:  # noqa: BLE001  (a page that never renders is a result, not a crash)
            session.error = f"attempt {attempt + 1}: {_said(error)}"
            await session.context.close()
            session.context = session.page = None


async def reach_slider(session: Session, label: str) -> None:
    """Focus the page's slider as a student scrolls down to it: the page scrolls and Chromium
    paints what comes into view (lesson 05's dashboard sits below a long, typeset lesson)."""
    try:
        await session.page.locator(".widget-hslider", has_text=label).locator(".noUi-handle").focus(timeout=10_000)
    except Exception as error:  # noqa: BLE001
        session.error = f"slider: {_said(error)}"


async def move_slider(session: Session, label: str, moves: int, offset_s: float, pause_s: float) -> None:
    """Press the slider's arrow keys ``moves`` times (5 right, 5 left, ...), starting after
    ``offset_s`` so that the pages' moves interleave, each ``pause_s`` after the last frame was
    drawn; record each key-to-frame time, and the pauses the page saw.

    The slider is focused once; each move is then a key press on the focused page, as a student's
    is, and one call that the page answers when the frame is drawn. Until 2026-12-05 each press
    went through a locator: Playwright found the slider by its text in the page and checked it
    before every press, and polled for the frame. That cost the browser 8-12 ms of CPU per move
    that no student's key press costs, and, on a loaded machine, stretched the pause between a
    frame and the next press well beyond its nominal 150 ms (RESULTS.md, "Classroom load")."""
    page = session.page
    await asyncio.sleep(offset_s)
    handle = page.locator(".widget-hslider", has_text=label).locator(".noUi-handle")
    try:
        await handle.focus(timeout=10_000)
        for i in range(moves):
            await page.keyboard.press("ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft")
            session.latencies_ms.append(await asyncio.wait_for(page.evaluate(FRAME_LATENCY), MOVE_TIMEOUT_MS / 1000))
            await asyncio.sleep(pause_s)  # the student looks at the new frame
        session.pauses_ms = await page.evaluate("() => window.__pauses")
    except Exception as error:  # noqa: BLE001
        session.error = f"slider: {_said(error)}"


def server_memory(server: VoilaServer) -> Dict[str, float]:
    """RSS, USS and PSS in MB of the server's process tree, in total and per kernel (mean)."""
    kernels = set(server.kernel_pids())
    root = psutil.Process(server.process.pid)
    totals = {"rss": 0.0, "uss": 0.0, "pss": 0.0}
    per_kernel = {"rss": [], "uss": [], "pss": []}
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        for key in totals:
            value = getattr(info, key, float("nan")) / MB
            totals[key] += value
            if process.pid in kernels:
                per_kernel[key].append(value)
    memory = {f"total_{key}": value for key, value in totals.items()}
    memory.update({f"kernel_{key}": statistics.mean(values) if values else float("nan")
                   for key, values in per_kernel.items()})
    memory["kernels"] = len(kernels)
    return memory


def cpu_seconds(server: VoilaServer) -> Dict[str, float]:
    """CPU seconds (user + system) used so far by the server and its kernels, by this script's
    browser (Chromium and Playwright's driver), and by this script itself (with
    --without-browsers, the students' clients): in a class the browsers run on the students'
    laptops, so only the first share is the serving machine's."""
    def total(processes):
        seconds = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seconds += times.user + times.system
        return seconds

    # Each children() call reads every process's /proc entry: list the server's once (listing
    # them again for each of this script's ~170 descendants, as until 2026-12-05, kept this
    # script at a quarter of a core while it waited for a class of 30 to be quiet, and the
    # wait often ended at its limit).
    root = psutil.Process(server.process.pid)
    served = [root, *root.children(recursive=True)]
    served_pids = {p.pid for p in served}
    browser = [p for p in psutil.Process(os.getpid()).children(recursive=True) if p.pid not in served_pids]
    return {"server": total(served), "browser": total(browser), "script": total([psutil.Process(os.getpid())])}


async def wait_until_quiet(server: VoilaServer, limit_s: float) -> Optional[float]:
    """Seconds until the server, its kernels and the browsers together use under
    ``QUIET_CORES`` cores over a second (the pages drawn last may still be typesetting and
    drawing), or None after ``limit_s``."""
    began = time.monotonic()
    before = cpu_seconds(server)
    while time.monotonic() - began < limit_s:
        await asyncio.sleep(1.0)
        now = cpu_seconds(server)
        used = sum(now.values()) - sum(before.values())
        before = now
        if used < QUIET_CORES:
            return time.monotonic() - began
    return None


async def close_sessions(sessions: List[Session]) -> None:
    """Close every page as a student closing the tab does (``beforeunload`` runs, so the beacon
    goes out), wait until each has closed, then drop its context."""
    open_ = [s for s in sessions if s.page is not None]
    closed = [asyncio.ensure_future(s.page.wait_for_event("close", timeout=30_000)) for s in open_]
    await asyncio.gather(*(s.page.close(run_before_unload=True) for s in open_), return_exceptions=True)
    await asyncio.gather(*closed, return_exceptions=True)
    await asyncio.gather(*(s.context.close() for s in sessions if s.context is not None), return_exceptions=True)
    for session in sessions:
        session.page = session.context = None


def fmt_ms(values: List[float], q: float) -> str:
    return f"{percentile(values, q):.0f}" if values else "n/a"


async def open_student(url: str, lesson: str, files: List[str], session: Session, t0: float) -> None:
    """--without-browsers: open the dashboard as :class:`widget_client.WidgetStudent` (no retry:
    a failed start is a result); ``rendered_s`` is when every canvas sent its first frame."""
    from widget_client import WidgetStudent

    session.attempts = 1
    session.client = WidgetStudent(url, lesson, files)
    try:
        await asyncio.wait_for(session.client.open(), RENDER_TIMEOUT_MS / 1000)
        session.rendered_s = time.monotonic() - t0
        session.kernel_id = session.client.kernel_id
        failed = session.client.failed_files
        print(f"  student {session.index:2d} drawn at {session.rendered_s:5.1f} s"
              + (f"; {len(failed)} files failed, first {failed[0]}" if failed else ""), flush=True)
        if failed:
            session.error = f"{len(failed)} of the page's files failed, first {failed[0]}"
        await session.client.settle()
    except Exception as error:  # noqa: BLE001
        in_flight = sorted(session.client.in_flight)
        session.error = (f"{_said(error)} (after {time.monotonic() - t0:.0f} s, {session.client.stage}"
                         + (f": {', '.join(in_flight)}" if in_flight else "") + ")")


async def move_student(session: Session, label: str, moves: int, offset_s: float, pause_s: float) -> None:
    """--without-browsers: ``moves`` slider steps, each timed from sending the value to the next
    frame, each ``pause_s`` after the last frame."""
    if session.rendered_s is None:
        return  # it never opened: its error says why
    await asyncio.sleep(offset_s)
    try:
        slider = session.client.slider(label)
        for i in range(moves):
            session.latencies_ms.append(await asyncio.wait_for(session.client.move(slider, i), MOVE_TIMEOUT_MS / 1000))
            await asyncio.sleep(pause_s)
    except Exception as error:  # noqa: BLE001
        session.error = ((session.error + "; ") if session.error else "") + f"slider: {_said(error)}"


async def close_students(sessions: List[Session]) -> None:
    await asyncio.gather(*(s.client.close() for s in sessions if s.client is not None), return_exceptions=True)
    for session in sessions:
        session.client = None


async def run(server: VoilaServer, args, sessions: List[Session], report: Dict) -> None:
    if args.without_browsers:
        await run_class(server, args, sessions, report, open_one=lambda s, t0: open_student(
            server.url, args.lesson, args.page_files, s, t0), move_one=move_student, close_all=close_students)
        return
    from playwright.async_api import async_playwright

    url = server.url + f"voila/render/{args.lesson}"
    async with async_playwright() as playwright:
        # Every non-loopback request goes to a closed port on 127.0.0.1 (Chromium never proxies
        # loopback; naming 127.0.0.1 in "bypass" stops Playwright from forcing it through the
        # proxy), so nothing leaves the machine even if a page asks; PageWatcher counts it.
        browser = await launch_chromium(playwright, extra_args=FOREGROUND_ARGS,
                                        proxy={"server": f"http://{HOST}:9", "bypass": HOST})
        try:
            await run_class(server, args, sessions, report,
                            open_one=lambda s, t0: open_session(browser, url, s, t0, args.still_pages),
                            move_one=move_slider, close_all=close_sessions,
                            reach_one=None if args.focus_while_moving else reach_slider)
        finally:
            await close_sessions(sessions)
            await browser.close()


def loopback_bytes() -> int:
    """Bytes sent over the loopback so far, both ways (``/proc/net/dev``): the pages' HTTP and
    websocket traffic with the server (kernels talk to it over Unix sockets, the browser to this
    script over a pipe)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            return int(counters.split()[8])  # transmit bytes
    raise RuntimeError("no loopback interface in /proc/net/dev")


@contextlib.contextmanager
def shared_link(mbit: Optional[float]):
    """Every byte between the students and the server through one link of ``mbit`` Mbit/s, as a
    classroom's network is: a token bucket (``tc qdisc ... tbf``) on the loopback, removed again
    on the way out. It models a shared rate only, not a wireless network's latency or losses."""
    if mbit is None:
        yield
        return
    subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", f"{mbit}mbit",
                    "burst", "256kb", "latency", "400ms"], check=True)
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)


async def run_class(server: VoilaServer, args, sessions: List[Session], report: Dict, *, open_one, move_one,
                    close_all, reach_one=None) -> None:
    """Open every session at once, move once all is quiet, close; then count the kernels left."""
    try:
        print(f"opening {args.sessions} sessions of {args.lesson} at once ...", flush=True)
        cpu_before = cpu_seconds(server)
        bytes_before = loopback_bytes()
        t0 = time.monotonic()
        await asyncio.gather(*(open_one(s, t0) for s in sessions))
        cpu_after = cpu_seconds(server)
        report["render_mb"] = (loopback_bytes() - bytes_before) / 1e6
        report["render_cpu"] = {key: cpu_after[key] - cpu_before[key] for key in cpu_after}
        rendered = [s.rendered_s for s in sessions if s.rendered_s is not None]
        report["all_rendered_s"] = max(rendered) if len(rendered) == len(sessions) else None
        report["render_s"] = rendered
        print(f"rendered {len(rendered)}/{len(sessions)} in {time.monotonic() - t0:.1f} s; per page "
              f"p50 {statistics.median(rendered) if rendered else float('nan'):.1f} s, "
              f"max {max(rendered, default=float('nan')):.1f} s; "
              f"retried {sum(s.attempts > 1 for s in sessions)}", flush=True)
        report["memory_rendered"] = server_memory(server)

        # The class moves once every page has settled, so that the moves measure moves, not the
        # last pages still loading on the same two cores. On 2026-12-04 that took 2.7 s (lesson
        # 05), and its first moves stayed the slowest (p50 1.8 s, later ones 0.5-0.9 s): leftover
        # loading does not explain them.
        quiet = report["quiet_after_s"] = await wait_until_quiet(server, QUIET_LIMIT_S)
        print(f"pages, kernels and server quiet (under {QUIET_CORES} cores) after "
              + (f"{quiet:.1f} s" if quiet is not None else f"more than {QUIET_LIMIT_S:.0f} s: moving anyway"), flush=True)
        live = [s for s in sessions if s.page is not None or s.client is not None]
        if reach_one is not None:
            # Every student first scrolls to the slider, and the class moves once those pages have
            # painted: focusing the slider inside the first move put 30 pages' scrolling and painting
            # into the first two moves' times (lesson 05: first moves 1.3-1.9 s, later 0.3-0.7 s).
            await asyncio.gather(*(reach_one(s, args.slider) for s in live))
            reached = report["reached_quiet_after_s"] = await wait_until_quiet(server, QUIET_LIMIT_S)
            print("every page scrolled to its slider; quiet again after "
                  + (f"{reached:.1f} s" if reached is not None else f"more than {QUIET_LIMIT_S:.0f} s"), flush=True)
        stagger = 0.4 / max(len(live), 1)  # spread each round of moves over about 0.4 s
        print(f"moving '{args.slider}' {args.moves} times on each of {len(live)} pages at once ...", flush=True)
        await asyncio.gather(*(move_one(s, args.slider, args.moves, k * stagger, args.pause_ms / 1000)
                               for k, s in enumerate(live)))
        report["memory_moved"] = server_memory(server)
        for when in ("rendered", "moved"):
            m = report[f"memory_{when}"]
            print(f"memory after {when}: server + {m['kernels']} kernels RSS {m['total_rss']:.0f} MB, "
                  f"PSS {m['total_pss']:.0f} MB, USS {m['total_uss']:.0f} MB; per kernel RSS "
                  f"{m['kernel_rss']:.0f} MB, PSS {m['kernel_pss']:.0f} MB, USS {m['kernel_uss']:.0f} MB", flush=True)

        print("closing every page ...", flush=True)
        await close_all(sessions)
        closed_at = time.monotonic()
    finally:
        await close_all(sessions)
    # Kernels left after --settle seconds; also note when the last one went.
    report["kernels_zero_after_s"] = None
    while True:
        left = len(server.kernel_pids())
        elapsed = time.monotonic() - closed_at
        if left == args.pool_total and report["kernels_zero_after_s"] is None:
            report["kernels_zero_after_s"] = elapsed
        if elapsed >= args.settle:
            break
        await asyncio.sleep(min(0.5, args.settle - elapsed))
    report["kernels_left"] = left


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help=f"dashboards open at once (1-{MAX_SESSIONS}; default 30)")
    parser.add_argument("--lesson", default=LESSON, help=f"notebook in notebooks/ (default {LESSON})")
    parser.add_argument("--moves", type=int, default=5, help="slider moves per session (1-100; default 5)")
    parser.add_argument("--slider", default="α (inner lr)", help="text of the slider's label (default 'α (inner lr)')")
    parser.add_argument("--pause-ms", type=float, default=150,
                        help="a student's pause between seeing a new frame and pressing the next key (0-5000 ms; "
                             "default 150: a student stepping through the slider at about 5 moves a second)")
    parser.add_argument("--prewarm", nargs="+", default=[], metavar="LESSON=N",
                        help="start the server with these pools (LESSON=N as the server takes them; a plain N: "
                             "N of --lesson) and wait until they are drawn before the class arrives")
    parser.add_argument("--refill", default=None, choices=["idle", "nice", "at-once"],
                        help="the server's --refill (default: the server's default)")
    parser.add_argument("--start-slots", type=int, default=None,
                        help="the server's --start-slots (default: the server's default, the number of cores)")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait after closing (default 60)")
    parser.add_argument("--still-pages", action="store_true",
                        help="no CSS animations in the simulated pages (Voila's spinner): the browsers' share of "
                             "this machine then comes closer to what a class's own laptops take off the server")
    parser.add_argument("--focus-while-moving", action="store_true",
                        help="each page scrolls to its slider as part of its first move (before 2026-12-05: "
                             "the first moves then also time 30 pages painting what came into view); by default "
                             "every page scrolls to its slider first and the class moves once all is quiet again")
    parser.add_argument("--without-browsers", action="store_true",
                        help="students without a browser (benchmarks/widget_client.py): each asks the server for "
                             "what a page asks (the dashboard, the files one Chromium page of the lesson fetched, "
                             "the kernel's websocket, the widgets) and times each move to the canvas's next "
                             "frame: the serving machine's side of a class whose browsers are the students' laptops")
    parser.add_argument("--link-mbit", type=float, default=None, metavar="MBIT",
                        help="students and server share one link of this many Mbit/s, as a classroom's network "
                             "(tc's token bucket on the loopback while the class runs; needs root and tc; "
                             "default: no link, the loopback's own speed)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="an argument for the server (python -m mtlviz.serve), repeatable; for example "
                             "--server-arg=--VoilaConfiguration.progressive_rendering=True")
    parser.add_argument("--timeout", type=float, default=None,
                        help="overall limit in seconds (default max(900, 300 + 30 x sessions) + settle)")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be 1 to {MAX_SESSIONS}")
    if not 1 <= args.moves <= 100:
        parser.error("--moves must be 1 to 100")
    if not 0 <= args.pause_ms <= 5000:
        parser.error("--pause-ms must be 0 to 5000")
    if not 0 <= args.settle <= 600:
        parser.error("--settle must be 0 to 600 seconds")
    if not (ROOT / "notebooks" / args.lesson).is_file():
        parser.error(f"--lesson: no notebooks/{args.lesson}")
    if args.link_mbit is not None:
        if not 1 <= args.link_mbit <= 10_000:
            parser.error(f"--link-mbit must be 1 to 10000 Mbit/s, got {args.link_mbit:g}")
        if os.geteuid() != 0 or shutil.which("tc") is None:
            parser.error("--link-mbit needs root and tc (iproute2) to shape the loopback")
        qdisc = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True).stdout
        if qdisc.strip() and not qdisc.startswith("qdisc noqueue"):
            parser.error(f"--link-mbit: the loopback is shaped already ({qdisc.strip()}); remove that first")
    timeout = args.timeout if args.timeout is not None else max(900, 300 + 30 * args.sessions) + args.settle
    lesson_number = args.lesson.split("_")[0]
    args.pool_items = [item if "=" in item else f"{lesson_number}={item}" for item in args.prewarm]
    try:
        args.pool_total = sum(int(item.rsplit("=", 1)[1]) for item in args.pool_items)
    except ValueError:
        parser.error(f"--prewarm items are N or LESSON=N; got {args.prewarm}")

    # `kill` (SIGTERM) must stop the server and its 30 kernels too: Python's default dies without
    # running the `with VoilaServer` exit, which left them running at full CPU (2026-12-03).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = os.getloadavg()[0]
    print(f"{args.sessions} sessions, {args.moves} moves each, {psutil.cpu_count()} CPUs, load average {load:.1f}"
          + ("  (busy machine: figures will be pessimistic)" if load > 0.5 * psutil.cpu_count() else ""), flush=True)
    report: Dict = {}
    sessions = [Session(i) for i in range(args.sessions)]
    # Room for each page's one retry while its first kernel is still being freed.
    extra = [f"--max-kernels={2 * args.sessions + args.pool_total + 1}"]
    if args.pool_items:
        extra += ["--prewarm", *args.pool_items]
    if args.refill:
        extra.append(f"--refill={args.refill}")
    if args.start_slots is not None:
        extra.append(f"--start-slots={args.start_slots}")
    extra += args.server_arg
    with VoilaServer(host=HOST, extra_args=extra) as server:
        listening = {conn.laddr.ip for conn in psutil.Process(server.process.pid).net_connections("inet")
                     if conn.status == psutil.CONN_LISTEN}
        if listening != {HOST}:
            print(f"refusing to run: the server listens on {sorted(listening)}, not only {HOST}")
            return 1
        print(f"server on {server.url} (answered after {server.started_in_s:.1f} s)", flush=True)
        if args.without_browsers:  # before the pools are drawn, so its page starts a kernel of its own
            from widget_client import page_files

            args.page_files = page_files(server.url, args.lesson)
            print(f"one Chromium page of {args.lesson} fetched {len(args.page_files)} files besides the dashboard; "
                  "each student fetches them too", flush=True)
        if args.pool_total:
            started = time.monotonic()
            while server.log().count(POOL_DRAWN) < args.pool_total:  # the server logs each one drawn
                if time.monotonic() - started > 60 * args.pool_total + 120:
                    print("the pre-warmed pools were not drawn in time")
                    return 1
                time.sleep(0.5)
            report["pool_filled_s"] = time.monotonic() - started
            report["log_before_class"] = len(server.log())
            print(f"pools {' '.join(args.pool_items)}: {args.pool_total} pre-warmed dashboards drawn after "
                  f"{report['pool_filled_s']:.1f} s", flush=True)
        freed_by = time.monotonic() + 60
        while len(server.kernel_pids()) > args.pool_total and time.monotonic() < freed_by:
            time.sleep(0.2)  # the recording page's kernel is being freed (its shutdown beacon)
        try:
            with shared_link(args.link_mbit):
                asyncio.run(asyncio.wait_for(run(server, args, sessions, report), timeout))
        except asyncio.TimeoutError:
            print(f"TIMEOUT: the run took more than {timeout:.0f} s", flush=True)
            report["timeout"] = True
        if args.pool_total:
            during = server.log()[report["log_before_class"]:]
            warm_ids = set(re.findall(r"Using pre-heated kernel: ([0-9a-f-]{36})", during))
            report["from_pool"] = [s.index for s in sessions if s.kernel_id in warm_ids]
            report["refills_s"] = [float(x) for x in re.findall(POOL_DRAWN + r" \S+ drawn ([0-9.]+) s after", during)]
    return summarise(args, sessions, report)


def summarise(args, sessions: List[Session], report: Dict) -> int:
    failures = []
    if report.get("timeout"):
        failures.append("overall timeout")
    for s in sessions:
        if s.error:
            failures.append(f"page {s.index}: {s.error}")
        if s.watcher and s.watcher.console_errors:
            failures.append(f"page {s.index}: console errors {s.watcher.console_errors[:3]}")
        if s.watcher and s.watcher.external_requests:
            failures.append(f"page {s.index}: requests left {HOST}: {s.watcher.external_requests[:3]}")
    latencies = [ms for s in sessions for ms in s.latencies_ms]
    pauses = [ms for s in sessions for ms in s.pauses_ms]
    expected_moves = args.moves * args.sessions
    if len(latencies) < expected_moves:
        failures.append(f"{expected_moves - len(latencies)} of {expected_moves} slider moves got no new frame")
    if report.get("kernels_left", -1) != args.pool_total:  # only the refilled pre-warmed pools may stay
        failures.append(f"{report.get('kernels_left', '?')} kernels left {args.settle:.0f} s after closing"
                        + (f" (the pools of {args.pool_total} may stay)" if args.pool_total else ""))

    render = report.get("render_s", [])
    memory = report.get("memory_moved") or report.get("memory_rendered") or {}
    all_rendered = report.get("all_rendered_s")
    zero = report.get("kernels_zero_after_s")
    nan = float("nan")
    rows = [
        ("sessions rendered", f"{len(render)} / {args.sessions}"),
        ("time until all rendered", f"{all_rendered:.1f} s" if all_rendered is not None else "not all rendered"),
        ("CPU s while rendering: server + kernels / simulated browsers / this script",
         "{server:.0f} / {browser:.0f} / {script:.0f}".format(**report["render_cpu"]) if "render_cpu" in report else "n/a"),
        ("per page render, p50 / max", f"{statistics.median(render):.1f} s / {max(render):.1f} s" if render else "n/a"),
        ("bytes between the class and the server while rendering (both ways)",
         f"{report['render_mb']:.0f} MB, {report['render_mb'] / args.sessions:.1f} MB per student"
         if "render_mb" in report else "n/a"),
        (f"slider-to-plot p50 / p95 ({len(latencies)} moves)", f"{fmt_ms(latencies, 0.5)} ms / {fmt_ms(latencies, 0.95)} ms"),
        ("moves began once everything was quiet, after", f"{report['quiet_after_s']:.1f} s"
         if report.get("quiet_after_s") is not None else f"not quiet within {QUIET_LIMIT_S:.0f} s"),
        *([("pages scrolled to the slider, then quiet again after", f"{report['reached_quiet_after_s']:.1f} s"
            if report.get("reached_quiet_after_s") is not None else f"not quiet within {QUIET_LIMIT_S:.0f} s")]
          if "reached_quiet_after_s" in report else []),
        *([(f"pause from a page's frame to its next key press (--pause-ms {args.pause_ms:.0f}), p50 / p95",
             f"{fmt_ms(pauses, 0.5)} ms / {fmt_ms(pauses, 0.95)} ms")] if pauses else []),
        ("the same by move (every page's 1st, 2nd, ...), p50 / p95 ms", ", ".join(
            f"{fmt_ms(by_move, 0.5)} / {fmt_ms(by_move, 0.95)}" for by_move in (
                [s.latencies_ms[k] for s in sessions if len(s.latencies_ms) > k] for k in range(args.moves)))),
        (f"server + {memory.get('kernels', 0)} kernels, RSS / PSS / USS",
         f"{memory.get('total_rss', nan):.0f} / {memory.get('total_pss', nan):.0f} / {memory.get('total_uss', nan):.0f} MB"),
        ("per kernel (mean), RSS / PSS / USS",
         f"{memory.get('kernel_rss', nan):.0f} / {memory.get('kernel_pss', nan):.0f} / {memory.get('kernel_uss', nan):.0f} MB"),
        (f"kernels left {args.settle:.0f} s after closing", f"{report.get('kernels_left', '?')}"
         + (f" (the pre-warmed pools)" if args.pool_total else "")
         + (f" (all students' gone after {zero:.1f} s)" if zero is not None else "")),
    ]
    if args.pool_total:
        warm = set(report.get("from_pool", []))
        cold = [s.rendered_s for s in sessions if s.index not in warm and s.rendered_s is not None]
        hot = [s.rendered_s for s in sessions if s.index in warm and s.rendered_s is not None]
        refills = report.get("refills_s", [])
        rows += [
            ("pools drawn before the class, after", f"{report.get('pool_filled_s', nan):.1f} s"),
            (f"pages from a pool ({len(hot)}), first draw p50 / max",
             f"{statistics.median(hot):.1f} s / {max(hot):.1f} s" if hot else "n/a"),
            (f"pages started cold ({len(cold)}), first draw p50 / max",
             f"{statistics.median(cold):.1f} s / {max(cold):.1f} s" if cold else "n/a"),
            (f"pool refills ({len(refills)}), each drawn after (from its request)",
             ", ".join(f"{x:.1f} s" for x in refills) or "none"),
        ]
    print()
    clients = ("students without browsers (widget protocol, --without-browsers)" if args.without_browsers
               else "one headless Chromium")
    print(f"Classroom load: {args.sessions} sessions of {args.lesson}, {clients}, "
          f"{psutil.cpu_count()} CPUs, {args.moves} moves of '{args.slider}' per session; start slots "
          f"{'default' if args.start_slots is None else args.start_slots}, pre-warmed "
          f"{' '.join(args.pool_items) or 'none'}, refill {args.refill or 'default'}"
          + ("; pages without CSS animations (--still-pages)" if args.still_pages else "")
          + (f"; one {args.link_mbit:g} Mbit/s link between the class and the server" if args.link_mbit else "")
          + (f"; server arguments {' '.join(args.server_arg)}" if args.server_arg else ""))
    print()
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()
    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print("OK: every page rendered cleanly, stayed on 127.0.0.1, and freed its kernel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
