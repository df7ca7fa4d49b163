"""What a meta-step costs: time and memory against the number of inner steps, per method.

Seed §8.2 names 模型复杂度 (model complexity) as a challenge of meta-learning: "models are complex
and need more computing resources". This module measures it for one meta-step (the work of one
outer update on one meta-batch) of four methods, all on the package's one inner loop
(:func:`mtlviz.functional.adapt_steps`):

- ``"maml"``: second-order MAML, ∇θ (1/N) Σᵢ L_Tᵢ(θ'ᵢ) through the k inner steps;
- ``"fomaml"``: first-order MAML, the same with ∂θ'ᵢ/∂θ taken as I (:class:`~mtlviz.meta.reptile.FOMAML`);
- ``"reptile"``: the direction (1/N) Σᵢ (θ̃ᵢ − θ) after k SGD steps on all of a task's points
  (:func:`mtlviz.functional.reptile_direction`), no gradient through the steps;
- ``"anil"``: ANIL's training step (Raghu et al. 2020): only the head is adapted in the inner loop,
  on features computed once per task, and the meta-gradient (second order through the head's
  steps) reaches every layer. Measured here through the same functional core; the course ships
  no meta-trained ANIL.

and ``"plain"``, the baseline: one ordinary forward and backward pass of the same network on the
same points (all the meta-batch's support and query points), what one step of plain training costs.

Two kinds of memory:

- :func:`graph_bytes`: the peak number of bytes that autograd's graph holds for a backward pass
  during the step: every tensor saved for backward is counted (once per storage) from when it is
  saved until the graph frees it (:func:`torch.autograd.graph.saved_tensors_hooks`). Exact and the
  same on every run, so tests can check it; second-order MAML keeps the graph of all k inner
  steps for the outer backward pass, so its count grows linearly with k, first order's does not.
- :func:`peak_rss`: the real high-water mark of a fresh Python process's resident memory while it
  runs the step (Linux's VmHWM), minus the same process's high-water mark before the step: what the
  operating system saw, allocator and all. Coarse at the kilobyte scale of the sinusoid network.

The sinusoid MLP runs every method on its tasks at once (the batched path the shipped estimators
train with). The glyph ConvNet runs a plain loop over the tasks of the meta-batch with
:func:`mtlviz.functional.adapt`: the estimators' ``vmap`` over tasks cannot be measured with saved-
tensor hooks (``torch.func`` refuses them), so its times are those of the loop.

References
----------
Finn, Abbeel & Levine, ICML 2017 (section 5.2: first order "about 33% faster"); Nichol, Achiam &
Schulman, arXiv:1803.02999, 2018 (Reptile); Raghu et al., ICLR 2020 (ANIL). Rajeswaran, Finn,
Kakade & Levine, "Meta-Learning with Implicit Gradients", NeurIPS 2019 (abstract: differentiating
through the inner loop "can impose considerable computational and memory burdens"; implicit MAML
needs the memory of one inner-loop gradient). Taught in ``notebooks/12_what_meta_learning_costs.ipynb``.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch

from .. import functional as Fn
from .._validation import DivergenceError, check_choice, check_int
from ..functional import Params
from ..nets import MLP, ConvNet, cross_entropy
from .anil import LinearHead

__all__ = ["METHODS", "BASELINE", "NETS", "FIELDS", "LABELS", "CostProblem", "cost_problem", "meta_step", "graph_bytes",
           "time_step", "peak_rss", "measure", "cost_table", "MAX_COST_STEPS"]

#: The methods measured, in the order the lesson shows them.
METHODS = ("maml", "fomaml", "reptile", "anil")
#: One plain forward and backward pass of the same network on the same points.
BASELINE = "plain"
#: The two networks, with the meta-batch the shipped models train with.
NETS = {
    "sinusoid": "the 1-40-40-1 sinusoid MLP, meta-batch 25 tasks of K = 5 support and 25 query points, α = 0.01",
    "glyphs": "the 4-block 32-channel glyph ConvNet (20×20 images), meta-batch 8 episodes of 5-way 1-shot, "
              "5 query images per class, α = 0.4",
}
#: Most inner steps a measurement accepts (second-order memory grows with them).
MAX_COST_STEPS = 50


@dataclass(frozen=True)
class CostProblem:
    """A network, θ and one meta-batch: ``batch`` is ``(x_support, y_support, x_query, y_query)``
    with the tasks in the first dimension."""

    net: str
    model: torch.nn.Module
    params: Params
    batch: Tuple[torch.Tensor, ...]
    inner_lr: float
    loss_fn: object


def cost_problem(net: str, *, meta_batch_size: Optional[int] = None, batch=None, random_state: int = 0) -> CostProblem:
    """The network ``net`` (one of :data:`NETS`) at a seeded initialisation and one meta-batch of
    its tasks (``meta_batch_size`` tasks, default the shipped models': 25 sinusoids, 8 episodes).
    ``batch`` gives the tasks instead (what a child process of :func:`peak_rss` loads)."""
    check_choice("net", net, tuple(NETS))
    default = 25 if net == "sinusoid" else 8
    size = default if meta_batch_size is None else check_int("meta_batch_size", meta_batch_size, 1, 100)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        model = MLP((1, 40, 40, 1)) if net == "sinusoid" else ConvNet(5, 32, 20)
    params = Fn.get_params(model, requires_grad=True)
    if batch is None:
        if net == "sinusoid":
            from ..data.tasks import SinusoidTasks

            batch = SinusoidTasks().sample_batch(size, 5, 25, random_state).data
        else:
            from ..data.glyphs import GlyphTasks

            batch = GlyphTasks("background", image_size=20).sample_episodes(size, 5, 1, 5, random_state=random_state).data
    batch = tuple(batch)
    if net == "sinusoid":
        return CostProblem(net, model, params, batch, 0.01, Fn.mse_loss)
    return CostProblem(net, model, params, batch, 0.4, cross_entropy)


# -- One meta-step of each method --------------------------------------------------------------

def _mlp_head(model: MLP, params: Params):
    """The MLP cut before its last layer: (features function, head model, head parameters)."""
    last = 2 * (len(model.sizes) - 2)  # the last Linear's index
    body_model = MLP(model.sizes[:-1])
    body = {name: params[name] for name in params if int(name.split(".")[0]) < last}
    head = {"0.weight": params[f"{last}.weight"], "0.bias": params[f"{last}.bias"]}

    def features(x):
        return torch.relu(body_model.functional_forward(body, x))

    return features, MLP(model.sizes[-2:]), head


def _anil_sinusoid(model, params, xs, ys, xq, yq, inner_lr, n_inner_steps):
    features, head_model, head = _mlp_head(model, params)
    n_tasks = xs.shape[0]

    def summed_task_losses(prediction, target):  # Σᵢ L_Tᵢ: each task's head gets its own gradient
        return n_tasks * Fn.mse_loss(prediction, target)

    per_task = {name: p.expand(n_tasks, *p.shape) for name, p in head.items()}
    *_, adapted = Fn.adapt_steps(head_model, per_task, features(xs), ys, inner_lr, n_inner_steps, False,
                                 summed_task_losses)  # θ'_head,i for every task, features computed once
    return Fn.task_loss(head_model, adapted, features(xq), yq)  # (1/N) Σᵢ L_Tᵢ on the query sets


def _anil_episode(model, params, xs, ys, xq, yq, inner_lr, n_inner_steps):
    head_model = LinearHead(model.n_features, model.n_way)
    head = {"weight": params["head.weight"], "bias": params["head.bias"]}
    *_, adapted = Fn.adapt_steps(head_model, head, model.features(params, xs), ys, inner_lr, n_inner_steps, False,
                                 cross_entropy)  # only the head moves; the body's features once
    return cross_entropy(head_model.functional_forward(adapted, model.features(params, xq)), yq)


def _gradient(loss, params: Params) -> Params:
    return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))


def meta_step(method: str, problem: CostProblem, n_inner_steps: int) -> Params:
    """One meta-step of ``method`` (:data:`METHODS` or :data:`BASELINE`) on ``problem``: the
    meta-gradient (Reptile: the direction (1/N) Σᵢ (θ̃ᵢ − θ); plain: the ordinary gradient), not
    applied. ``n_inner_steps`` in [1, :data:`MAX_COST_STEPS`] (ignored by plain). A non-finite
    result raises :class:`~mtlviz.DivergenceError`."""
    check_choice("method", method, METHODS + (BASELINE,))
    check_int("n_inner_steps", n_inner_steps, 1, MAX_COST_STEPS)
    model, params, (xs, ys, xq, yq), alpha = problem.model, problem.params, problem.batch, problem.inner_lr
    loss_fn = problem.loss_fn
    batched = problem.net == "sinusoid"
    with torch.enable_grad():
        if method == BASELINE:
            if batched:
                loss = Fn.task_loss(model, params, torch.cat([xs, xq], 1), torch.cat([ys, yq], 1))
            else:
                loss = torch.stack([cross_entropy(model.functional_forward(params, torch.cat([x, q])), torch.cat([y, t]))
                                    for x, y, q, t in zip(xs, ys, xq, yq)]).mean()  # each task's images together
            result = _gradient(loss, params)
        elif method == "reptile":
            x_all, y_all = torch.cat([xs, xq], 1), torch.cat([ys, yq], 1)  # Reptile does not split a task
            if batched:
                result = Fn.reptile_direction(model, params, x_all, y_all, inner_lr=alpha, n_inner_steps=n_inner_steps)
            else:
                theta = {name: p.detach() for name, p in params.items()}
                steps = [Fn.adapt(model, theta, x, y, inner_lr=alpha, n_inner_steps=n_inner_steps, first_order=True,
                                  loss_fn=loss_fn, check_inputs=False) for x, y in zip(x_all, y_all)]
                result = {name: torch.stack([s[name].detach() - theta[name] for s in steps]).mean(0) for name in theta}
        elif method == "anil":
            if batched:
                loss = _anil_sinusoid(model, params, xs, ys, xq, yq, alpha, n_inner_steps)
            else:
                loss = torch.stack([_anil_episode(model, params, *task, alpha, n_inner_steps)
                                    for task in zip(xs, ys, xq, yq)]).mean()
            result = _gradient(loss, params)
        elif batched:  # maml, fomaml: the estimators' own meta-gradient
            _, result = Fn.meta_value_and_grad(model, params, xs, ys, xq, yq, inner_lr=alpha, n_inner_steps=n_inner_steps,
                                               first_order=method == "fomaml", check_inputs=False)
        else:
            losses = [Fn.task_loss(model, Fn.adapt(model, params, x, y, inner_lr=alpha, n_inner_steps=n_inner_steps,
                                                   first_order=method == "fomaml", loss_fn=loss_fn, check_inputs=False),
                                   q, t, loss_fn) for x, y, q, t in zip(xs, ys, xq, yq)]  # L_Tᵢ(θ'ᵢ) per task
            result = _gradient(torch.stack(losses).mean(), params)
    if not Fn._all_finite(result.values()):
        raise DivergenceError(f"{method}'s meta-step is NaN or infinite after {n_inner_steps} inner steps "
                              f"at α = {alpha:g}; try a smaller α")
    return result


# -- Memory held by the autograd graph ---------------------------------------------------------

class _Saved:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor):
        self.tensor = tensor


class _GraphBytes:
    """Counts the bytes of the storages the graph holds, each storage once, while it holds them."""

    def __init__(self):
        self.held: Dict[int, list] = {}  # storage address -> [saved tensors alive, bytes]
        self.current = 0
        self.peak = 0

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self.held.get(key)
        if entry is None:
            entry = self.held[key] = [0, storage.nbytes()]
            self.current += entry[1]
            self.peak = max(self.peak, self.current)
        entry[0] += 1
        saved = _Saved(tensor)
        weakref.finalize(saved, self._release, key)
        return saved

    def _release(self, key):
        entry = self.held[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.current -= entry[1]
            del self.held[key]

    @staticmethod
    def unpack(saved):
        return saved.tensor


def graph_bytes(method: str, problem: CostProblem, n_inner_steps: int) -> int:
    """The most bytes autograd's graph held at once during one :func:`meta_step`: the storages of
    the tensors saved for a backward pass, each counted once while the graph keeps it (θ included).
    Deterministic: the same number on every run of the same code."""
    counter = _GraphBytes()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        result = meta_step(method, problem, n_inner_steps)
    del result
    return counter.peak


def time_step(method: str, problem: CostProblem, n_inner_steps: int, *, repeats: int = 5,
              warm_up: bool = True) -> float:
    """Median wall time in seconds of ``repeats`` meta-steps, after one warm-up step unless
    ``warm_up=False`` (for a caller that has just run the same step)."""
    check_int("repeats", repeats, 1, 1000)
    if warm_up:
        meta_step(method, problem, n_inner_steps)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        meta_step(method, problem, n_inner_steps)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- Real peak memory, in a fresh process --------------------------------------------------------

def _max_rss_bytes() -> int:
    """This process's resident-memory high-water mark: Linux's VmHWM, which starts afresh with the
    program (``ru_maxrss`` does not: it keeps the parent's size at the fork, and a parent that
    measured graphs first would hide the child's whole step); ``ru_maxrss`` where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kilobytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _child(net: str, method: str, n_inner_steps: int, batch_file: str, repeats: int) -> None:
    """In a fresh process: build the problem, note the peak memory so far, run the step, print
    ``{"peak_rss_bytes", "baseline_rss_bytes", "time_s"}`` as JSON."""
    torch.set_num_threads(1)
    batch = torch.load(batch_file, weights_only=True)
    problem = cost_problem(net, batch=batch)
    before = _max_rss_bytes()
    meta_step(method, problem, n_inner_steps)
    after = _max_rss_bytes()
    seconds = time_step(method, problem, n_inner_steps, repeats=repeats)
    print(json.dumps({"peak_rss_bytes": after - before, "baseline_rss_bytes": before, "time_s": seconds}))


def peak_rss(method: str, problem: CostProblem, n_inner_steps: int, *, repeats: int = 5) -> Dict[str, float]:
    """Run ``method`` on ``problem``'s meta-batch in a fresh Python process (one torch thread):
    ``{"peak_rss_bytes"}``, the rise of its resident-memory high-water mark during the first
    step, ``{"baseline_rss_bytes"}``, its high-water mark before, and ``{"time_s"}``, the
    :func:`time_step` median measured there. Takes a few seconds (the process imports torch)."""
    check_choice("method", method, METHODS + (BASELINE,))
    check_int("n_inner_steps", n_inner_steps, 1, MAX_COST_STEPS)
    with tempfile.TemporaryDirectory() as folder:
        batch_file = str(Path(folder) / "batch.pt")
        torch.save(list(problem.batch), batch_file)
        code = (f"from mtlviz.meta.cost import _child; "
                f"_child({problem.net!r}, {method!r}, {int(n_inner_steps)}, {batch_file!r}, {int(repeats)})")
        environment = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                              timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(net: str, *, steps: Sequence[int] = (1, 2, 5, 10), methods: Sequence[str] = METHODS,
            repeats: int = 5, fresh_process: bool = False, meta_batch_size: Optional[int] = None) -> Dict[str, object]:
    """Measure every method of ``methods`` at every inner-step count of ``steps``, and the plain
    baseline once, on ``net``: ``{"rows": {method: {"steps": [...], "graph_bytes": [...],
    "time_ms": [...], ["peak_rss_bytes": [...]]}}, "plain": {...}, "threads", "load_average"}``.

    ``fresh_process=True`` times each configuration in a fresh process (:func:`peak_rss`) and
    adds its real peak memory (a few seconds each); otherwise times run here (what the
    dashboard's button does)."""
    for method in methods:
        check_choice("methods", method, METHODS)
    steps = [check_int("steps", s, 1, MAX_COST_STEPS) for s in steps]
    problem = cost_problem(net, meta_batch_size=meta_batch_size)

    def one(method, n):
        row = {"graph_bytes": graph_bytes(method, problem, n)}
        if fresh_process:
            child = peak_rss(method, problem, n, repeats=repeats)
            row.update(time_ms=1000 * child["time_s"], peak_rss_bytes=child["peak_rss_bytes"])
        else:
            row["time_ms"] = 1000 * time_step(method, problem, n, repeats=repeats, warm_up=False)  # graph_bytes warmed up
        return row

    result: Dict[str, object] = {"net": net, "setting": NETS[net], "meta_batch_size": problem.batch[0].shape[0],
                                 "plain": one(BASELINE, 1), "rows": {}}
    for method in methods:
        cells = [one(method, n) for n in steps]
        result["rows"][method] = {"steps": list(steps), **{key: [c[key] for c in cells] for key in cells[0]}}
    result["threads"] = torch.get_num_threads()
    result["load_average"] = os.getloadavg()[0]
    return result


#: The quantities a :func:`measure` result holds per configuration, with their unit and scale.
FIELDS = {"time_ms": ("ms per meta-step", 1.0, "{:.1f}"), "graph_bytes": ("MB held by the graph", 1e-6, "{:.2f}"),
          "peak_rss_bytes": ("MB peak memory rise", 1e-6, "{:.1f}")}
LABELS = {"maml": "MAML (second order)", "fomaml": "first-order MAML", "reptile": "Reptile",
          "anil": "ANIL (head-only inner loop)", BASELINE: "plain forward + backward (baseline)"}


def cost_table(result: Dict[str, object], field: str) -> str:
    """A Markdown table of one :func:`measure` result: ``field`` (a key of :data:`FIELDS`) per
    method and inner-step count, the plain baseline's value, and each method's ratio to it at the
    largest k."""
    check_choice("field", field, tuple(FIELDS))
    unit, scale, form = FIELDS[field]
    rows = {method: result["rows"][method] for method in METHODS if method in result["rows"]}  # course order
    steps = next(iter(rows.values()))["steps"]
    plain = result["plain"][field] * scale
    lines = [f"| {unit} | " + " | ".join(f"k = {k}" for k in steps) + f" | ÷ plain at k = {steps[-1]} |",
             "|---|" + "---|" * (len(steps) + 1)]
    for method, row in rows.items():
        values = [v * scale for v in row[field]]
        ratio = f"{values[-1] / plain:.1f}×" if plain > 0 else "–"
        lines.append(f"| {LABELS[method]} | " + " | ".join(form.format(v) for v in values) + f" | {ratio} |")
    lines.append(f"| {LABELS[BASELINE]} | " + " | ".join([form.format(plain)] * len(steps)) + " | 1.0× |")
    return "\n".join(lines)
