"""Automatic checks for the lessons' exercises.

Each ``check_*`` function runs the student's code on random inputs, compares it with mtlviz's
own implementation and returns a :class:`CheckResult` whose text says what is right or, on a
wrong answer, what to look at. Nothing is printed; the notebook displays the result.

A checker cannot be fooled or frozen by the code it checks (issue 17):

- the expected answer is computed *before* the student's code runs, on private copies, with the
  mtlviz functions captured when this module is imported (monkeypatching ``mtlviz.functional``
  afterwards does not change what is expected);
- the student's function receives copies of the inputs, which are compared with the private
  originals afterwards (changing them in place is named, not rewarded);
- every piece of student code (the function, and reading its answer: ``float()``, ``len()``,
  iteration, a dict's ``__getitem__``) runs through one guard, :func:`_guarded`, with a time
  limit (:data:`TIME_LIMIT_S`), and whatever it raises, ``SystemExit`` and
  ``KeyboardInterrupt`` included, becomes a one-line :class:`CheckResult`;
- an answer that is the checker's own expected tensor (found by looking into the checker's
  frames) is refused.

The student's code runs in a thread of its own, and the checker waits for it at most
:data:`TIME_LIMIT_S`. Then it raises :class:`_OutOfTime` inside that code (an asynchronous
exception, ``PyThreadState_SetAsyncExc``), again every 0.1 s, for up to 1 s more (:data:`_GRACE_S`):
that ends any Python loop, and an answer returned after the limit is not accepted. Code that does
not stop even then (a loop whose bare ``except:`` catches every interrupt around a blocking call
such as ``time.sleep``, or one blocking C call) is left behind: the checker answers at once that
the function did not finish and may still be running, and a background thread keeps interrupting
the abandoned code every 0.5 s until it ends. So no student code can keep a check, the lesson's
kernel or a Voila dashboard waiting longer than the limit plus 1 s. An abandoned thread that never
ends costs what its loop costs until the kernel restarts (the message says so). Not covered:
``os._exit``; code that goes out of its way to edit the checker's frames or its private captures.
"""
from __future__ import annotations

import copy
import ctypes
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import functional as Fn
from .data.tasks import LineTasks, SinusoidTasks
from .guide import SCENARIOS, recommend
from .meta.landscape import adapted_points
from .meta.rl import returns_to_go as rl_returns_to_go
from .meta.protonet import prototypes as protonet_prototypes
from .nets import MLP
from .pretrained import load_transfer_curves
from .transfer.domain import coral_loss

__all__ = ["CheckResult", "TIME_LIMIT_S", "check_inner_update", "check_outer_loss", "check_line_inner_step",
           "check_method_choices", "check_episode_sizes", "check_meta_lstm_update", "check_coral_loss",
           "check_transfer_winners", "check_returns_to_go", "check_prototypes", "check_pool_targets"]

#: Seconds a student's function may run per call before the check stops it and says so.
TIME_LIMIT_S = 5.0

# The references, captured at import: a student who later replaces ``mtlviz.functional.inner_update``
# (or ``coral_loss``, ...) with their own function cannot change what the checks expect.
_inner_update = Fn.inner_update
_get_params = Fn.get_params
_coral_loss = coral_loss
_returns_to_go = rl_returns_to_go
_prototypes = protonet_prototypes
_adapted_points = adapted_points
_recommend = recommend
_SCENARIOS = tuple(SCENARIOS)
_load_transfer_curves = load_transfer_curves
_functional_call = torch.func.functional_call


@dataclass(frozen=True)
class CheckResult:
    """Outcome of an exercise check: ``passed`` and a message for the student."""

    passed: bool
    message: str

    def __str__(self) -> str:
        return ("✔ " if self.passed else "✘ ") + self.message

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


# -- The guard: time limit, every exception reported, answers read into plain values ----------------

class _OutOfTime(BaseException):
    """Raised into the student's code when its time is up (a BaseException, so that a student's
    ``except Exception`` does not swallow it)."""


class _Reject(Exception):
    """Raised by a checker's answer reader: the answer has the wrong form; ``args[0]`` says why."""


_REPEAT_S = 0.1  # after the limit, the interrupt is raised again this often
#: Seconds after the limit during which the checker keeps interrupting before it stops waiting.
_GRACE_S = 1.0
_PESTER_S = 0.5  # an abandoned call is interrupted this often, in the background, until it ends


def _raise_in_thread(ident: int, exception) -> None:
    """Have thread ``ident`` raise ``exception`` at its next check (``None``: cancel a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                               None if exception is None else ctypes.py_object(exception))


class _StudentCall(threading.Thread):
    """One call of student code in a daemon thread of its own (torch's grad mode carried over).

    ``outcome`` is ``("value", v)`` or ``("error", exception)`` once ``done`` is set;
    :meth:`interrupt` raises :class:`_OutOfTime` in it unless it has finished, under a lock, so
    that an interrupt never lands in another thread that later reuses this one's id.
    """

    def __init__(self, thunk: Callable):
        super().__init__(name="mtlviz-exercise-student-code", daemon=True)
        self._thunk = thunk
        self._grad_enabled = torch.is_grad_enabled()
        self._lock = threading.Lock()
        self._finished = False
        self.expired = False
        self.outcome = None
        self.done = threading.Event()

    def run(self) -> None:
        outcome = None
        while outcome is None:  # an interrupt may land anywhere here, even in the handler
            try:
                try:
                    with torch.set_grad_enabled(self._grad_enabled):
                        outcome = ("value", self._thunk())
                except BaseException as error:  # the student's code may fail in any way
                    outcome = ("error", error)
            except _OutOfTime as error:
                outcome = ("error", error)
        while True:
            try:
                with self._lock:
                    self._finished = True
                _raise_in_thread(threading.get_ident(), None)  # one set before the flag: cancel it
                break
            except _OutOfTime:
                continue
        self.outcome = outcome
        self.done.set()

    def interrupt(self) -> bool:
        """Raise :class:`_OutOfTime` in the call; False (and nothing raised) once it has finished."""
        with self._lock:
            if self._finished:
                return False
            self.expired = True
            _raise_in_thread(self.ident, _OutOfTime)
            return True

    def pester(self) -> None:
        """Keep interrupting, every :data:`_PESTER_S`, until the call ends (a background thread)."""
        while self.interrupt() and not self.done.wait(_PESTER_S):
            pass


def _run_limited(thunk: Callable, seconds: float) -> _StudentCall | None:
    """Run ``thunk`` in a :class:`_StudentCall`; the finished call, or None when it did not stop
    within ``seconds`` plus :data:`_GRACE_S` of interrupts (it is then left to a background
    thread that keeps interrupting it)."""
    call = _StudentCall(thunk)
    call.start()
    try:
        if not call.done.wait(seconds):
            deadline = time.monotonic() + _GRACE_S
            while call.interrupt() and not call.done.wait(_REPEAT_S):
                if time.monotonic() > deadline:
                    break
    except KeyboardInterrupt:  # the teacher or student pressed Stop while the check waited
        call.interrupt()
    if call.done.is_set():
        return call
    threading.Thread(target=call.pester, name="mtlviz-exercise-pester", daemon=True).start()
    return None


def _one_line(error: BaseException) -> str:
    """``Type: message``, first line only, at most 200 characters (the message is the student's
    object too: it is read under the guard, falling back to the type's name)."""
    name = type(error).__name__
    text, failure = _guarded(lambda: str.__str__(str(error)), 1.0, phase="message")
    if failure is not None or not text.strip():
        return name
    text = text.strip().splitlines()[0]
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{name}: {text}"


def _out_of_time(time_limit: float) -> CheckResult:
    return CheckResult(False, f"your function did not finish within {time_limit:g} s: look for a loop that never ends")


def _guarded(thunk: Callable, time_limit: float, *, phase: str = "call"):
    """Run ``thunk()`` under the time limit: the one place where student code runs.

    Returns ``(value, None)``, or ``(None, failure)`` with a failed :class:`CheckResult` saying in
    one line what went wrong: the time limit, ``sys.exit()``, an interrupt, any exception, or an
    answer of the wrong form (:class:`_Reject`). Nothing the thunk raises propagates.
    ``phase``: "call" (the student's function), "read" (reading its answer or its inputs
    afterwards) or "message" (formatting a student's exception).
    """
    call = _run_limited(thunk, time_limit)
    if call is None:
        return None, CheckResult(False, f"your function did not finish within {time_limit:g} s and did not stop "
                                 "when interrupted (does an `except:` catch everything around a slow call?); it may "
                                 "still be running: restart the kernel if the notebook slows down")
    kind, value = call.outcome
    if kind == "error":
        error = value
        if issubclass(type(error), _OutOfTime):
            return None, _out_of_time(time_limit)
        if issubclass(type(error), _Reject):
            return None, CheckResult(False, str(error.args[0]))
        if issubclass(type(error), SystemExit):
            return None, CheckResult(False, "your function called sys.exit() (SystemExit): return the answer instead")
        if issubclass(type(error), KeyboardInterrupt):
            return None, CheckResult(False, "your function was interrupted (KeyboardInterrupt) before it returned")
        if phase == "message":
            return None, CheckResult(False, type(error).__name__)
        what = "your function raised" if phase == "call" else "reading your function's answer raised"
        return None, CheckResult(False, f"{what} {_one_line(error)}")
    if call.expired:  # it caught the interrupt and returned anyway, after the limit
        return None, _out_of_time(time_limit)
    return value, None


def _same(handed, private) -> bool:
    """Whether the copy handed to the student still equals the private original, exactly."""
    if isinstance(private, torch.Tensor):
        return (type(handed) is type(private) and handed.shape == private.shape and handed.dtype == private.dtype
                and bool(torch.equal(handed.detach(), private.detach())))
    if isinstance(private, np.ndarray):
        return (type(handed) is np.ndarray and handed.shape == private.shape and handed.dtype == private.dtype
                and bool(np.array_equal(handed, private)))
    if isinstance(private, dict):
        return (type(handed) is dict and list(handed) == list(private)
                and all(_same(handed[name], value) for name, value in private.items()))
    if isinstance(private, torch.nn.Module):
        return type(handed) is type(private) and _same(dict(handed.state_dict()), dict(private.state_dict()))
    return handed == private


def _changed_in_place(name: str) -> str:
    if name == "model":
        return "model was changed in place: leave the model's own weights alone and use the adapted dict"
    kind = "arrays" if name in ("x", "y") else "tensors"
    return f"{name} was changed in place: build new {kind} ({name[0]} - ...) instead of {name[0]} -= ..."


def _call_student(student_fn: Callable, *args, time_limit: float = TIME_LIMIT_S, inputs=None, read=None):
    """Run the student's function on ``args`` (copies the checker does not use itself) through the guard.

    ``inputs``: ``{name: (handed, private)}``, the copies handed over and the checker's originals;
    after the call each must still be equal, or the student is told which one was changed in
    place. ``read``: turns the answer into plain values (under the guard too, since reading a
    student's object runs its code), raising :class:`_Reject` on an answer of the wrong form.
    Returns ``(answer, None)``, or ``(None, failure)``.
    """
    answer, failure = _guarded(lambda: student_fn(*args), time_limit)
    if failure is not None:
        return None, failure
    for name, (handed, private) in (inputs or {}).items():
        same, failure = _guarded(lambda: _same(handed, private), time_limit, phase="read")
        if failure is not None or not same:
            return None, CheckResult(False, _changed_in_place(name))
    if answer is None:
        return None, CheckResult(False, "your function returned None: did you forget `return`?")
    if read is None:
        return answer, None
    return _guarded(lambda: read(answer), time_limit, phase="read")


def _plain_tensor(value) -> torch.Tensor:
    """A plain, detached copy of a tensor the student returned (a Tensor subclass's
    ``__torch_function__`` cannot answer for it, e.g. make ``allclose`` say True)."""
    with torch._C.DisableTorchFunctionSubclass():
        plain = value.detach().clone()
    return plain if type(plain) is torch.Tensor else torch.Tensor.as_subclass(plain, torch.Tensor)


def _storages(value) -> set:
    """Addresses of the tensor storages in a tensor or a dict of tensors."""
    tensors = value.values() if isinstance(value, dict) else [value]
    return {t.untyped_storage().data_ptr() for t in tensors if isinstance(t, torch.Tensor)}


_OWN_ANSWER = "your function returned the checker's own expected answer instead of computing it"


def _not_callable(student_fn) -> CheckResult | None:
    if callable(student_fn):
        return None
    return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")


def _random_params(generator):
    shapes = {"0.weight": (4, 1), "0.bias": (4,), "2.weight": (1, 4), "2.bias": (1,)}
    return {name: torch.randn(shape, generator=generator) for name, shape in shapes.items()}


def _clones(params):
    return {name: p.clone() for name, p in params.items()}


def _allclose(a, b):
    return all(torch.allclose(a[name], b[name], rtol=1e-5, atol=1e-6) for name in a)


def check_inner_update(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check a student's ``inner_update(params, grads, inner_lr)``: θ' = θ − α ∇θ L.

    It must return a new dict with the same keys and shapes, leave ``params`` and ``grads``
    unchanged, and match :func:`mtlviz.functional.inner_update` on random parameters and
    gradients. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(1234)
    for trial in range(3):
        params = _random_params(generator)
        grads = _random_params(generator)
        inner_lr = float(torch.empty(()).uniform_(0.01, 0.5, generator=generator))
        # Everything compared against is computed before the student's code runs.
        expected = _inner_update(params, grads, inner_lr)
        slips = {
            "you moved up the gradient: θ' = θ − α∇θL subtracts α times the gradient":
                _inner_update(params, grads, -inner_lr),
            "the step ignores α: multiply the gradient by inner_lr": _inner_update(params, grads, 1.0),
            "you returned the gradient or the parameters unchanged: compute θ − α∇θL": grads,
        }
        handed_params, handed_grads = _clones(params), _clones(grads)

        def read(answer):
            if not isinstance(answer, dict):
                raise _Reject(f"return a dict of tensors like params (got a {type(answer).__name__})")
            keys = [str.__str__(name) if isinstance(name, str) else repr(name) for name in answer]
            if set(keys) != set(params):
                raise _Reject(f"return the same keys as params: expected {sorted(params)}, got {sorted(keys)}")
            if _storages(dict(answer)) & _storages(expected):
                raise _Reject(_OWN_ANSWER)
            plain = {}
            for name in params:
                value = answer[name]
                if not isinstance(value, torch.Tensor) or value.shape != params[name].shape:
                    raise _Reject(f"answer[{name!r}] must be a tensor of shape {tuple(params[name].shape)}")
                if value.dtype != params[name].dtype:
                    raise _Reject(f"answer[{name!r}] has dtype {value.dtype}; keep the parameters' "
                                  f"dtype {params[name].dtype} (no .double() or .half())")
                plain[name] = _plain_tensor(value)
            return plain

        answer, failure = _call_student(student_fn, handed_params, handed_grads, inner_lr, time_limit=time_limit,
                                        inputs={"params": (handed_params, params), "grads": (handed_grads, grads)},
                                        read=read)
        if failure is not None:
            return failure
        if _allclose(answer, expected):
            continue
        for hint, wrong in slips.items():
            if _allclose(answer, wrong):
                return CheckResult(False, hint)
        if _allclose(answer, params):
            return CheckResult(False, "you returned the gradient or the parameters unchanged: compute θ − α∇θL")
        return CheckResult(False, f"wrong values (trial {trial + 1}): for each name, answer[name] = params[name] - inner_lr * grads[name]")
    return CheckResult(True, "correct: θ' = θ − α∇θL, a new dict, params untouched")


def _query_loss(model, params, x, y) -> float:
    """L_T(θ) written without mtlviz.functional: the model run with ``params``, mean squared error."""
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(_functional_call(model, params, (x,)), y))


def check_outer_loss(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check a student's ``outer_loss(model, adapted, x_support, y_support, x_query, y_query)``.

    It must return L_T(θ') measured on the *query* set with the adapted parameters (a dict),
    the term the seed's code gets wrong by reusing the support set; and leave its inputs (the
    model's weights too) unchanged. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(4321)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4321)
        model = MLP((1, 8, 1))
    theta = _get_params(model)
    batch = SinusoidTasks().sample_batch(1, 5, 7, random_state=generator)
    xs, ys, xq, yq = (t[0] for t in batch.data)
    adapted = _inner_update(theta, {n: torch.randn(p.shape, generator=generator) for n, p in theta.items()}, 0.1)
    expected = _query_loss(model, adapted, xq, yq)
    slips = {
        "that is the support loss: score θ' on the query set (x_query, y_query), the points it did not adapt on":
            _query_loss(model, adapted, xs, ys),
        "that uses the model's own parameters: evaluate with the adapted ones, functional.forward(model, adapted, x_query)":
            _query_loss(model, theta, xq, yq),
    }
    handed = {"model": copy.deepcopy(model), "adapted": _clones(adapted), "x_support": xs.clone(),
              "y_support": ys.clone(), "x_query": xq.clone(), "y_query": yq.clone()}
    private = {"model": model, "adapted": adapted, "x_support": xs, "y_support": ys, "x_query": xq, "y_query": yq}

    def read(answer):
        if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
            raise _Reject("return the loss as a single-number tensor")
        return float(_plain_tensor(answer).reshape(()).float())

    answer, failure = _call_student(student_fn, *handed.values(), time_limit=time_limit,
                                    inputs={name: (handed[name], private[name]) for name in handed}, read=read)
    if failure is not None:
        return failure

    def close(value):
        return math.isclose(answer, float(np.float32(value)), rel_tol=1e-5, abs_tol=1e-7)

    if close(expected):
        return CheckResult(True, "correct: the adapted θ' is scored on the query set, L_T(θ') on D^val")
    for hint, wrong in slips.items():
        if close(wrong):
            return CheckResult(False, hint)
    return CheckResult(False, "wrong value: return the mean squared error of functional.forward(model, adapted, "
                              "x_query) against y_query")


def check_line_inner_step(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check a student's ``inner_step(w, b, x, y, inner_lr) -> (w', b')`` for f(x) = w·x + b.

    The expected answer is one gradient step on the mean squared error, written by hand:
    ∂L/∂w = 2·mean((w·x + b − y)·x), ∂L/∂b = 2·mean(w·x + b − y); it is compared with
    mtlviz's autograd step (:func:`mtlviz.meta.landscape.adapted_points`) on random tasks.
    ``x`` and ``y`` must be left unchanged. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(2468)
    for trial in range(3):
        batch = LineTasks().sample_batch(1, 5, 1, random_state=generator)
        w, b = (float(v) for v in torch.empty(2).uniform_(-2, 2, generator=generator))
        inner_lr = float(torch.empty(()).uniform_(0.05, 0.3, generator=generator))
        x = batch.x_support[0, :, 0].double().numpy()
        y = batch.y_support[0, :, 0].double().numpy()
        expected = [float(v) for v in _adapted_points(batch.task(0), w, b, inner_lr=inner_lr)[0]]
        handed_x, handed_y = x.copy(), y.copy()

        def read(answer):
            try:
                values = [float(v) for v in answer]
            except (TypeError, ValueError):
                raise _Reject("return two numbers: (new_w, new_b)") from None
            if len(values) != 2:
                raise _Reject(f"return two numbers (new_w, new_b), not {len(values)}")
            return values

        answer, failure = _call_student(student_fn, w, b, handed_x, handed_y, inner_lr, time_limit=time_limit,
                                        inputs={"x": (handed_x, x), "y": (handed_y, y)}, read=read)
        if failure is not None:
            return failure
        step = [answer[0] - w, answer[1] - b]
        want = [expected[0] - w, expected[1] - b]

        def same(a, c):
            return all(abs(p - q) <= 1e-6 + 1e-5 * abs(q) for p, q in zip(a, c))

        if same(step, want):
            continue
        if same(step, [-v for v in want]):
            return CheckResult(False, "you stepped up the gradient: θ' = θ − α∇θL subtracts")
        if same(step, [v / 2 for v in want]):
            return CheckResult(False, "the step is half as long as it should be: d/dw (e²) = 2·e·x, keep the 2")
        if same(step, [v * len(x) for v in want]):
            return CheckResult(False, "the loss is a mean over the K points, not a sum: divide by K")
        if same(answer, [expected[1], expected[0]]):
            return CheckResult(False, "w and b are swapped: return (new_w, new_b)")
        return CheckResult(False, f"wrong values (trial {trial + 1}): with e = w·x + b − y, "
                                  "w' = w − α·2·mean(e·x) and b' = b − α·2·mean(e)")
    return CheckResult(True, "correct: one step θ' = θ − α∇θL on the support points, by hand")


METHOD_KEYWORDS = ("meta-learning", "domain adaptation", "fine-tuning", "feature extraction")


class _Shown:
    """A student's non-string answer, kept as the text it showed when read (for messages)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _read_choices(answers, keys, example: str, time_limit: float):
    """Read a student's answers dict into ``{key: plain str | None | ... | _Shown}`` under the
    guard (a dict subclass's methods and the values' ``__eq__`` are student code too)."""
    def plain(value):
        if value is None or value is ...:
            return value
        if isinstance(value, str):
            return str.__str__(value)
        text = str.__str__(repr(value))
        return _Shown(text if len(text) <= 80 else text[:77] + "...")

    def read():
        if not isinstance(answers, dict):
            raise _Reject(f"answers must be a dict like {example}; got a {type(answers).__name__}")
        return {key: plain(answers[key]) if key in answers else None for key in keys}

    return _guarded(read, time_limit, phase="read")


def check_method_choices(answers, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 00's exercise: a dict mapping each scenario of
    :data:`mtlviz.guide.SCENARIOS` to one of "meta-learning", "domain adaptation",
    "fine-tuning" or "feature extraction"."""
    names = [name for name, *_ in _SCENARIOS]
    answers, failure = _read_choices(answers, names, "{'gestures': 'meta-learning', ...}", time_limit)
    if failure is not None:
        return failure
    missing = [name for name in names if answers[name] is None or answers[name] is ...]
    if missing:
        return CheckResult(False, f"answer every scenario: missing {missing}")
    unknown = [answers[name] for name in names if answers[name] not in METHOD_KEYWORDS]
    if unknown:
        return CheckResult(False, f"use one of {list(METHOD_KEYWORDS)}; not {unknown}")
    for name, _, labelled, tasks, shift in _SCENARIOS:
        advice = _recommend(labelled, tasks, shift)
        if answers[name] not in advice.method:
            return CheckResult(False, f"{name}: not {answers[name]}. Hint: {advice.reason}")
    return CheckResult(True, "all three match the guide's reasoning")


def check_episode_sizes(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 01's ``episode_sizes(n_way, k_shot, n_query) -> (support, query)`` counts
    against real episodes sampled by :class:`mtlviz.data.glyphs.DigitsTasks`'s rules: N·K and N·Q.
    ``time_limit``: seconds per call."""
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure

    def read(answer):
        try:
            support, query = (int(v) for v in answer)
        except (TypeError, ValueError):
            raise _Reject("return two numbers: (support images, query images)") from None
        return support, query

    for n_way, k_shot, n_query in [(5, 1, 15), (3, 4, 2), (10, 5, 1)]:
        answer, failure = _call_student(student_fn, n_way, k_shot, n_query, time_limit=time_limit, read=read)
        if failure is not None:
            return failure
        if answer == (n_way * k_shot, n_way * n_query):
            continue
        if answer == (k_shot, n_query):
            return CheckResult(False, "that counts one class: an N-way episode has N classes")
        if answer == (n_way * n_query, n_way * k_shot):
            return CheckResult(False, "support and query are swapped: K is the support size per class")
        return CheckResult(False, f"wrong for N={n_way}, K={k_shot}, Q={n_query}: expected "
                                  f"{n_way * k_shot} support and {n_way * n_query} query images")
    return CheckResult(True, "correct: N·K support and N·Q query images")


def _read_tensor_like(reference: torch.Tensor, expected: torch.Tensor):
    """An answer reader: a tensor shaped like ``reference``, not the checker's ``expected`` itself."""
    def read(answer):
        if not isinstance(answer, torch.Tensor) or answer.shape != reference.shape:
            raise _Reject(f"return a tensor shaped like theta {tuple(reference.shape)}")
        if _storages(answer) & _storages(expected):
            raise _Reject(_OWN_ANSWER)
        return _plain_tensor(answer)
    return read


def check_meta_lstm_update(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check a student's ``meta_lstm_update(theta, grad, forget, input_gate)``, the Meta-LSTM
    cell update c_t = f_t ⊙ c_{t−1} − i_t ⊙ ∇_t with the parameters θ as the cell state.

    It must work element-wise on tensors, leave its inputs unchanged, and with ``forget = 1`` and
    ``input_gate = α`` it must be the gradient step θ − α∇ (the point of lesson 05). Common slips
    are named. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(505)

    def run(theta, grad, forget, input_gate, expected):
        private = {"theta": theta, "grad": grad, "forget": forget, "input_gate": input_gate}
        handed = {name: value.clone() for name, value in private.items()}
        return _call_student(student_fn, *handed.values(), time_limit=time_limit,
                             inputs={name: (handed[name], private[name]) for name in private},
                             read=_read_tensor_like(theta, expected))

    for _ in range(3):
        theta, grad = torch.randn(6, generator=generator), torch.randn(6, generator=generator)
        forget = torch.rand(6, generator=generator) * 0.5 + 0.5
        input_gate = torch.rand(6, generator=generator) * 0.1
        expected = forget * theta - input_gate * grad
        slips = {
            "the candidate is minus the gradient: subtract i ⊙ ∇, don't add it": forget * theta + input_gate * grad,
            "the forget gate multiplies the old parameters θ, not the gradient": theta - forget * input_gate * grad,
            "f and i are swapped: f scales θ (keep), i scales the gradient (learning rate)":
                input_gate * theta - forget * grad,
            "the forget gate is missing: c_t = f ⊙ c_{t−1} − i ⊙ ∇": theta - input_gate * grad,
        }
        answer, failure = run(theta, grad, forget, input_gate, expected)
        if failure is not None:
            return failure
        if torch.allclose(answer, expected, atol=1e-6):
            continue
        for hint, wrong in slips.items():
            if torch.allclose(answer, wrong, atol=1e-6):
                return CheckResult(False, hint)
        return CheckResult(False, "not yet: compute forget * theta - input_gate * grad, element by element")
    step = theta - 0.1 * grad
    sgd, failure = run(theta, grad, torch.ones(6), torch.full((6,), 0.1), step)
    if failure is not None:
        return failure
    if not torch.allclose(sgd, step, atol=1e-6):
        return CheckResult(False, "with forget = 1 and input_gate = 0.1 your update must be θ − 0.1∇ "
                                  "(it is right on random gates but not there: no special cases)")
    return CheckResult(True, "correct: with f = 1 and i = 0.1 your update is θ − 0.1∇, one step of gradient descent "
                       f"(largest difference {float((sgd - step).abs().max()):.1g})")


#: Lesson 06's exercise: (target, K) situations whose best strategy the student reads off the dashboard.
TRANSFER_SITUATIONS = (("glyphs", 1), ("negative", 10), ("digits", 50))
TRANSFER_STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")


def check_transfer_winners(answers, *, curves=None, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 06's exercise: a dict mapping each (target, K) of :data:`TRANSFER_SITUATIONS`
    to the strategy that wins there, one of "from scratch", "feature extraction", "fine-tuning"
    (fine-tuning with its best number of frozen blocks). Strategies that the best one does not
    clearly beat (:meth:`~mtlviz.transfer.curves.TransferCurves.beats`) are accepted too.
    ``curves``: the measured :class:`~mtlviz.transfer.curves.TransferCurves` (default: the
    shipped ones the dashboard shows)."""
    curves = _load_transfer_curves() if curves is None else curves
    answers, failure = _read_choices(answers, TRANSFER_SITUATIONS, "{('digits', 1): 'fine-tuning', ...}", time_limit)
    if failure is not None:
        return failure
    missing = [key for key in TRANSFER_SITUATIONS if answers[key] in (None, ...)]
    if missing:
        return CheckResult(False, f"answer every situation: missing {missing}")
    unknown = [answers[key] for key in TRANSFER_SITUATIONS if answers[key] not in TRANSFER_STRATEGIES]
    if unknown:
        return CheckResult(False, f"use one of {list(TRANSFER_STRATEGIES)}; not {unknown}")
    for target, k_shot in TRANSFER_SITUATIONS:
        best = curves.best_strategies(target, k_shot)
        if answers[(target, k_shot)] not in best:
            return CheckResult(False, f"{target} with K = {k_shot}: not {answers[(target, k_shot)]}. Set the "
                                      f"dashboard to target '{target}' and K = {k_shot}, try every number of "
                                      "frozen blocks, and compare the three curves at the red line.")
    return CheckResult(True, "all three match the measured curves")


def _covariance(features, divisor):
    centred = features - features.mean(0)
    return centred.T @ centred / divisor


def check_coral_loss(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 07's ``coral(source_features, target_features)``, the Deep CORAL loss
    ‖C_S − C_T‖²_F / (4d²) with unbiased (n − 1) covariances, against
    :func:`mtlviz.transfer.domain.coral_loss` on random features of different sizes. Common slips
    are named; the features must be left unchanged. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(707)

    def read(answer):
        try:
            return float(_plain_tensor(answer)) if isinstance(answer, torch.Tensor) else float(answer)
        except (TypeError, ValueError, RuntimeError):
            raise _Reject(f"return one number, a scalar tensor (got {type(answer).__name__})") from None

    for n_source, n_target, d in [(30, 50, 3), (12, 9, 5), (40, 40, 2)]:
        source = torch.randn(n_source, d, generator=generator, dtype=torch.float64) * 1.5 + 0.7
        target = torch.randn(n_target, d, generator=generator, dtype=torch.float64) * 0.6 - 0.3
        expected = float(_coral_loss(source, target))
        difference = _covariance(source, n_source - 1) - _covariance(target, n_target - 1)
        slips = {
            "divide by 4d², not 4d (d = number of features)": (difference ** 2).sum() / (4 * d),
            "the loss is the *squared* Frobenius norm: sum the squared differences, no square root":
                (difference ** 2).sum().sqrt() / (4 * d * d),
            "the 1/(4d²) factor is missing": (difference ** 2).sum(),
            "use the unbiased covariance (divide by n − 1, not n)":
                ((_covariance(source, n_source) - _covariance(target, n_target)) ** 2).sum() / (4 * d * d),
            "centre the features (subtract each column's mean) before the covariance":
                ((source.T @ source / (n_source - 1) - target.T @ target / (n_target - 1)) ** 2).sum() / (4 * d * d),
        }
        handed_source, handed_target = source.clone(), target.clone()
        value, failure = _call_student(student_fn, handed_source, handed_target, time_limit=time_limit,
                                       inputs={"source_features": (handed_source, source),
                                               "target_features": (handed_target, target)}, read=read)
        if failure is not None:
            return failure
        if abs(value - expected) <= 1e-6 * max(1.0, abs(expected)):
            continue
        for hint, wrong in slips.items():
            if abs(value - float(wrong)) <= 1e-6 * max(1.0, abs(float(wrong))):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: for {n_source} source and {n_target} target points with d = {d} "
                                  f"the loss is {expected:.4f}, yours {value:.4f}; compute ‖C_S − C_T‖²_F / (4d²)")
    return CheckResult(True, "correct: your CORAL loss matches mtlviz.transfer.domain.coral_loss "
                             "(it is 0 exactly when the two domains' feature covariances agree)")


def check_prototypes(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 08's ``prototypes(embeddings, labels, n_way)``, the class means
    c_k = (1/|S_k|) Σ_{y_i = k} f_φ(x_i) as an ``(n_way, D)`` tensor, against
    :func:`mtlviz.meta.protonet.prototypes` on random embeddings with shuffled labels and classes
    of different sizes. Common slips are named; the inputs must be left unchanged.
    ``time_limit``: seconds per call."""
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(808)
    for n_way, per_class, dim in [(3, (2, 2, 2), 4), (5, (1, 3, 2, 1, 4), 6), (2, (5, 1), 3)]:
        labels = torch.arange(n_way).repeat_interleave(torch.tensor(per_class))
        labels = labels[torch.randperm(len(labels), generator=generator)]
        embeddings = torch.randn(len(labels), dim, generator=generator, dtype=torch.float64) * 2 + 1
        expected = _prototypes(embeddings, labels, n_way)
        one_hot = torch.nn.functional.one_hot(labels, n_way).to(embeddings.dtype)
        slips = {
            "that is the sum of each class's embeddings: divide by |S_k|, the number of its support images":
                one_hot.T @ embeddings,
            "divide each class's sum by its own count |S_k|, not by the number of classes":
                one_hot.T @ embeddings / n_way,
            "divide each class's sum by its own count |S_k|, not by all support images":
                one_hot.T @ embeddings / len(labels),
        }
        handed_embeddings, handed_labels = embeddings.clone(), labels.clone()
        answer, failure = _call_student(student_fn, handed_embeddings, handed_labels, n_way, time_limit=time_limit,
                                        inputs={"embeddings": (handed_embeddings, embeddings),
                                                "labels": (handed_labels, labels)},
                                        read=_read_prototypes(n_way, dim, expected))
        if failure is not None:
            return failure
        if torch.allclose(answer.double(), expected, rtol=1e-5, atol=1e-6):
            continue
        for hint, wrong in slips.items():
            if torch.allclose(answer.double(), wrong, rtol=1e-5, atol=1e-6):
                return CheckResult(False, hint)
        if answer.shape[0] == n_way and torch.allclose(answer.double(), embeddings.mean(0).expand(n_way, -1)):
            return CheckResult(False, "every row is the mean of all embeddings: average only the rows of class k")
        return CheckResult(False, f"not yet: with {n_way} classes of {list(per_class)} support images, row k must be "
                                  "the mean of the embeddings labelled k")
    return CheckResult(True, "correct: c_k is the mean embedding of class k (mtlviz.meta.protonet.prototypes)")


def _read_prototypes(n_way: int, dim: int, expected: torch.Tensor):
    def read(answer):
        if not isinstance(answer, torch.Tensor) or tuple(answer.shape) != (n_way, dim):
            shape = tuple(answer.shape) if isinstance(answer, torch.Tensor) else type(answer).__name__
            raise _Reject(f"return a tensor of shape (n_way, D) = ({n_way}, {dim}), one row per class; got {shape}")
        if _storages(answer) & _storages(expected):
            raise _Reject(_OWN_ANSWER)
        return _plain_tensor(answer)
    return read


def check_returns_to_go(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 10's ``returns_to_go(rewards, discount)``: for rewards ``(R, H)`` (R rollouts of
    H steps), Gₜ = Σ_{k ≥ t} γ^{k−t} r_k for every rollout and step, ``(R, H)``, against
    :func:`mtlviz.meta.rl.returns_to_go` on random rewards and discounts. Common slips are named;
    the rewards must be left unchanged. ``time_limit``: seconds per call."""
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(1010)
    for n_rollouts, horizon, discount in [(3, 6, 0.9), (5, 12, 0.99), (2, 4, 0.5)]:
        rewards = -torch.rand(n_rollouts, horizon, generator=generator, dtype=torch.float64)
        expected = _returns_to_go(rewards, discount)
        powers = discount ** torch.arange(horizon, dtype=torch.float64)
        slips = {
            "that sums the rewards *so far* (from 0 to t): Gₜ sums the rewards from t to the end":
                torch.cumsum(rewards * powers, -1),
            "the discount is missing: weight r_k by γ^(k−t)": _returns_to_go(rewards, 1.0),
            "discount from step t, not from step 0: weight r_k by γ^(k−t), not γ^k":
                (rewards * powers).flip(-1).cumsum(-1).flip(-1),
            "Gₜ depends on t: only the rewards from step t on count, not the whole episode's":
                _returns_to_go(rewards, discount)[:, :1].expand(-1, horizon),
        }

        def read(answer, shape=(n_rollouts, horizon)):
            if not isinstance(answer, torch.Tensor) or tuple(answer.shape) != shape:
                raise _Reject(f"return a tensor of shape {shape}, one Gₜ per rollout and step "
                              f"(got {getattr(answer, 'shape', type(answer).__name__)})")
            return _plain_tensor(answer).double()

        handed = rewards.clone()
        answer, failure = _call_student(student_fn, handed, discount, time_limit=time_limit,
                                        inputs={"rewards": (handed, rewards)}, read=read)
        if failure is not None:
            return failure
        if torch.allclose(answer, expected, rtol=1e-6, atol=1e-9):
            continue
        for hint, wrong in slips.items():
            if torch.allclose(answer, wrong, rtol=1e-6, atol=1e-9):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: for {n_rollouts} rollouts of {horizon} steps with γ = {discount:g}, "
                                  "row r, column t must be Σ_{k ≥ t} γ^(k−t) r_k")
    return CheckResult(True, "correct: your returns-to-go match mtlviz.meta.rl.returns_to_go (the Gₜ "
                             "that REINFORCE weights each log π(aₜ|sₜ) by, before the baseline)")


# -- lesson 09 -----------------------------------------------------------------------------------

__all__ += ["check_graph_growth"]  # kept beside the checker (lesson 12)


def check_graph_growth(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 12's ``predict_graph_bytes(bytes_1, bytes_2, k)``: from the bytes second-order
    MAML's graph holds at 1 and 2 inner steps, predict them at ``k`` steps (a fixed part plus the
    same amount per step: bytes_1 + (k − 1)(bytes_2 − bytes_1)). Checked against what
    :func:`mtlviz.meta.cost.graph_bytes` measures on the sinusoid MLP at k = 5, 10 and 20.
    ``time_limit``: seconds per call."""
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    from .meta.cost import cost_problem, graph_bytes

    problem = cost_problem("sinusoid", meta_batch_size=5)
    measured = {k: graph_bytes("maml", problem, k) for k in (1, 2, 5, 10, 20)}
    one, two = measured[1], measured[2]
    for k in (5, 10, 20):
        slips = {
            "the graph is not proportional to k: the query forward pass and θ are held once, whatever k (a fixed part)":
                k * one,
            "one step adds bytes_2 − bytes_1; k steps are k − 1 steps more than the first, not k more":
                one + k * (two - one),
            "the per-step part is bytes_2 − bytes_1, not bytes_2 / 2": k * two / 2,
        }

        def read(answer):
            if isinstance(answer, torch.Tensor) and answer.numel() == 1:
                answer = answer.item()
            if not isinstance(answer, (int, float)) or isinstance(answer, bool):
                raise _Reject(f"return a number of bytes (got {type(answer).__name__})")
            return float(answer)

        answer, failure = _call_student(student_fn, one, two, k, time_limit=time_limit, read=read)
        if failure is not None:
            return failure
        if abs(answer - measured[k]) <= 1e-6 * measured[k]:
            continue
        for hint, wrong in slips.items():
            if abs(answer - wrong) <= 1e-6 * abs(wrong):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: with {one:,} bytes at k = 1 and {two:,} at k = 2 the graph holds "
                                  f"{measured[k]:,} bytes at k = {k}; you predicted {answer:,.0f}")
    return CheckResult(True, "correct: second-order MAML's graph is a fixed part plus the same bytes for every "
                             "inner step, as measured at k = 5, 10 and 20 (mtlviz.meta.cost.graph_bytes)")


__all__ += ["check_reptile_update"]  # kept beside the checker (lesson 09)


def check_reptile_update(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 09's ``reptile_update(theta, adapted, epsilon)``: Reptile's outer step
    θ + ε · (1/N) Σᵢ (θ̃ᵢ − θ), for ``theta`` a dict of tensors and ``adapted`` a list of N such
    dicts (θ̃ᵢ after the inner steps on task i). Common slips are named; the inputs must be left
    unchanged. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(909)
    for n_tasks, epsilon in [(3, 0.5), (1, 1.0), (5, 0.1)]:
        shapes = {"weight": (2, 3), "bias": (2,)}
        theta = {name: torch.randn(shape, generator=generator, dtype=torch.float64) for name, shape in shapes.items()}
        adapted = [{name: p + torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.3
                    for name, p in theta.items()} for _ in range(n_tasks)]
        mean_step = {name: torch.stack([a[name] - theta[name] for a in adapted]).mean(0) for name in theta}
        expected = {name: theta[name] + epsilon * mean_step[name] for name in theta}
        slips = {
            "Reptile moves θ *towards* the adapted parameters: θ + ε(θ̃ − θ), not θ − ε(θ̃ − θ)":
                {name: theta[name] - epsilon * mean_step[name] for name in theta},
            "average the steps over the tasks (1/N Σᵢ), do not sum them":
                {name: theta[name] + epsilon * n_tasks * mean_step[name] for name in theta},
            "return the new θ, not only the step ε · (θ̃ − θ)": {name: epsilon * mean_step[name] for name in theta},
            "interpolate between θ and θ̃: θ + ε(θ̃ − θ) = (1 − ε)θ + εθ̃, not ε·θ̃ alone":
                {name: epsilon * (mean_step[name] + theta[name]) for name in theta},
        }

        def read(answer):
            if not isinstance(answer, dict) or set(answer) != set(theta):
                raise _Reject(f"return a dict with the keys {sorted(theta)} (got {type(answer).__name__})")
            values = {}
            for name, value in answer.items():
                if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(theta[name].shape):
                    raise _Reject(f"answer[{name!r}] must be a tensor of shape {tuple(theta[name].shape)}")
                values[name] = _plain_tensor(value).double()
            return values

        handed_theta = {name: p.clone() for name, p in theta.items()}
        handed_adapted = [{name: p.clone() for name, p in a.items()} for a in adapted]
        inputs = {f"theta[{name!r}]": (handed_theta[name], theta[name]) for name in theta}
        inputs.update({f"adapted[{i}][{name!r}]": (handed_adapted[i][name], adapted[i][name])
                       for i in range(n_tasks) for name in theta})
        answer, failure = _call_student(student_fn, handed_theta, handed_adapted, epsilon, time_limit=time_limit,
                                        inputs=inputs, read=read)
        if failure is not None:
            return failure
        if all(torch.allclose(answer[name], expected[name], rtol=1e-9, atol=1e-12) for name in theta):
            continue
        for hint, wrong in slips.items():
            if all(torch.allclose(answer[name], wrong[name], rtol=1e-9, atol=1e-12) for name in theta):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: for {n_tasks} task(s) and ε = {epsilon:g} the new θ must be "
                                  "θ + ε · (1/N) Σᵢ (θ̃ᵢ − θ)")
    return CheckResult(True, "correct: your update is the outer step of mtlviz.meta.reptile.Reptile "
                             "(θ moves a fraction ε of the way to the tasks' mean adapted parameters)")


def check_pool_targets(student_fn: Callable, *, time_limit: float = TIME_LIMIT_S) -> CheckResult:
    """Check lesson 11's ``pool_targets(amplitude, phase, indices, x)``: the targets of a meta-batch
    drawn from a fixed pool of T sinusoid tasks, y[n] = A[indices[n]] · sin(x[n] − φ[indices[n]]),
    for ``amplitude``, ``phase`` of shape (T,), ``indices`` (N,) and fresh inputs ``x`` (N, P, 1)
    (what :meth:`mtlviz.data.tasks.TaskPool.batch_of` computes). Common slips are named; the inputs
    must be left unchanged. ``time_limit``: seconds per call.
    """
    failure = _not_callable(student_fn)
    if failure is not None:
        return failure
    generator = torch.Generator().manual_seed(1111)
    for n_pool, n_batch, n_points in [(5, 7, 4), (1, 3, 6), (12, 12, 1)]:
        amplitude = 0.1 + 4.9 * torch.rand(n_pool, generator=generator, dtype=torch.float64)
        phase = math.pi * torch.rand(n_pool, generator=generator, dtype=torch.float64)
        indices = torch.randint(0, n_pool, (n_batch,), generator=generator)
        if n_pool > 1:
            indices[0] = n_pool - 1  # the first rows are not simply tasks 0, 1, 2, ...
        x = -5 + 10 * torch.rand((n_batch, n_points, 1), generator=generator, dtype=torch.float64)
        expected = amplitude[indices].view(-1, 1, 1) * torch.sin(x - phase[indices].view(-1, 1, 1))
        first = torch.arange(n_batch) % n_pool
        slips = {
            "pick each row's task by indices[n] (amplitude[indices], phase[indices]), not the pool's first N tasks":
                amplitude[first].view(-1, 1, 1) * torch.sin(x - phase[first].view(-1, 1, 1)),
            "the sinusoid is A · sin(x − φ): subtract the phase": amplitude[indices].view(-1, 1, 1)
                * torch.sin(x + phase[indices].view(-1, 1, 1)),
            "shift x inside the sine: A · sin(x − φ), not A · sin(x) − φ": amplitude[indices].view(-1, 1, 1)
                * torch.sin(x) - phase[indices].view(-1, 1, 1),
        }
        def read(answer, shape=tuple(x.shape), expected=expected):
            if not isinstance(answer, torch.Tensor) or tuple(answer.shape) != shape:
                raise _Reject(f"return a tensor shaped like x {shape}")
            if _storages(answer) & _storages(expected):
                raise _Reject(_OWN_ANSWER)
            return _plain_tensor(answer)

        handed = (amplitude.clone(), phase.clone(), indices.clone(), x.clone())
        inputs = {"amplitude": (handed[0], amplitude), "phase": (handed[1], phase), "indices": (handed[2], indices),
                  "x": (handed[3], x)}
        answer, failure = _call_student(student_fn, *handed, time_limit=time_limit, inputs=inputs, read=read)
        if failure is not None:
            return failure
        if torch.allclose(answer.double(), expected, rtol=1e-6, atol=1e-9):
            continue
        for hint, wrong in slips.items():
            if torch.allclose(answer.double(), wrong, rtol=1e-6, atol=1e-9):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: for a pool of {n_pool} task(s) and a batch of {n_batch}, row n must be "
                                  "amplitude[indices[n]] · sin(x[n] − phase[indices[n]])")
    return CheckResult(True, "correct: the tasks come from the fixed pool, the points x are fresh each time "
                             "(mtlviz.data.tasks.TaskPool.batch_of)")
