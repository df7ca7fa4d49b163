"""Glyph task family: images generated per second and the memory of an episode.

    python benchmarks/glyph_speed.py

Prints the one-off catalogue rendering time (every character of every script, rendered from
matplotlib's DejaVu Sans), then the rate of distorted 28x28 images per second when sampling
5-way 1-shot and 5-shot episodes (15 queries per class) on 2 threads, beside the baseline of
rendering the same images undistorted (distortion=0: the cost of the warp, stroke and noise).
"""
from __future__ import annotations

import sys
import time

import torch


def rate(tasks, k_shot, repeats=5, n_tasks=32):
    per_episode = 5 * (k_shot + 15)
    tasks.sample_episodes(2, 5, k_shot, 15, random_state=0)  # warm-up
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        tasks.sample_episodes(n_tasks, 5, k_shot, 15, random_state=seed)
        times.append(time.perf_counter() - started)
    return n_tasks * per_episode / sorted(times)[len(times) // 2]


def main() -> int:
    torch.set_num_threads(2)
    started = time.perf_counter()
    from mtlviz.data.glyphs import GlyphTasks, glyph_classes

    classes = glyph_classes("all")
    print(f"catalogue: {len(classes)} classes rendered in {time.perf_counter() - started:.1f} s (once per process)")
    distorted, clean = GlyphTasks("background"), GlyphTasks("background", distortion=0.0)
    print(f"{'episodes':<22} {'distorted img/s':>16} {'undistorted img/s':>18} {'episode memory':>15}")
    for k_shot in (1, 5):
        episode = distorted.sample_episodes(1, 5, k_shot, 15, random_state=0)
        memory = sum(t.element_size() * t.numel() for t in episode) / 1024
        print(f"5-way {k_shot}-shot, 15 queries {rate(distorted, k_shot):>16,.0f} {rate(clean, k_shot):>18,.0f} "
              f"{memory:>12.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
