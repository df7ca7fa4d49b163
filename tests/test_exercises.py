"""The automatic exercise checks pass right answers and explain wrong ones."""
from __future__ import annotations

import pytest
import torch

from mtlviz import functional as Fn
from mtlviz.exercises import CheckResult, check_inner_update

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def correct(params, grads, inner_lr):
    return {name: p - inner_lr * grads[name] for name, p in params.items()}


def correct_with_loop(params, grads, inner_lr):
    updated = {}
    for name in params:
        updated[name] = params[name].clone()
        updated[name] -= inner_lr * grads[name]  # in place, but on a copy
    return updated


def wrong_sign(params, grads, inner_lr):
    return {name: p + inner_lr * grads[name] for name, p in params.items()}


def missing_alpha(params, grads, inner_lr):
    return {name: p - grads[name] for name, p in params.items()}


def in_place(params, grads, inner_lr):
    for name, p in params.items():
        p -= inner_lr * grads[name]
    return params


def in_place_new_dict(params, grads, inner_lr):
    return {name: p.sub_(inner_lr * grads[name]) for name, p in params.items()}


def forgot_return(params, grads, inner_lr):
    {name: p - inner_lr * grads[name] for name, p in params.items()}


def wrong_keys(params, grads, inner_lr):
    return {f"layer.{name}": p - inner_lr * grads[name] for name, p in params.items()}


def missing_key(params, grads, inner_lr):
    return {name: p - inner_lr * grads[name] for name, p in params.items() if "bias" not in name}


def raises(params, grads, inner_lr):
    return {name: p - inner_lr * grads[name.upper()] for name, p in params.items()}


def returns_list(params, grads, inner_lr):
    return [p - inner_lr * grads[name] for name, p in params.items()]


def returns_grads(params, grads, inner_lr):
    return dict(grads)


def wrong_shape(params, grads, inner_lr):
    return {name: (p - inner_lr * grads[name]).flatten() for name, p in params.items()}


def squared_gradient(params, grads, inner_lr):
    return {name: p - inner_lr * grads[name] ** 2 for name, p in params.items()}


@pytest.mark.parametrize("student_fn", [correct, correct_with_loop, Fn.inner_update])
def test_check_inner_update_passes_correct_answers(student_fn):
    """If this fails, a student with the right answer is told it is wrong."""
    result = check_inner_update(student_fn)
    assert isinstance(result, CheckResult)
    assert result.passed and bool(result)
    assert str(result).startswith("✔ ")


@pytest.mark.parametrize(
    "student_fn, message",
    [
        (wrong_sign, "you moved up the gradient: θ' = θ − α∇θL subtracts α times the gradient"),
        (missing_alpha, "the step ignores α: multiply the gradient by inner_lr"),
        (in_place, "params was changed in place: build new tensors (p - ...) instead of p -= ..."),
        (in_place_new_dict, "params was changed in place"),
        (forgot_return, "your function returned None: did you forget `return`?"),
        (wrong_keys, "return the same keys as params: expected ['0.bias', '0.weight', '2.bias', '2.weight'], got "
                     "['layer.0.bias', 'layer.0.weight', 'layer.2.bias', 'layer.2.weight']"),
        (missing_key, "return the same keys as params: expected"),
        (raises, "your function raised KeyError: '0.WEIGHT'"),
        (returns_list, "return a dict of tensors like params (got a list)"),
        (returns_grads, "you returned the gradient or the parameters unchanged"),
        (wrong_shape, "answer['0.weight'] must be a tensor of shape (4, 1)"),
        (squared_gradient, "wrong values (trial 1): for each name, answer[name] = params[name] - inner_lr * grads[name]"),
        ("inner_update", "pass your function itself (got a str)"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_check_inner_update_explains_each_mistake(student_fn, message):
    """If this fails, a student with a wrong answer gets a wrong verdict or no hint about what to fix."""
    result = check_inner_update(student_fn)
    assert not result.passed and not bool(result)
    assert message in result.message
    assert str(result) == "✘ " + result.message


def test_check_inner_update_prints_nothing(capsys):
    """If this fails, checks clutter the notebook output that nbval compares."""
    check_inner_update(correct)
    check_inner_update(wrong_sign)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_check_inner_update_reports_an_answer_of_another_dtype():
    """If this fails, a student who returns float64 tensors sees a torch traceback instead of a hint."""
    result = check_inner_update(lambda params, grads, inner_lr: {
        name: (p - inner_lr * grads[name]).double() for name, p in params.items()})
    assert isinstance(result, CheckResult)


def test_check_meta_lstm_update_accepts_the_cell_update():
    """Lesson 05's exercise: the right update must pass and say it is a gradient step at f=1, i=α."""
    from mtlviz.exercises import check_meta_lstm_update

    result = check_meta_lstm_update(lambda theta, grad, f, i: f * theta - i * grad)
    assert result.passed and "gradient descent" in result.message


@pytest.mark.parametrize("student_fn, message", [
    (lambda theta, grad, f, i: f * theta + i * grad, "subtract"),
    (lambda theta, grad, f, i: i * theta - f * grad, "swapped"),
    (lambda theta, grad, f, i: theta - i * grad, "forget gate is missing"),
    (lambda theta, grad, f, i: None, "returned None"),
    (lambda theta, grad, f, i: theta * 2, "not yet"),
])
def test_check_meta_lstm_update_names_each_slip(student_fn, message):
    """A student with a sign or gate mix-up must read which one, not just 'wrong'."""
    from mtlviz.exercises import check_meta_lstm_update

    result = check_meta_lstm_update(student_fn)
    assert result.passed is False and message in result.message


# -- Fooling and freezing the checkers (issue 17 item 3) -------------------------------------------

import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import mtlviz.transfer.domain  # noqa: E402
from mtlviz import exercises  # noqa: E402
from mtlviz.exercises import (check_coral_loss, check_episode_sizes, check_line_inner_step,  # noqa: E402
                              check_meta_lstm_update, check_method_choices, check_outer_loss,
                              check_transfer_winners)

LIMIT_S = 0.5
FUNCTION_CHECKERS = [check_inner_update, check_outer_loss, check_line_inner_step, check_episode_sizes,
                     check_meta_lstm_update, check_coral_loss]
TOO_SLOW = f"your function did not finish within {LIMIT_S:g} s"


def loops_forever(*args):
    while True:
        pass


def catches_the_interrupt_and_answers(params, grads, inner_lr):
    try:
        while True:
            pass
    except BaseException:
        return correct(params, grads, inner_lr)


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS, ids=lambda checker: checker.__name__)
def test_a_looping_function_is_stopped_within_the_limit(checker):
    """If this fails, a student whose function loops forever freezes the lesson's kernel."""
    start = time.monotonic()
    result = checker(loops_forever, time_limit=LIMIT_S)
    assert not result.passed and TOO_SLOW in result.message
    assert time.monotonic() - start < LIMIT_S + 1.0


def test_an_answer_returned_after_the_limit_is_not_accepted():
    """If this fails, a function that swallows the interrupt and then answers passes after freezing."""
    result = check_inner_update(catches_the_interrupt_and_answers, time_limit=LIMIT_S)
    assert not result.passed and TOO_SLOW in result.message


def test_a_checker_in_another_thread_is_stopped_too():
    """If this fails, a checker called from a thread (a widget callback outside the main thread)
    hangs on a looping function: the signal works only in the main thread, this path does not use it."""
    results = []
    worker = threading.Thread(target=lambda: results.append(check_inner_update(loops_forever, time_limit=LIMIT_S)))
    start = time.monotonic()
    worker.start()
    worker.join(LIMIT_S + 5)
    assert not worker.is_alive() and time.monotonic() - start < LIMIT_S + 1.0
    assert TOO_SLOW in results[0].message
    assert check_inner_update(correct).passed  # nothing left armed behind


def test_the_time_limit_leaves_nothing_armed():
    """If this fails, a check leaves a timer or a signal handler behind that later kills the kernel."""
    import signal

    handler = signal.getsignal(signal.SIGALRM)
    check_inner_update(loops_forever, time_limit=0.2)
    check_inner_update(correct)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
    time.sleep(0.3)  # a stray interrupt would land here


@pytest.mark.parametrize("escape, message", [
    (lambda *args: sys.exit(3), "your function called sys.exit() (SystemExit)"),
    (lambda *args: exec("raise SystemExit"), "your function called sys.exit() (SystemExit)"),
    (lambda *args: exec("raise KeyboardInterrupt"), "your function was interrupted (KeyboardInterrupt)"),
    (lambda *args: exec("raise GeneratorExit('x')"), "your function raised GeneratorExit: x"),
    (lambda *args: exec("raise ValueError('first line\\nsecond line')"), "your function raised ValueError: first line"),
])
@pytest.mark.parametrize("checker", FUNCTION_CHECKERS, ids=lambda checker: checker.__name__)
def test_exits_and_interrupts_are_reported_not_propagated(checker, escape, message):
    """If this fails, sys.exit() or an interrupt in a student's function escapes the checker
    (the cell dies with a traceback, or the kernel's SystemExit handling kicks in)."""
    result = checker(escape)
    assert not result.passed
    assert result.message.startswith(message) and "\n" not in result.message


def zero_the_gradients(params, grads, inner_lr):
    for g in grads.values():
        g.zero_()
    return {name: p.clone() for name, p in params.items()}


def test_mutating_the_gradients_is_named():
    """Accepted before: zeroing grads in place made the expected θ − α·0 equal the unchanged params."""
    result = check_inner_update(zero_the_gradients)
    assert not result.passed and result.message.startswith("grads was changed in place")


def test_mutating_the_query_set_is_named():
    """Accepted before: writing the prediction into y_query made the expected loss 0."""
    from mtlviz import functional as F

    def cheat(model, adapted, x_support, y_support, x_query, y_query):
        y_query.copy_(F.forward(model, adapted, x_query).detach())
        return torch.tensor(0.0)

    result = check_outer_loss(cheat)
    assert not result.passed and result.message.startswith("y_query was changed in place")


def test_changing_the_models_weights_is_named():
    """If this fails, a student who trains the model's own weights in the loss is not told."""
    def writes_model(model, adapted, x_support, y_support, x_query, y_query):
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return torch.tensor(1.0)

    result = check_outer_loss(writes_model)
    assert not result.passed and result.message.startswith("model was changed in place")


@pytest.mark.parametrize("checker, student_fn, name", [
    (check_meta_lstm_update, lambda theta, grad, f, i: theta.mul_(f).sub_(i * grad), "theta"),
    (check_coral_loss, lambda s, t: s.zero_().sum(), "source_features"),
    (check_line_inner_step, lambda w, b, x, y, a: (x.fill(0), (w, b))[1], "x"),
])
def test_mutating_the_inputs_is_named_in_every_lesson(checker, student_fn, name):
    """If this fails, a student whose function changes its inputs in place is not told so."""
    result = checker(student_fn)
    assert not result.passed and result.message.startswith(f"{name} was changed in place"), result.message


def test_monkeypatching_inner_update_does_not_change_the_expected_answer(monkeypatch):
    """Accepted before: replacing mtlviz.functional.inner_update with 'return params' made an
    answer that returns params unchanged '✔ correct'."""
    monkeypatch.setattr(Fn, "inner_update", lambda params, grads, inner_lr: dict(params))
    result = check_inner_update(lambda params, grads, inner_lr: {n: p.clone() for n, p in params.items()})
    assert not result.passed
    assert check_inner_update(correct).passed


def test_monkeypatching_the_loss_does_not_change_the_expected_answer(monkeypatch):
    """Accepted before: replacing task_loss / coral_loss with a constant made that constant correct."""
    monkeypatch.setattr(Fn, "task_loss", lambda *args, **kwargs: torch.tensor(0.0))
    monkeypatch.setattr(Fn, "forward", lambda model, params, x: torch.zeros(x.shape[0], 1))
    assert not check_outer_loss(lambda *args: torch.tensor(0.0)).passed
    monkeypatch.setattr(mtlviz.transfer.domain, "coral_loss", lambda s, t: torch.tensor(0.0))
    assert not check_coral_loss(lambda s, t: torch.tensor(0.0)).passed


def _checkers_expected(name="expected"):
    """The checker's local ``expected``, found by walking up every thread's frames (a cheat: the
    student's code runs in a thread of its own, the checker waits in the calling thread)."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if name in frame.f_locals and frame.f_code.co_filename == exercises.__file__:
                return frame.f_locals[name]
            frame = frame.f_back
    return None


def test_returning_the_checkers_own_answer_object_is_refused():
    """If this fails, a student can pass by returning the reference tensor the checker computed
    (it is computed before the call now, so it exists while the student's code runs)."""
    result = check_inner_update(lambda params, grads, inner_lr: _checkers_expected())
    assert not result.passed and "checker's own expected answer" in result.message
    result = check_meta_lstm_update(lambda theta, grad, f, i: _checkers_expected())
    assert not result.passed and "checker's own expected answer" in result.message


def test_a_tensor_subclass_cannot_answer_for_itself():
    """If this fails, a Tensor subclass whose __torch_function__ makes allclose say True passes."""
    class AlwaysClose(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func is torch.allclose:
                return True
            return super().__torch_function__(func, types, args, kwargs or {})

    result = check_meta_lstm_update(lambda theta, grad, f, i: torch.zeros(6).as_subclass(AlwaysClose))
    assert not result.passed


def test_returning_a_check_result_is_not_a_verdict():
    """If this fails, a function that returns CheckResult(True, ...) is taken for the checker's own verdict."""
    result = check_inner_update(lambda *args: CheckResult(True, "correct"))
    assert not result.passed and "return a dict" in result.message


def test_the_last_call_of_the_meta_lstm_checker_is_guarded():
    """Before, check_meta_lstm_update called the student's function a last time (f = 1, i = 0.1)
    outside its guard: an error there was a traceback. Now it is a message."""
    def fails_at_the_gradient_step(theta, grad, f, i):
        if bool((f == 1).all()):
            raise RuntimeError("only gates below one")
        return f * theta - i * grad

    result = check_meta_lstm_update(fails_at_the_gradient_step)
    assert not result.passed and result.message == "your function raised RuntimeError: only gates below one"


def test_answers_that_run_code_when_read_are_guarded():
    """If this fails, an answers dict (or an answer) whose methods loop or exit freezes the check."""
    class Looping(dict):
        def __getitem__(self, key):
            while True:
                pass

    result = check_method_choices(Looping(gestures=1), time_limit=LIMIT_S)
    assert not result.passed and TOO_SLOW in result.message

    class Exits:
        def __repr__(self):
            raise SystemExit

    result = check_transfer_winners({("glyphs", 1): Exits()}, time_limit=LIMIT_S)
    assert not result.passed and "SystemExit" in result.message

    class Number:
        def __float__(self):
            while True:
                pass

    result = check_coral_loss(lambda s, t: Number(), time_limit=LIMIT_S)
    assert not result.passed and TOO_SLOW in result.message


def sleeps_and_catches_everything(*args):
    while True:
        try:
            time.sleep(0.3)
        except:  # noqa: E722 -- the student's bare except is the point
            pass


def one_long_blocking_call(*args):
    time.sleep(2.5)


def _student_threads():
    return [t for t in threading.enumerate() if t.name == "mtlviz-exercise-student-code" and t.is_alive()]


@pytest.mark.parametrize("student_fn", [sleeps_and_catches_everything, one_long_blocking_call],
                         ids=["bare except around sleep", "one blocking call"])
def test_code_that_ignores_the_interrupt_is_left_behind_not_waited_for(student_fn):
    """If this fails, a student's `while True: try: time.sleep(1) except: pass` (each interrupt lands
    inside the try) or one long blocking call freezes the checker, and with it the lesson's kernel."""
    results = []  # the check runs in a daemon thread so that a frozen checker fails this test, not hangs it
    checker = threading.Thread(target=lambda: results.append(check_inner_update(student_fn, time_limit=LIMIT_S)),
                               daemon=True)
    start = time.monotonic()
    checker.start()
    checker.join(LIMIT_S + 10)
    elapsed = time.monotonic() - start
    assert results, "the checker was still waiting for the student's function 10 s after its limit"
    result = results[0]
    assert not result.passed and result.message.startswith(TOO_SLOW)
    assert "did not stop when interrupted" in result.message and "restart the kernel" in result.message
    assert elapsed < LIMIT_S + exercises._GRACE_S + 1.0
    assert check_inner_update(correct).passed  # the next check is not disturbed by the one left behind


def test_code_left_behind_is_stopped_as_soon_as_it_can_be():
    """If this fails, a function left behind after one long blocking call keeps running (and using
    the kernel's CPU) after the call returns, instead of being stopped by the background interrupts."""
    before = set(_student_threads())
    check_inner_update(one_long_blocking_call, time_limit=LIMIT_S)
    left = [t for t in _student_threads() if t not in before]
    assert left, "the blocking call should still be running right after the check"
    for thread in left:
        thread.join(2.5 + 2 * exercises._PESTER_S)
        assert not thread.is_alive()


KERNEL_CELL = f"""
import time
from mtlviz.exercises import check_inner_update
def inner_update(params, grads, inner_lr):
    while True:
        pass
start = time.monotonic()
result = check_inner_update(inner_update, time_limit={LIMIT_S})
print(result, "|", round(time.monotonic() - start, 1))
"""

BARE_EXCEPT_CELL = f"""
import time
from mtlviz.exercises import check_inner_update
def inner_update(params, grads, inner_lr):
    while True:
        try:
            time.sleep(1)
        except:
            pass
start = time.monotonic()
result = check_inner_update(inner_update, time_limit={LIMIT_S})
print(result, "|", round(time.monotonic() - start, 1))
"""

COMM_CELL = f"""
from mtlviz.exercises import check_inner_update
def on_open(comm, message):
    def inner_update(params, grads, inner_lr):
        while True:
            pass
    comm.send({{"result": str(check_inner_update(inner_update, time_limit={LIMIT_S}))}})
get_ipython().kernel.comm_manager.register_target("mtlviz-check", on_open)
"""


def test_a_looping_function_is_stopped_in_a_real_kernel():
    """If this fails, a student's infinite loop in a lesson's Exercises cell freezes the Jupyter
    (or Voila) kernel instead of printing '✘ your function did not finish within N s'. The second
    half runs the checker from a comm message handler, where widget callbacks (Voila) run."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    try:
        out = []
        reply = client.execute_interactive(KERNEL_CELL, timeout=60, output_hook=lambda msg: out.append(
            msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        message, seconds = "".join(out).rsplit("|", 1)
        assert message.strip() == f"✘ {TOO_SLOW}: look for a loop that never ends"
        assert float(seconds) < LIMIT_S + 1.0

        assert client.execute_interactive(COMM_CELL, timeout=30)["content"]["status"] == "ok"
        client.shell_channel.send(client.session.msg("comm_open", {
            "comm_id": "check-1", "target_name": "mtlviz-check", "data": {}}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = client.get_iopub_msg(timeout=deadline - time.monotonic())
            if msg["msg_type"] == "comm_msg":
                assert msg["content"]["data"]["result"].startswith(f"✘ {TOO_SLOW}")
                break
        else:
            pytest.fail("the comm handler's check did not answer")
        out.clear()
        reply = client.execute_interactive(BARE_EXCEPT_CELL, timeout=60, output_hook=lambda msg: out.append(
            msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        message, seconds = "".join(out).rsplit("|", 1)
        assert message.strip().startswith(f"✘ {TOO_SLOW} and did not stop when interrupted")
        assert float(seconds) < LIMIT_S + 2.0
        assert client.execute_interactive("1 + 1", timeout=10)["content"]["status"] == "ok"  # kernel alive
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
