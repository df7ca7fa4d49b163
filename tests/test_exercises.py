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
