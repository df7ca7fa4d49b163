"""How many tasks does MAML need? Regenerate lesson 11's models and measurements:
``python -m mtlviz.pretrained.train_task_pool``.

For each pool size T of :data:`POOL_SIZES` (``None`` is an unlimited supply: every meta-batch
draws new tasks from the family), MAML and the pretrained baseline (:class:`~mtlviz.JointTraining`)
are trained on a :class:`~mtlviz.data.tasks.TaskPool` of T sinusoid tasks (seed :data:`POOL_SEED`;
the pools are nested, the first T tasks of the T = 1000 pool) with the recipe of
``python -m mtlviz.pretrained.train_sinusoid`` (1-40-40-1 ReLU net, α = 0.01, one inner step,
meta-batch 25, K = 5 support and 25 query points, Adam with β = 3e-3 along a cosine), shortened to
:data:`MAML_STEPS` outer steps for MAML and :data:`JOINT_STEPS` for the baseline so that all
sixteen models train in a few minutes of one thread (6 minutes on a busy 2-core machine,
2026-12-03). Each meta-batch takes 25 of the pool's tasks (with replacement) with fresh points x,
so what is limited is the number of *tasks*, not of points.

Each model is then measured, with the same 0…10 SGD steps of α = 0.01 on K = 5 support points
and 100 query points per task:

- on its own pool (``"pool"``: 600 tasks drawn from the pool, seed :data:`POOL_EVAL_SEED`, fresh
  points; the meta-training tasks);
- on 600 fresh tasks of the family (``"fresh"``, seed 2026: the tasks of
  ``benchmarks/sinusoid_eval.py`` and lessons 03 and 09).

The models go to ``task_pool.pt`` (one file, about 140 KB; read with ``weights_only=True``) and
the measurements (mean and 95% half-width per step) to ``task_pool.json``. Deterministic on a
given torch build (fixed seeds, one thread); ``tests/test_task_pool.py`` retrains a reduced
configuration with the same code and recomputes the shipped measurements from the shipped models.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch

from .. import functional as Fn
from .._base import WeightsError, read_weights
from ..data.tasks import SinusoidTasks, TaskPool
from ..meta.maml import MAML, JointTraining
from . import WEIGHTS_DIR
from .figures import _finite  # the same check as every shipped lesson figure

__all__ = ["POOL_SIZES", "POOL_SEED", "KINDS", "TASK_POOL_COMMAND", "pool_label", "pool_tasks", "train_models",
           "measure", "save_models", "load_task_pool_models", "load_task_pool_figure", "models_path", "figure_path",
           "pool_table", "steps_table", "pool_findings"]

TASK_POOL_COMMAND = "python -m mtlviz.pretrained.train_task_pool"
#: Pool sizes T; None is an unlimited supply of tasks (T = ∞).
POOL_SIZES: Tuple[Optional[int], ...] = (1, 2, 5, 10, 25, 100, 1000, None)
POOL_SEED = 11
POOL_EVAL_SEED = 2027
FRESH_SEED, N_EVAL_TASKS, EVAL_K, EVAL_QUERY, EVAL_INNER_LR, EVAL_MAX_STEPS = 2026, 600, 5, 100, 0.01, 10
MAML_STEPS, JOINT_STEPS = 5000, 2000
KINDS = {"maml": MAML, "joint": JointTraining}
#: train_sinusoid's recipe (the number of steps aside).
COMMON = dict(inner_lr=0.01, n_inner_steps=1, meta_batch_size=25, k_shot=5, k_query=25, outer_lr=3e-3,
              outer_lr_schedule="cosine")
_FILE_KIND = "task_pool"


def models_path() -> Path:
    return WEIGHTS_DIR / "task_pool.pt"


def figure_path() -> Path:
    return WEIGHTS_DIR / "task_pool.json"


def pool_label(n_tasks: Optional[int]) -> str:
    """"1", "25", … or "inf" for an unlimited supply: the keys of the files."""
    return "inf" if n_tasks is None else str(int(n_tasks))


def pool_tasks(n_tasks: Optional[int]):
    """The training tasks of pool size ``n_tasks``: a :class:`TaskPool` of the sinusoid family
    (seed :data:`POOL_SEED`), or the family itself for ``None`` (unlimited)."""
    family = SinusoidTasks()
    return family if n_tasks is None else TaskPool(family, n_tasks, POOL_SEED)


def train_models(pool_sizes: Sequence[Optional[int]] = POOL_SIZES, maml_steps: int = MAML_STEPS,
                 joint_steps: int = JOINT_STEPS, *, compile: bool = True, log=None) -> Dict[Tuple[str, str], object]:
    """Fit MAML and the pretrained baseline on each pool: ``{(kind, pool_label): estimator}``.
    Every model starts from the same seeds (its θ₀ and its task draws depend only on the kind)."""
    models = {}
    for n_tasks in pool_sizes:
        for kind, cls in KINDS.items():
            steps = maml_steps if kind == "maml" else joint_steps
            estimator = cls(n_outer_steps=steps, random_state=0 if kind == "maml" else 1,
                            compile=compile and kind == "maml", **COMMON)
            began = time.perf_counter()
            with Fn.shipped_files_code():  # the compiled code the shipped file was made with: the same bits
                estimator.fit(pool_tasks(n_tasks))
            models[(kind, pool_label(n_tasks))] = estimator
            if log is not None:
                log(f"T = {pool_label(n_tasks)}, {kind}: {steps} steps in {time.perf_counter() - began:.1f} s, "
                    f"last training loss {estimator.history_[-1]:.3f}")
    return models


def _curve_stats(estimator, batch) -> Dict[str, list]:
    from ..evaluation import mean_ci95

    curve = estimator.query_loss_curve(batch, inner_lr=EVAL_INNER_LR, n_inner_steps=EVAL_MAX_STEPS)  # (N, 11)
    # A task whose 10 steps of α = 0.01 blow up (NaN or infinite loss) is counted, not averaged in.
    finite = torch.isfinite(curve).all(1)
    if not bool(finite.any()):
        raise ValueError("every task diverged: no finite query loss to average")
    stats = [mean_ci95(curve[finite, step].double().numpy()) for step in range(EVAL_MAX_STEPS + 1)]
    return {"mean": [m for m, _ in stats], "ci95": [h for _, h in stats], "n_diverged": int((~finite).sum())}


def measure(models: Dict[Tuple[str, str], object], n_tasks: int = N_EVAL_TASKS) -> Dict[str, object]:
    """Query MSE after 0…10 steps of α = 0.01 (K = 5, 100 query points) of every model on its own
    pool's tasks (``"pool"``) and on ``n_tasks`` fresh tasks (``"fresh"``), mean and 95% half-width
    per step (the ``"results"`` of ``task_pool.json``). Tasks whose adaptation diverges (a non-finite
    loss within the 10 steps) are left out of the means and counted in ``"n_diverged"``."""
    fresh = SinusoidTasks().sample_batch(n_tasks, EVAL_K, EVAL_QUERY, FRESH_SEED)
    labels = []
    for _, label in models:
        if label not in labels:
            labels.append(label)
    results: Dict[str, dict] = {kind: {} for kind in KINDS}
    for label in labels:
        pool = pool_tasks(None if label == "inf" else int(label)).sample_batch(n_tasks, EVAL_K, EVAL_QUERY,
                                                                               POOL_EVAL_SEED)
        for kind in KINDS:
            if (kind, label) in models:
                results[kind][label] = {"pool": _curve_stats(models[(kind, label)], pool),
                                        "fresh": _curve_stats(models[(kind, label)], fresh)}
    return {"command": TASK_POOL_COMMAND, "pool_sizes": labels, "n_tasks": n_tasks, "k_shot": EVAL_K,
            "n_query": EVAL_QUERY, "inner_lr": EVAL_INNER_LR, "fresh_seed": FRESH_SEED, "pool_seed": POOL_SEED,
            "pool_eval_seed": POOL_EVAL_SEED, "results": results}


def save_models(models: Dict[Tuple[str, str], object], path, *, maml_steps: int, joint_steps: int) -> None:
    """Write every model's θ and hyperparameters to one file (read back by :func:`load_task_pool_models`)."""
    entries = {}
    for (kind, label), estimator in models.items():
        hyper = {k: v for k, v in estimator.get_params().items() if k != "model"}
        entries[f"{kind}@{label}"] = {"hyperparameters": hyper, "params": estimator._state(),
                                      "sizes": list(estimator.model_.sizes)}
    torch.save({"kind": _FILE_KIND, "pool_sizes": [pool_label(t) for t in POOL_SIZES], "models": entries,
                "maml_steps": maml_steps, "joint_steps": joint_steps, "pool_seed": POOL_SEED,
                "torch_version": str(torch.__version__)}, Path(path))


def load_task_pool_models(path=None) -> Dict[Tuple[str, str], object]:
    """Lesson 11's shipped models: ``{(kind, pool_label): estimator}``, kind "maml" (a
    :class:`~mtlviz.MAML`) or "joint" (the pretrained :class:`~mtlviz.JointTraining`), pool label
    "1" … "1000" or "inf". A missing, corrupt or mismatched file raises
    :class:`~mtlviz.WeightsError` naming the command that regenerates it."""
    from ..nets import MLP

    path = models_path() if path is None else Path(path)
    hint = f"Regenerate the shipped weights with: {TASK_POOL_COMMAND}"
    state = read_weights(path, _FILE_KIND, ("models", "pool_sizes"), hint)
    models = {}
    try:
        for key, entry in state["models"].items():
            kind, label = key.split("@")
            estimator = KINDS[kind](MLP(entry["sizes"]), **entry["hyperparameters"])
            estimator._validate()
            estimator._restore(entry["params"])
            if not all(bool(torch.isfinite(t).all()) for t in entry["params"].values()):
                raise ValueError(f"{key} holds NaN or infinite parameters")
            estimator.history_ = []
            models[(kind, label)] = estimator
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise WeightsError(f"weights file {path} does not hold lesson 11's models ({error}). {hint}") from error
    missing = [f"{kind}@{label}" for label in state["pool_sizes"] for kind in KINDS if (kind, label) not in models]
    if missing:
        raise WeightsError(f"weights file {path} lacks {missing}. {hint}")
    return models


def load_task_pool_figure(path=None) -> Dict[str, object]:
    """Lesson 11's shipped measurements (see :func:`measure`); a missing, corrupt, incomplete or
    non-finite file raises :class:`~mtlviz.WeightsError` naming the command that regenerates it."""
    path = figure_path() if path is None else Path(path)
    hint = f"Regenerate it with: {TASK_POOL_COMMAND}"
    try:
        figure = json.loads(path.read_text())
        for kind in KINDS:
            for label in figure["pool_sizes"]:
                for where in ("pool", "fresh"):
                    stats = figure["results"][kind][label][where]
                    if len(stats["mean"]) != EVAL_MAX_STEPS + 1 or len(stats["ci95"]) != EVAL_MAX_STEPS + 1:
                        raise ValueError(f"{kind} T = {label} {where}: expected {EVAL_MAX_STEPS + 1} steps")
    except FileNotFoundError as error:
        raise WeightsError(f"lesson 11's measurements {path} are missing. {hint}") from error
    except (ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"lesson 11's measurements {path} are corrupt or incomplete ({error!r}). {hint}") from error
    if not _finite(figure["results"]):
        raise WeightsError(f"lesson 11's measurements {path} hold a non-finite number. {hint}")
    return figure


def _text(label: str) -> str:
    return "∞" if label == "inf" else label


def _cell(stats: dict, step: int) -> str:
    return f"{stats['mean'][step]:.2f} ± {stats['ci95'][step]:.2f}"


def pool_table(figure=None, step: int = EVAL_MAX_STEPS) -> str:
    """Markdown: per pool size T, MAML's query MSE on its own tasks before adapting and after ``step``
    steps, on new tasks after ``step`` steps, and the pretrained baseline's (mean ± 95% half-width
    over the figure's tasks)."""
    figure = load_task_pool_figure() if figure is None else figure
    results, n = figure["results"], figure["n_tasks"]
    plural = "s" if step != 1 else ""
    lines = [f"| T | MAML, own tasks, before adapting | MAML, own tasks, {step} step{plural} | "
             f"MAML, {n} new tasks, {step} step{plural} | pretrained, own tasks, {step} step{plural} | "
             f"pretrained, {n} new tasks, {step} step{plural} |", "|---|---|---|---|---|---|"]
    for label in figure["pool_sizes"]:
        maml, joint = results["maml"][label], results["joint"][label]
        lines.append(f"| {_text(label)} | {_cell(maml['pool'], 0)} | {_cell(maml['pool'], step)} | "
                     f"{_cell(maml['fresh'], step)} | {_cell(joint['pool'], step)} | {_cell(joint['fresh'], step)} |")
    diverged = _diverged(figure)
    if diverged:
        lines.append("")
        lines.append(f"Adaptation diverged (a NaN or infinite loss within {EVAL_MAX_STEPS} steps of α = "
                     f"{figure['inner_lr']:g}) on {diverged}; those tasks are left out of the means above.")
    return "\n".join(lines)


def _diverged(figure) -> str:
    """'1 of the 600 new tasks for MAML at T = 2, …' for every model and task set with diverged tasks."""
    parts = []
    for kind, name in (("maml", "MAML"), ("joint", "the pretrained baseline")):
        for label in figure["pool_sizes"]:
            for where, what in (("pool", "tasks from its own pool"), ("fresh", "new tasks")):
                count = figure["results"][kind][label][where].get("n_diverged", 0)
                if count:
                    parts.append(f"{count} of the {figure['n_tasks']} {what} for {name} at T = {_text(label)}")
    return "; ".join(parts)


def steps_table(figure=None, steps=(1, 5, 10)) -> str:
    """Markdown: query MSE on the new tasks after each of ``steps``, MAML and pretrained, per T."""
    figure = load_task_pool_figure() if figure is None else figure
    results = figure["results"]
    head = " / ".join(map(str, steps))
    lines = [f"| T | MAML, new tasks, after {head} steps | pretrained, new tasks, after {head} steps |", "|---|---|---|"]
    for label in figure["pool_sizes"]:
        cells = [" / ".join(f"{results[kind][label]['fresh']['mean'][s]:.2f}" for s in steps) for kind in KINDS]
        lines.append(f"| {_text(label)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _apart(low_stats: dict, high_stats: dict, step: int) -> bool:
    """The first mean's 95% interval lies wholly below the second's."""
    return low_stats["mean"][step] + low_stats["ci95"][step] < high_stats["mean"][step] - high_stats["ci95"][step]


def _small(value: float) -> str:
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def pool_findings(figure=None, step: int = EVAL_MAX_STEPS) -> str:
    """Markdown: what the shipped measurements show after ``step`` steps, each sentence computed
    from them (the lesson renders this instead of typing numbers)."""
    figure = load_task_pool_figure() if figure is None else figure
    results, labels = figure["results"], figure["pool_sizes"]
    maml, joint = results["maml"], results["joint"]
    finite = [label for label in labels if label != "inf"]
    sentences = []
    if "1" in labels and "inf" in labels:
        one = maml["1"]
        sentences.append(
            f"With one training task MAML's query MSE on that task is {_small(one['pool']['mean'][0])} *before* any "
            f"adaptation and {_small(one['pool']['mean'][step])} after {step} step{'s' if step != 1 else ''}: it has learnt the task itself, "
            f"not how to adapt; on new tasks it reaches {one['fresh']['mean'][step]:.2f}, against "
            f"{maml['inf']['fresh']['mean'][step]:.2f} for MAML trained on an unlimited supply of tasks.")
    gaps = [label for label in finite if _apart(maml[label]["pool"], maml[label]["fresh"], step)]
    if gaps:
        ratios = [f"{maml[label]['fresh']['mean'][step] / maml[label]['pool']['mean'][step]:.1f}× at T = {label}"
                  for label in gaps if label != "1"]
        rest = [label for label in labels if label not in gaps]
        prefix = gaps == finite[:len(gaps)] and rest
        sentences.append(
            f"MAML scores better on its own tasks than on new ones, beyond both 95% intervals, at T = "
            f"{', '.join(gaps)}" + (f" (new-task loss over own-task loss: {', '.join(ratios)})" if ratios else "")
            + (f"; from T = {rest[0]} on the two intervals overlap or the new tasks score better." if prefix else
               "; at the other pool sizes the two intervals overlap or the new tasks score better."))
    reached = [label for label in finite if not _apart(maml["inf"]["fresh"], maml[label]["fresh"], step)]
    if reached:
        later = finite[finite.index(reached[0]):]
        sentences.append(
            f"On new tasks the 95% interval of MAML trained on T = {reached[0]} tasks overlaps that of MAML trained "
            f"on unlimited tasks ({maml[reached[0]]['fresh']['mean'][step]:.2f} against "
            f"{maml['inf']['fresh']['mean'][step]:.2f})" + (
                ", and so does that of every larger pool here." if reached == later else
                f"; so do T = {', '.join(reached[1:]) or 'no other pool'}, not every larger pool."))
    else:
        sentences.append("On new tasks no finite pool's 95% interval here overlaps that of MAML trained on unlimited "
                         "tasks.")
    ahead = [label for label in labels if _apart(maml[label]["fresh"], joint[label]["fresh"], step)]
    behind = [label for label in labels if label not in ahead]
    sentences.append(
        f"On new tasks MAML beats the pretrained baseline trained on the same pool, beyond both intervals, at T = "
        f"{', '.join(_text(label) for label in ahead) or 'none'}"
        + (f"; not at T = {', '.join(_text(label) for label in behind)}." if behind else "."))
    return " ".join(sentences)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=MAML_STEPS, help=f"outer steps for MAML (default {MAML_STEPS})")
    parser.add_argument("--joint-steps", type=int, default=JOINT_STEPS,
                        help=f"steps for the baseline (default {JOINT_STEPS})")
    parser.add_argument("--no-compile", action="store_true", help="train MAML eagerly (same numbers, slower)")
    parser.add_argument("--out-dir", default=None, help="where to write task_pool.pt and task_pool.json "
                                                        "(default: the package)")
    args = parser.parse_args(argv)
    for name in ("steps", "joint_steps"):
        if not 1 <= getattr(args, name) <= 1_000_000:
            parser.error(f"--{name.replace('_', '-')} must be in [1, 1000000]; got {getattr(args, name)}")
    out_dir = Path(args.out_dir) if args.out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)  # fail now, not after training
    torch.set_num_threads(1)
    started = time.perf_counter()
    models = train_models(maml_steps=args.steps, joint_steps=args.joint_steps, compile=not args.no_compile,
                          log=lambda line: print(line, flush=True))
    save_models(models, out_dir / models_path().name, maml_steps=args.steps, joint_steps=args.joint_steps)
    trained = time.perf_counter() - started
    figure = measure(models)
    figure.update(maml_steps=args.steps, joint_steps=args.joint_steps)
    (out_dir / figure_path().name).write_text(json.dumps(figure, indent=1, sort_keys=True) + "\n")
    print(f"\ntrained in {trained:.1f} s on one thread; query MSE after 1 / 5 / 10 steps (K = {EVAL_K}, "
          f"{N_EVAL_TASKS} tasks each), own pool | fresh tasks:")
    for label in figure["pool_sizes"]:
        for kind in KINDS:
            row = figure["results"][kind][label]
            cells = [" / ".join(f"{row[where]['mean'][s]:.3f}" for s in (1, 5, 10)) for where in ("pool", "fresh")]
            print(f"  T = {label:>4s} {kind:5s} {cells[0]}  |  {cells[1]}")
    print(f"wrote {out_dir} (task_pool.pt, task_pool.json) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
