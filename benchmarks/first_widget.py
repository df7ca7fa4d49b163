"""How long one student waits for each lesson: first widget and first figure on screen, cold and from a pool.

    python benchmarks/first_widget.py                 # every lesson, cold, then from a pre-warmed pool
    python benchmarks/first_widget.py 03 05 --runs 2  # lessons whose names start so, two pages each
    python benchmarks/first_widget.py --cold-only
    python benchmarks/first_widget.py --cold-only --server-arg=--fresh-kernels   # kernels not forked

Starts ``python -m mtlviz.serve`` on a free port of 127.0.0.1 with the lessons and a toy page (an
ipympl sine plot under a slider, after ``import torch``: the floor that Voila, the kernel's
imports and the widget libraries cost before any lesson code), and opens each page in a fresh
headless Debian Chromium context, one page at a time. In the page's own clock (milliseconds since
navigation) it records the load event, the first widget view attached to the page, and the first
figure drawn (ipympl's canvas painted: :data:`tests.harness.CANVAS_DRAWN`; "-" for a page with
no figure). *Cold*: a server without pools, so every page starts its kernel and runs the lesson.
*Pool*: a second server started with ``--prewarm LESSON=1`` for every page, each pool drawn before
its page is opened (the refill of the page before is waited for, so refills never overlap a
measurement). Issue 19's targets: first widget <= 8 s cold and <= 2 s from a pool, every lesson,
quiet machine, browser on the same machine. Prints the load average: on a loaded 2-core machine
every figure stretches. Exit status 1 if a page did not show a widget.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from slider_latency import TOY_SOURCE  # puts the repository root on sys.path
from tests.harness import CANVAS_DRAWN, VoilaServer, launch_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOY = "00_toy_baseline.ipynb"
#: What the server logs when a pre-warmed dashboard has drawn its lesson (mtlviz.serve.app.PoolRefills).
POOL_DRAWN = "pre-warmed dashboard of"
PAGE_TIMEOUT_MS = 300_000
#: The page's clock when the first widget view is attached (false until then).
FIRST_WIDGET = "() => document.querySelector('.jp-OutputArea-output .jupyter-widgets') ? performance.now() : false"
#: The page's clock when the first figure is painted; -1 for a page that has loaded, has waited
#: 3 s more, and holds no ipympl canvas (its dashboards draw no figure).
FIRST_FIGURE = f"""() => {{
  if (({CANVAS_DRAWN})()) return performance.now();
  const nav = performance.getEntriesByType('navigation')[0];
  if (document.readyState === 'complete' && nav && nav.loadEventEnd > 0 && performance.now() > nav.loadEventEnd + 3000
      && !document.querySelector('.jupyter-matplotlib-canvas-div canvas')) return -1;
  return false;
}}"""
LOAD_EVENT = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"


def open_once(browser, url):
    """One page in a fresh context: (load event, first widget, first figure or None) in seconds."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url, timeout=PAGE_TIMEOUT_MS, wait_until="commit")
        widget = page.wait_for_function(FIRST_WIDGET, polling=50, timeout=PAGE_TIMEOUT_MS).json_value()
        figure = page.wait_for_function(FIRST_FIGURE, polling=50, timeout=PAGE_TIMEOUT_MS).json_value()
        page.wait_for_function("() => document.readyState === 'complete'", polling=100, timeout=PAGE_TIMEOUT_MS)
        load = page.evaluate(LOAD_EVENT)
        page.goto("about:blank")  # closes the kernel (the serve's beacon), as a student leaving does
        return load / 1000, widget / 1000, (None if figure < 0 else figure / 1000)
    finally:
        context.close()


def measure_pages(browser, server, pages, runs, pool=False):
    rows = {}
    for name in pages:
        samples = []
        for _ in range(runs):
            if pool:  # the page's pool is drawn (and the refill after the page before is done)
                wait_for_pools(server, server.pools_expected)
                before = server.log().count("Using pre-heated kernel")
            try:
                samples.append(open_once(browser, server.url + f"voila/render/{name}"))
            except Exception as error:  # noqa: BLE001 -- a page that never shows a widget is a result
                print(f"  {name}: FAILED {type(error).__name__}: {str(error).splitlines()[0][:160]}", flush=True)
                samples = None
                break
            if pool:
                server.pools_expected += 1  # its refill
                if server.log().count("Using pre-heated kernel") == before:
                    print(f"  {name}: the page did not get a pre-warmed kernel", flush=True)
            load, widget, figure = samples[-1]
            print(f"  {'pool' if pool else 'cold'} {name}: load {load:.1f} s, widget {widget:.1f} s, figure "
                  f"{'-' if figure is None else f'{figure:.1f} s'}", flush=True)
        rows[name] = samples
    return rows


def wait_for_pools(server, expected, limit_s=900):
    started = time.monotonic()
    while server.log().count(POOL_DRAWN) < expected:
        if time.monotonic() - started > limit_s:
            raise RuntimeError(f"the pools did not draw {expected} dashboards within {limit_s} s")
        time.sleep(0.5)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="prefixes of notebooks in notebooks/ (default: all)")
    parser.add_argument("--runs", type=int, default=1, help="pages per lesson and setting (1-5; default 1)")
    parser.add_argument("--cold-only", action="store_true", help="leave out the pre-warmed pool")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="an extra python -m mtlviz.serve option for both servers, e.g. --server-arg=--fresh-kernels")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 5:
        parser.error("--runs must be 1 to 5")
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        lessons = [nb for nb in lessons if any(nb.name.startswith(p) for p in args.lessons)]
        if not lessons:
            parser.error(f"no lesson in notebooks/ starts with {' or '.join(args.lessons)}")
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="mtlviz-first-widget-"))
    for lesson in lessons:
        shutil.copy(lesson, workdir / lesson.name)
    nbformat.write(new_notebook(cells=[new_code_cell("import torch\n" + TOY_SOURCE)]), workdir / TOY)
    pages = [TOY] + [lesson.name for lesson in lessons]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with VoilaServer(notebook_dir=workdir,
                             extra_args=[f"--max-kernels={2 * len(pages) + 4}", *args.server_arg]) as server:
                results["cold"] = measure_pages(browser, server, pages, args.runs)
            if not args.cold_only:
                # one pool per page; pool names as the server takes them (file names)
                extra = [f"--max-kernels={3 * len(pages) + 4}", *args.server_arg,
                         "--prewarm", *[f"{name}=1" for name in pages]]
                with VoilaServer(notebook_dir=workdir, extra_args=extra) as server:
                    started = time.monotonic()
                    server.pools_expected = len(pages)
                    wait_for_pools(server, len(pages))
                    print(f"pools drawn {time.monotonic() - started:.0f} s after the server answered", flush=True)
                    results["pool"] = measure_pages(browser, server, pages, args.runs, pool=True)
            browser.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nFirst widget and first figure on screen, headless Chromium on this machine, one page at a time, "
          f"{args.runs} page(s) per cell (median); load average at the end {os.getloadavg()[0]:.1f}"
          + (f"; server arguments {' '.join(args.server_arg)}" if args.server_arg else ""))
    settings = list(results)
    header = " | ".join(f"{s}: load / widget / figure s" for s in settings)
    print(f"| page | {header} |")
    print("|---" * (1 + len(settings)) + "|")
    failed = False
    for name in pages:
        cells = []
        for setting in settings:
            samples = results[setting].get(name)
            if not samples:
                cells.append("FAILED")
                failed = True
                continue
            load, widget, figure = (median([s[i] for s in samples]) for i in range(3))
            cells.append(f"{load:.1f} / {widget:.1f} / {'-' if figure is None else f'{figure:.1f}'}")
        label = "baseline: toy page (import torch, ipympl plot)" if name == TOY else Path(name).stem
        print(f"| {label} | {' | '.join(cells)} |")
    print("target (issue 19): first widget <= 8 s cold, <= 2 s from a pool, quiet machine")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
