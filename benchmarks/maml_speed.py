"""MAML meta-steps per second: mtlviz (vmap, batched, compiled) against a plain per-task autograd loop.

Run from the repository root::

    python benchmarks/maml_speed.py            # full run, eager only (under ~3 minutes on 2 cores)
    python benchmarks/maml_speed.py --quick    # smoke run, a few seconds of timing
    python benchmarks/maml_speed.py --compile  # also time the meta-loss under torch.compile
    python benchmarks/maml_speed.py --compile --rows 1  # only the issue's row: second order, 1 inner step

One meta-step is the meta-gradient ∇θ (1/N) Σᵢ L_Tᵢ(θ'ᵢ) of one meta-batch: the forward pass
through the inner updates and the backward pass to θ (the outer optimiser step, identical for
every implementation, is left out; so are the argument checks, which ``MAML.fit`` makes on its
first batch only). mtlviz is timed three ways: ``meta_loss`` (the formula, a
``vmap`` over tasks), ``batched_meta_loss`` (what ``MAML.fit`` runs eagerly) and, with
``--compile``, ``compile_meta_value_and_grad`` (what ``MAML(compile=True)`` runs). Every implementation gets the same model
(``sinusoid_mlp(0)``, 1-40-40-1), the same θ, the same 25 tasks with K = 10 support and 10 query
points, α = 0.01, in one process on the same number of threads (2 by default). Before any timing
the script checks that all implementations give the same meta-gradient to float32 tolerance and
exits with status 1 if they do not, so the figures compare equal work; and that the compiled
meta-gradient traces as one graph (``fullgraph=True``; a graph break would fall back to eager and
time the wrong thing), exiting with status 1 if not.

Timing: ``time.perf_counter`` around blocks of calls; warm-up calls first; each repeat times
every implementation once, in turn, each right after a block of the plain loop. A rate is the
median over repeats; a speed-up is the median over repeats of the ratio of two blocks timed back
to back (loop, then the implementation), because this machine's speed drifts by tens of percent
within seconds and a ratio of two whole-run medians carries that drift into the figure.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import warnings

import torch

# Measure the checkout this script sits in, whatever the current directory or installed copy.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtlviz import SinusoidTasks, sinusoid_mlp  # noqa: E402
from mtlviz import functional as Fn  # noqa: E402
from mtlviz.reference import loop_meta_gradient  # noqa: E402

#: The issue's targets (issue 12): MAML.fit's eager step and its compiled step at least this
#: many times as fast as the plain loop, measured in the same run.
TARGET_SPEEDUP = 10.0
TARGET_COMPILED_SPEEDUP = 35.0
INNER_LR = 0.01  # α, the paper's
META_BATCH_SIZE = 25  # N
K_SHOT = 10
K_QUERY = 10
#: (first_order, n_inner_steps) in the order of the table.
CONFIGS = [(False, 1), (False, 5), (True, 1), (True, 5)]
#: Float32 tolerance for "same meta-gradient": ‖g − g_ref‖ / ‖g_ref‖ over all of θ.
RELATIVE_TOLERANCE = 1e-4


@dataclass
class Timing:
    name: str
    step: Callable[[], object]
    per_step: List[float]  # seconds per meta-step, one entry per repeat
    calls_per_block: int = 1
    first_call: float = float("nan")  # seconds; for torch.compile, the compile time
    #: seconds per step of the plain loop in the block timed just before each of this one's blocks
    loop_before: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.per_step)

    @property
    def speedup(self) -> float:
        """Median over repeats of (plain loop's block / this block), each pair timed back to back.

        The machine's speed drifts by tens of percent over seconds on a shared 2-core VM (the plain
        loop took 22-36 ms per step in five runs of one evening); a ratio of two blocks a second
        apart cancels that drift, where a ratio of medians over a whole run does not."""
        return statistics.median(loop / step for loop, step in zip(self.loop_before, self.per_step))


def flat(grads: Dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads.values()])


def check_same(label: str, grads: Dict[str, torch.Tensor], reference: Dict[str, torch.Tensor]) -> float:
    """Relative difference of two meta-gradients; exit non-zero when above float32 tolerance."""
    if list(grads) != list(reference):
        sys.exit(f"FAIL {label}: parameter names differ: {list(grads)} vs {list(reference)}")
    got, want = flat(grads), flat(reference)
    if not bool(torch.isfinite(got).all()):
        sys.exit(f"FAIL {label}: the meta-gradient has non-finite entries")
    relative = float((got - want).norm() / want.norm().clamp_min(1e-30))
    if not relative <= RELATIVE_TOLERANCE:
        sys.exit(f"FAIL {label}: meta-gradients differ from the plain loop's by {relative:.2e} "
                 f"(relative, tolerance {RELATIVE_TOLERANCE:.0e}); the timings would not compare equal work")
    return relative


def call_block(step: Callable[[], object], calls: int) -> float:
    """Seconds per call, averaged over ``calls`` back-to-back calls."""
    started = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - started) / calls


def calibrate(timing: Timing, warmup: int, block_seconds: float) -> None:
    """Run up to ``warmup`` warm-up calls and choose how many calls make one timed block.

    Warm-up stops early once it has taken two blocks' worth of time (slow configurations on a
    busy machine would otherwise dominate the run); at least one call is always made.
    """
    calls, spent = 0, 0.0
    while calls < warmup and (calls == 0 or spent < 2 * block_seconds):
        spent += call_block(timing.step, 1)
        calls += 1
    timing.calls_per_block = max(1, round(block_seconds / max(spent / calls, 1e-9)))


def time_all(timings: List[Timing], repeats: int) -> None:
    """Interleave the implementations: each repeat times each once, in turn, each right after a
    block of the plain loop (``timings[0]``), so every speed-up compares blocks timed back to back."""
    loop, others = timings[0], timings[1:]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one block would be charged to that implementation only
    try:
        for _ in range(repeats):
            for timing in others:
                loop_seconds = call_block(loop.step, loop.calls_per_block)
                loop.per_step.append(loop_seconds)
                timing.loop_before.append(loop_seconds)
                timing.per_step.append(call_block(timing.step, timing.calls_per_block))
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()


def format_rate(seconds: float) -> str:
    """``steps/s (ms/step)``, three significant figures each."""
    def figure(value: float) -> str:
        return f"{value:.3g}" if value < 1000 else f"{value:.0f}"

    return f"{figure(1.0 / seconds)} ({figure(1e3 * seconds)} ms)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few repeats, short blocks")
    parser.add_argument("--compile", action="store_true",
                        help="also time the meta-loss under torch.compile(dynamic=False), as MAML(compile=True)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 7; 3 with --quick)")
    parser.add_argument("--block-seconds", type=float, default=None,
                        help="target length of one timed block (default 0.5; 0.1 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the meta-batch (default 0)")
    parser.add_argument("--rows", default="1,2,3,4",
                        help="which rows of the table to measure, numbered from 1 in CONFIGS' order (default all; "
                             "'1' is the issue's second-order, one-inner-step row)")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    block_seconds = args.block_seconds if args.block_seconds is not None else (0.1 if args.quick else 0.5)
    warmup = 2 if args.quick else 5
    if repeats < 1 or block_seconds <= 0 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1 and --block-seconds positive")
    try:
        rows_wanted = sorted({int(row) for row in args.rows.split(",")})
    except ValueError:
        rows_wanted = []
    if not rows_wanted or not all(1 <= row <= len(CONFIGS) for row in rows_wanted):
        parser.error(f"--rows must list row numbers in [1, {len(CONFIGS)}] separated by commas; got {args.rows!r}")

    torch.set_num_threads(args.threads)
    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(META_BATCH_SIZE, K_SHOT, K_QUERY, args.seed).data

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{torch.get_num_threads()} threads of {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"model sinusoid_mlp(0) 1-40-40-1, meta-batch {META_BATCH_SIZE} tasks, K = {K_SHOT} support + "
          f"{K_QUERY} query points, α = {INNER_LR}, seed {args.seed}")
    print(f"{repeats} repeats x ~{block_seconds:g} s blocks after up to {warmup} warm-up calls; median reported"
          f"{' (quick run: figures are rough)' if args.quick else ''}")
    if load > os.cpu_count():
        print(f"note: the machine is busy (load {load:.1f} on {os.cpu_count()} CPUs); figures will be pessimistic; "
              "oversubscribed torch threads can slow these small ops more than tenfold")
    print()

    rows = []
    for first_order, n_inner_steps in (CONFIGS[row - 1] for row in rows_wanted):
        order = "first" if first_order else "second"
        kwargs = dict(inner_lr=INNER_LR, n_inner_steps=n_inner_steps, first_order=first_order)
        label = f"{order}-order, {n_inner_steps} inner step{'s' if n_inner_steps > 1 else ''}"

        def loop_step(kwargs=kwargs):
            return loop_meta_gradient(model, params, *batch, **kwargs)

        def fast_loop_step(kwargs=kwargs):
            return loop_meta_gradient(model, params, *batch, fast_forward=True, **kwargs)

        def formula_step(kwargs=kwargs):
            return Fn.meta_gradient(model, params, *batch, **kwargs)  # of meta_loss, the vmap formula

        def batched_step(kwargs=kwargs):
            # what MAML.fit runs eagerly after its first (checked) step
            return Fn.meta_value_and_grad(model, params, *batch, check_inputs=False, **kwargs)[1]

        reference = loop_step()
        mismatch = check_same(f"mtlviz meta_loss, {label}", formula_step(), reference)
        mismatch = max(mismatch, check_same(f"mtlviz batched_meta_loss, {label}", batched_step(), reference))
        check_same(f"loop with functional_forward, {label}", fast_loop_step(), reference)
        timings = [Timing("loop", loop_step, []), Timing("formula", formula_step, []),
                   Timing("batched", batched_step, []), Timing("fast loop", fast_loop_step, [])]

        compiled_mismatch = float("nan")
        if args.compile:
            torch._dynamo.reset()  # a cold compile for each configuration
            value_and_grad = Fn.compile_meta_value_and_grad()  # what MAML(compile=True) trains with

            def compiled_step(kwargs=kwargs, value_and_grad=value_and_grad):  # unchecked, as in MAML.fit
                return value_and_grad(model, params, *batch, check_inputs=False, **kwargs)[1]

            started = time.perf_counter()
            with warnings.catch_warnings():
                # compile_meta_value_and_grad traces with fullgraph=True and warns when that fails (a graph
                # break included), then runs eagerly: timing that would measure the wrong thing.
                warnings.simplefilter("error", Fn.CompileWarning)
                try:
                    compiled_grads = compiled_step()  # compiles; later calls reuse the code
                except Fn.CompileWarning as failure:
                    sys.exit(f"FAIL mtlviz compiled, {label}: the meta-gradient did not compile as one graph "
                             f"(fullgraph=True): {failure}")
            compile_seconds = time.perf_counter() - started
            compiled_mismatch = check_same(f"mtlviz compiled, {label}", compiled_grads, reference)
            timings.append(Timing("compiled", compiled_step, [], first_call=compile_seconds))

        for timing in timings:
            calibrate(timing, warmup, block_seconds)
        time_all(timings, repeats)
        rows.append((label, timings, mismatch, compiled_mismatch))
        print(f"done: {label} (meta-gradients agree: relative difference {mismatch:.1e}"
              + (f", compiled {compiled_mismatch:.1e}, one graph" if args.compile else "") + ")", flush=True)

    print()
    header = ["configuration", "plain loop", "meta_loss (vmap)", "speed-up",
              "batched_meta_loss (MAML.fit)", "speed-up", f"target ≥ {TARGET_SPEEDUP:g}x",
              "loop with functional_forward", "speed-up batched/that loop"]
    if args.compile:
        header += ["compile s (first call)", "compiled (MAML(compile=True))", "speed-up",
                   f"target ≥ {TARGET_COMPILED_SPEEDUP:g}x"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for label, timings, _, _ in rows:
        loop, formula, batched, fast_loop = timings[:4]
        cells = [label, format_rate(loop.median), format_rate(formula.median), f"{formula.speedup:.1f}x",
                 format_rate(batched.median), f"{batched.speedup:.1f}x",
                 "met" if batched.speedup >= TARGET_SPEEDUP else "not met", format_rate(fast_loop.median),
                 f"{batched.speedup / fast_loop.speedup:.1f}x"]
        if args.compile:
            compiled = timings[4]
            speedup = compiled.speedup
            cells += [f"{compiled.first_call:.1f}", format_rate(compiled.median), f"{speedup:.1f}x",
                      "met" if speedup >= TARGET_COMPILED_SPEEDUP else "not met"]
        print("| " + " | ".join(cells) + " |")
    print()
    print("plain loop = reference.loop_meta_gradient as a plain loop is usually written (functional_call per task); "
          "'loop with functional_forward' gives that loop the model's cheaper forward too, so its speed-up "
          "isolates what batching the tasks buys.")
    print("steps/s (ms/step) = meta-gradients per second (median over repeats); speed-up = median over repeats of "
          "loop time / that time, each from two blocks timed back to back (the loop's block just before), which "
          "cancels the machine's drift over a run. The targets (issue 12) are reported, not enforced.")
    if args.compile:
        print("compile s = wall time of the first compiled call (forward + backward compile + one step); "
              "inductor caches on disk, so a second run compiles faster.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
