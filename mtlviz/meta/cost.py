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
  steps) reaches every layer. Measured here through the same functional core;
- ``"metalstm"`` (glyphs only): Meta-LSTM's training step (Ravi & Larochelle 2017), the
  :class:`~mtlviz.meta.metalstm.MetaLSTM` estimator's own unrolled episode: k updates of the
  learner written by the coordinate-wise meta-learner (its "inner steps"), the query loss of the
  final learner, its gradient for the meta-learner's weights and c₀ (the learner's gradients enter
  as constants, as the trainer has them);
- ``"protonet"`` (glyphs only): Prototypical Networks' training step (Snell et al. 2017),
  :meth:`~mtlviz.meta.protonet.PrototypicalNetwork.episode_loss` and its gradient. It has no inner
  loop, so it is measured once (:data:`NO_INNER_LOOP`), like the baseline, and drawn flat.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch

from .. import functional as Fn
from .._validation import DivergenceError, check_choice, check_int
from ..functional import Params
from ..data.glyphs import EpisodeBatch
from ..nets import MLP, ConvNet, cross_entropy
from .anil import LinearHead

_EPISODE_SHAPE = {"n_way": 5, "k_shot": 1, "n_query": 5, "channels": 32, "image_size": 20}  # the glyph meta-batch's

__all__ = ["METHODS", "NET_METHODS", "NO_INNER_LOOP", "BASELINE", "NETS", "FIELDS", "LABELS", "CostProblem", "cost_problem", "meta_step", "graph_bytes",
           "time_step", "peak_rss", "measure", "cost_table", "classifier_rows_reading", "per_step_slope", "metalstm_loss", "MAX_COST_STEPS"]

#: The methods measured, in the order the lesson shows them.
METHODS = ("maml", "fomaml", "reptile", "anil", "metalstm", "protonet")
#: The methods each network runs: Meta-LSTM and ProtoNet are classifiers of episodes (glyphs only).
NET_METHODS = {"sinusoid": ("maml", "fomaml", "reptile", "anil"), "glyphs": METHODS}
#: Methods without an inner loop: measured once per network (their cost does not depend on k).
NO_INNER_LOOP = ("protonet",)
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
    #: glyphs only: the Meta-LSTM and ProtoNet estimators whose training steps are measured, built
    #: on this ConvNet (Meta-LSTM's c₀ and ProtoNet's φ are θ) for this meta-batch's episode shape
    classifiers: Dict[str, object] = field(default_factory=dict)


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
    return CostProblem(net, model, params, batch, 0.4, cross_entropy, _glyph_classifiers(model, params, len(batch[0])))


def _glyph_classifiers(model: ConvNet, params: Params, n_episodes: int) -> Dict[str, object]:
    """The estimators whose own training code :func:`meta_step` runs for ``"metalstm"`` and
    ``"protonet"``, set up as their trainers leave them before a step, on θ (``params``)."""
    from .metalstm import MetaLSTM
    from .protonet import PrototypicalNetwork

    meta_lstm = MetaLSTM(**_EPISODE_SHAPE, meta_batch_size=n_episodes)
    meta_lstm._build(0)  # the learner's architecture and the meta-learner, as _training_steps builds them
    with torch.no_grad():
        meta_lstm.meta_.c0.copy_(torch.cat([p.detach().flatten() for p in params.values()]))  # c₀ = θ
    protonet = PrototypicalNetwork(**_EPISODE_SHAPE, meta_batch_size=n_episodes)
    protonet.model_ = model
    protonet.params_ = {name: p for name, p in params.items() if not name.startswith("head")}  # φ: no head
    return {"metalstm": meta_lstm, "protonet": protonet}


def metalstm_loss(meta_lstm, batch, n_inner_steps: int) -> torch.Tensor:
    """Meta-LSTM's training objective on ``batch`` (``(x_support, y_support, x_query, y_query)``):
    the one its trainer minimises (``MetaLSTM._meta_loss``, called by ``_training_steps``), per
    episode ``n_inner_steps`` learner updates written by the meta-learner, then the query loss of
    the final learner θ_T; the mean over episodes."""
    return meta_lstm._meta_loss(batch, n_inner_steps)


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
    meta-gradient (Reptile: the direction (1/N) Σᵢ (θ̃ᵢ − θ); plain: the ordinary gradient;
    Meta-LSTM: the gradient for the meta-learner), not applied. ``n_inner_steps`` in
    [1, :data:`MAX_COST_STEPS`] (Meta-LSTM: its learner updates; ignored by plain and ProtoNet). The
    glyph-only methods on the sinusoid raise ``ValueError``. A non-finite
    result raises :class:`~mtlviz.DivergenceError`."""
    check_choice("method", method, NET_METHODS[problem.net] + (BASELINE,))
    check_int("n_inner_steps", n_inner_steps, 1, MAX_COST_STEPS)
    model, params, (xs, ys, xq, yq), alpha = problem.model, problem.params, problem.batch, problem.inner_lr
    loss_fn = problem.loss_fn
    batched = problem.net == "sinusoid"
    with torch.enable_grad():
        if method == "protonet":  # no inner loop: the trainer's episode loss, ∇φ of it
            protonet = problem.classifiers["protonet"]
            loss = protonet.episode_loss(EpisodeBatch(*problem.batch, classes=torch.empty(0)))
            result = _gradient(loss, protonet.params_)
        elif method == "metalstm":  # the meta-learner's weights and c₀ get the gradient
            meta_lstm = problem.classifiers["metalstm"]
            result = _gradient(metalstm_loss(meta_lstm, problem.batch, n_inner_steps), dict(meta_lstm.meta_.named_parameters()))
        elif method == BASELINE:
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


def measure(net: str, *, steps: Sequence[int] = (1, 2, 5, 10), methods: Optional[Sequence[str]] = None,
            repeats: int = 5, fresh_process: bool = False, meta_batch_size: Optional[int] = None) -> Dict[str, object]:
    """Measure every method of ``methods`` (default: all that ``net`` runs, :data:`NET_METHODS`)
    at every inner-step count of ``steps``, and the plain baseline once, on ``net``:
    ``{"rows": {method: {"steps": [...], "graph_bytes": [...], "time_ms": [...],
    ["peak_rss_bytes": [...]]}}, "no_inner_loop": {method: {...}}, "plain": {...}, "threads",
    "load_average", "load_average_before"}``. A method of :data:`NO_INNER_LOOP` (ProtoNet) is
    measured once, like the baseline, under ``"no_inner_loop"``.

    ``fresh_process=True`` times each configuration in a fresh process (:func:`peak_rss`) and
    adds its real peak memory (a few seconds each); otherwise times run here (what the
    dashboard's button does). The one-minute load average is recorded before and after."""
    allowed = NET_METHODS[check_choice("net", net, tuple(NETS))]
    methods = allowed if methods is None else tuple(methods)
    for method in methods:
        check_choice("methods", method, allowed)
    steps = [check_int("steps", s, 1, MAX_COST_STEPS) for s in steps]
    load_before = os.getloadavg()[0]
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
                                 "plain": one(BASELINE, 1), "rows": {}, "no_inner_loop": {}}
    for method in methods:
        if method in NO_INNER_LOOP:
            result["no_inner_loop"][method] = one(method, 1)
            continue
        cells = [one(method, n) for n in steps]
        result["rows"][method] = {"steps": list(steps), **{key: [c[key] for c in cells] for key in cells[0]}}
    result["threads"] = torch.get_num_threads()
    result["load_average_before"] = load_before
    result["load_average"] = os.getloadavg()[0]
    return result


#: The quantities a :func:`measure` result holds per configuration, with their unit and scale.
FIELDS = {"time_ms": ("ms per meta-step", 1.0, "{:.1f}"), "graph_bytes": ("MB held by the graph", 1e-6, "{:.2f}"),
          "peak_rss_bytes": ("MB peak memory rise", 1e-6, "{:.1f}")}
LABELS = {"maml": "MAML (second order)", "fomaml": "first-order MAML", "reptile": "Reptile",
          "anil": "ANIL (head-only inner loop)", "metalstm": "Meta-LSTM (k learner updates)",
          "protonet": "ProtoNet (no inner loop)", BASELINE: "plain forward + backward (baseline)"}


def cost_table(result: Dict[str, object], field: str) -> str:
    """A Markdown table of one :func:`measure` result: ``field`` (a key of :data:`FIELDS`) per
    method and inner-step count, the methods measured once (no inner loop) and the plain baseline
    (the same value in every column), and each method's ratio to the baseline at the largest k."""
    check_choice("field", field, tuple(FIELDS))
    unit, scale, form = FIELDS[field]
    rows = {method: result["rows"][method] for method in METHODS if method in result["rows"]}  # course order
    steps = next(iter(rows.values()))["steps"]
    plain = result["plain"][field] * scale
    lines = [f"| {unit} | " + " | ".join(f"k = {k}" for k in steps) + f" | ÷ plain at k = {steps[-1]} |",
             "|---|" + "---|" * (len(steps) + 1)]

    def line(label, values):
        ratio = f"{values[-1] / plain:.1f}×" if plain > 0 else "–"
        return f"| {label} | " + " | ".join(form.format(v) for v in values) + f" | {ratio} |"

    for method, row in rows.items():
        lines.append(line(LABELS[method], [v * scale for v in row[field]]))
    for method, once in result.get("no_inner_loop", {}).items():
        lines.append(line(f"{LABELS[method]}, measured once", [once[field] * scale] * len(steps)))
    lines.append(f"| {LABELS[BASELINE]} | " + " | ".join([form.format(plain)] * len(steps)) + " | 1.0× |")
    return "\n".join(lines)


def per_step_slope(row: Dict[str, list], field: str) -> float:
    """Least-squares slope of ``field`` against the inner steps: the cost of one more step."""
    steps, values = row["steps"], row[field]
    k_mean, v_mean = sum(steps) / len(steps), sum(values) / len(values)
    return (sum((k - k_mean) * (v - v_mean) for k, v in zip(steps, values))
            / sum((k - k_mean) ** 2 for k in steps))


def classifier_rows_reading(result: Dict[str, object]) -> str:
    """Lesson 12's reading of the glyph measurement's Meta-LSTM and ProtoNet rows (a
    :func:`measure` result of the glyph net), in Markdown, every number from ``result``: what one
    more learner update adds to Meta-LSTM's graph and time against one more MAML inner step, and what
    ProtoNet's step costs against the plain one."""
    rows, plain, once = result["rows"], result["plain"], result.get("no_inner_loop", {})
    if "metalstm" not in rows or "protonet" not in once:
        raise ValueError("result must be a glyph measurement with the metalstm row and protonet measured once")
    meta_lstm, maml, protonet = rows["metalstm"], rows["maml"], once["protonet"]
    k = meta_lstm["steps"][-1]
    per_update, per_step = per_step_slope(meta_lstm, "graph_bytes"), per_step_slope(maml, "graph_bytes")
    time_update, time_step = per_step_slope(meta_lstm, "time_ms"), per_step_slope(maml, "time_ms")
    return (
        f"- **Meta-LSTM** keeps {per_update / 1e6:.0f} MB more graph for every learner update, "
        f"{per_update / per_step:.1f}× what one more inner step adds to second-order MAML's "
        f"({per_step / 1e6:.0f} MB), although it feeds the learner's gradients in as constants (no second "
        f"derivatives). The graph it keeps is the meta-learner's: the coordinate-wise LSTM runs once per "
        f"update on *every one* of the learner's parameters, each with its own hidden state, and the "
        f"outer gradient goes back through all of those runs to the LSTM's weights and c₀. At k = {k} its "
        f"graph holds {meta_lstm['graph_bytes'][-1] / 1e6:,.0f} MB, {meta_lstm['graph_bytes'][-1] / plain['graph_bytes']:.0f}× "
        f"a plain step's; its time grows by {time_update:,.0f} ms per update against MAML's {time_step:,.0f} ms "
        f"per inner step.\n"
        f"- **ProtoNet** has no inner loop, so k does not apply: its line is flat. Its step is one pass of the "
        f"support and query images through the embedding and a distance to each prototype, like a plain "
        f"training step: its graph holds {protonet['graph_bytes'] / 1e6:.0f} MB "
        f"({protonet['graph_bytes'] / plain['graph_bytes']:.2f}× the plain step's) and it takes "
        f"{protonet['time_ms']:,.0f} ms ({protonet['time_ms'] / plain['time_ms']:.1f}× the plain step's "
        f"{plain['time_ms']:,.0f} ms).")
