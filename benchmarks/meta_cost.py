"""What a meta-step costs: time and memory against the inner steps, per method (issue 16 part 3).

    .venv/bin/python benchmarks/meta_cost.py                 # both networks, fresh processes (about 4 min)
    .venv/bin/python benchmarks/meta_cost.py --nets sinusoid --here   # times in this process (seconds)
    .venv/bin/python benchmarks/meta_cost.py --shipped       # the tables of the shipped figure

For second-order MAML, first-order MAML, Reptile and ANIL on the sinusoid MLP and the glyph
ConvNet (meta-batches as the shipped models train: 25 sinusoid tasks, 8 five-way 1-shot episodes),
and on the glyph ConvNet Meta-LSTM (k = its learner updates) and ProtoNet (no inner loop: measured
once), at 1, 2, 5 and 10 inner steps, it prints three tables beside the baseline measured in the same run
(one plain forward and backward pass of the same network on the same points): the median time per
meta-step, the peak bytes autograd's graph holds (exact), and the rise of a fresh process's peak
resident memory. All the measuring is :mod:`mtlviz.meta.cost` (lesson 12's button uses it too);
``python -m mtlviz.pretrained.figures meta_cost`` ships the same measurement for the lesson.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

from mtlviz.meta.cost import FIELDS, NETS, cost_table, measure


def print_result(result) -> None:
    print(f"\n## {result['net']}: {result['setting']}")
    before = result.get("load_average_before")
    print(f"({result['threads']} torch thread(s); load average " + (f"{before:.2f} before, " if before is not None else "")
          + f"{result['load_average']:.2f} after the run)")
    for field in FIELDS:
        if field in result["plain"]:
            print()
            print(cost_table(result, field))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=list(NETS))
    parser.add_argument("--steps", nargs="*", type=int, default=[1, 2, 5, 10])
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per configuration")
    parser.add_argument("--here", action="store_true", help="time in this process; no real peak memory")
    parser.add_argument("--shipped", action="store_true", help="print the shipped figure instead of measuring")
    args = parser.parse_args(argv)
    if args.shipped:
        from mtlviz.pretrained.figures import load_figure

        for net, result in load_figure("meta_cost").items():
            print_result(result)
        return 0
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {os.cpu_count()} CPUs, "
          f"load average {load:.2f} before the run" + ("  (busy machine: times are noisy)" if load > 1.5 else ""))
    for net in args.nets:
        repeats = args.repeats or (20 if net == "sinusoid" else 3)
        print_result(measure(net, steps=args.steps, repeats=repeats, fresh_process=not args.here))
    return 0


if __name__ == "__main__":
    sys.exit(main())
