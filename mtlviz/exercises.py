"""Automatic checks for the lessons' exercises.

Each ``check_*`` function runs the student's code on random inputs, compares it with mtlviz's
own implementation and returns a :class:`CheckResult` whose text says what is right or, on a
wrong answer, what to look at. Nothing is printed; the notebook displays the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from . import functional as Fn

__all__ = ["CheckResult", "check_inner_update", "check_outer_loss", "check_line_inner_step",
           "check_method_choices", "check_episode_sizes", "check_meta_lstm_update", "check_coral_loss", "check_transfer_winners"]


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


def _call_student(student_fn: Callable, *args):
    """Run the student's function; return ``(answer, None)``, or ``(None, failure)`` when it
    raised or returned nothing (the student's code may fail in any way: report, don't crash)."""
    try:
        answer = student_fn(*args)
    except Exception as error:
        return None, CheckResult(False, f"your function raised {type(error).__name__}: {error}")
    if answer is None:
        return None, CheckResult(False, "your function returned None: did you forget `return`?")
    return answer, None


def _random_params(generator):
    shapes = {"0.weight": (4, 1), "0.bias": (4,), "2.weight": (1, 4), "2.bias": (1,)}
    return {name: torch.randn(shape, generator=generator) for name, shape in shapes.items()}


def _allclose(a, b):
    return all(torch.allclose(a[name], b[name], rtol=1e-5, atol=1e-6) for name in a)


def check_inner_update(student_fn: Callable) -> CheckResult:
    """Check a student's ``inner_update(params, grads, inner_lr)``: θ' = θ − α ∇θ L.

    It must return a new dict with the same keys and shapes, leave ``params`` unchanged, and
    match :func:`mtlviz.functional.inner_update` on random parameters and gradients.
    """
    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    generator = torch.Generator().manual_seed(1234)
    for trial in range(3):
        params = _random_params(generator)
        grads = _random_params(generator)
        inner_lr = float(torch.empty(()).uniform_(0.01, 0.5, generator=generator))
        before = {name: p.clone() for name, p in params.items()}
        answer, failure = _call_student(student_fn, params, grads, inner_lr)
        if failure is not None:
            return failure
        if not isinstance(answer, dict):
            return CheckResult(False, f"return a dict of tensors like params (got a {type(answer).__name__})")
        if set(answer) != set(params):
            return CheckResult(False, f"return the same keys as params: expected {sorted(params)}, got {sorted(answer)}")
        if not _allclose(params, before):
            return CheckResult(False, "params was changed in place: build new tensors (p - ...) instead of p -= ...")
        for name in params:
            if not isinstance(answer[name], torch.Tensor) or answer[name].shape != params[name].shape:
                return CheckResult(False, f"answer[{name!r}] must be a tensor of shape {tuple(params[name].shape)}")
            if answer[name].dtype != params[name].dtype:
                return CheckResult(False, f"answer[{name!r}] has dtype {answer[name].dtype}; keep the parameters' "
                                          f"dtype {params[name].dtype} (no .double() or .half())")
        expected = Fn.inner_update(params, grads, inner_lr)
        if _allclose(answer, expected):
            continue
        if _allclose(answer, Fn.inner_update(params, grads, -inner_lr)):
            return CheckResult(False, "you moved up the gradient: θ' = θ − α∇θL subtracts α times the gradient")
        if _allclose(answer, Fn.inner_update(params, grads, 1.0)):
            return CheckResult(False, "the step ignores α: multiply the gradient by inner_lr")
        if _allclose(answer, grads) or _allclose(answer, params):
            return CheckResult(False, "you returned the gradient or the parameters unchanged: compute θ − α∇θL")
        return CheckResult(False, f"wrong values (trial {trial + 1}): for each name, answer[name] = params[name] - inner_lr * grads[name]")
    return CheckResult(True, "correct: θ' = θ − α∇θL, a new dict, params untouched")


def check_outer_loss(student_fn: Callable) -> CheckResult:
    """Check a student's ``outer_loss(model, adapted, x_support, y_support, x_query, y_query)``.

    It must return L_T(θ') measured on the *query* set with the adapted parameters (a dict),
    the term the seed's code gets wrong by reusing the support set.
    """
    from .nets import MLP
    from .data.tasks import SinusoidTasks

    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    generator = torch.Generator().manual_seed(4321)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4321)
        model = MLP((1, 8, 1))
    theta = Fn.get_params(model)
    batch = SinusoidTasks().sample_batch(1, 5, 7, random_state=generator)
    xs, ys, xq, yq = (t[0] for t in batch.data)
    adapted = Fn.inner_update(theta, {n: torch.randn(p.shape, generator=generator) for n, p in theta.items()}, 0.1)
    answer, failure = _call_student(student_fn, model, adapted, xs, ys, xq, yq)
    if failure is not None:
        return failure
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        return CheckResult(False, "return the loss as a single-number tensor")
    answer = answer.detach().reshape(()).float()

    def close(value):
        return torch.allclose(answer, value.detach().float(), rtol=1e-5, atol=1e-7)

    if close(Fn.task_loss(model, adapted, xq, yq)):
        return CheckResult(True, "correct: the adapted θ' is scored on the query set, L_T(θ') on D^val")
    if close(Fn.task_loss(model, adapted, xs, ys)):
        return CheckResult(False, "that is the support loss: score θ' on the query set (x_query, y_query), "
                                  "the points it did not adapt on")
    if close(Fn.task_loss(model, theta, xq, yq)) or close(Fn.task_loss(model, dict(model.named_parameters()), xq, yq)):
        return CheckResult(False, "that uses the model's own parameters: evaluate with the adapted ones, "
                                  "functional.forward(model, adapted, x_query)")
    return CheckResult(False, "wrong value: return the mean squared error of functional.forward(model, adapted, "
                              "x_query) against y_query")


def check_line_inner_step(student_fn: Callable) -> CheckResult:
    """Check a student's ``inner_step(w, b, x, y, inner_lr) -> (w', b')`` for f(x) = w·x + b.

    The expected answer is one gradient step on the mean squared error, written by hand:
    ∂L/∂w = 2·mean((w·x + b − y)·x), ∂L/∂b = 2·mean(w·x + b − y); it is compared with
    mtlviz's autograd step (:func:`mtlviz.meta.landscape.adapted_points`) on random tasks.
    """
    from .meta.landscape import adapted_points
    from .data.tasks import LineTasks

    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    generator = torch.Generator().manual_seed(2468)
    for trial in range(3):
        batch = LineTasks().sample_batch(1, 5, 1, random_state=generator)
        w, b = (float(v) for v in torch.empty(2).uniform_(-2, 2, generator=generator))
        inner_lr = float(torch.empty(()).uniform_(0.05, 0.3, generator=generator))
        x = batch.x_support[0, :, 0].double().numpy()
        y = batch.y_support[0, :, 0].double().numpy()
        expected = adapted_points(batch.task(0), w, b, inner_lr=inner_lr)[0]
        answer, failure = _call_student(student_fn, w, b, x.copy(), y.copy(), inner_lr)
        if failure is not None:
            return failure
        try:
            answer = [float(v) for v in answer]
        except (TypeError, ValueError):
            return CheckResult(False, "return two numbers: (new_w, new_b)")
        if len(answer) != 2:
            return CheckResult(False, f"return two numbers (new_w, new_b), not {len(answer)}")
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


def check_method_choices(answers) -> CheckResult:
    """Check lesson 00's exercise: a dict mapping each scenario of
    :data:`mtlviz.guide.SCENARIOS` to one of "meta-learning", "domain adaptation",
    "fine-tuning" or "feature extraction"."""
    from .guide import SCENARIOS, recommend

    if not isinstance(answers, dict):
        return CheckResult(False, f"answers must be a dict like {{'gestures': 'meta-learning', ...}}; "
                                  f"got a {type(answers).__name__}")
    names = [name for name, *_ in SCENARIOS]
    missing = [name for name in names if name not in answers or answers[name] is None or answers[name] is ...]
    if missing:
        return CheckResult(False, f"answer every scenario: missing {missing}")
    unknown = [answers[name] for name in names if answers[name] not in METHOD_KEYWORDS]
    if unknown:
        return CheckResult(False, f"use one of {list(METHOD_KEYWORDS)}; not {unknown}")
    for name, _, labelled, tasks, shift in SCENARIOS:
        advice = recommend(labelled, tasks, shift)
        if answers[name] not in advice.method:
            return CheckResult(False, f"{name}: not {answers[name]}. Hint: {advice.reason}")
    return CheckResult(True, "all three match the guide's reasoning")


def check_episode_sizes(student_fn: Callable) -> CheckResult:
    """Check lesson 01's ``episode_sizes(n_way, k_shot, n_query) -> (support, query)`` counts
    against real episodes sampled by :class:`mtlviz.data.glyphs.DigitsTasks`'s rules: N·K and N·Q."""
    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    for n_way, k_shot, n_query in [(5, 1, 15), (3, 4, 2), (10, 5, 1)]:
        answer, failure = _call_student(student_fn, n_way, k_shot, n_query)
        if failure is not None:
            return failure
        try:
            support, query = (int(v) for v in answer)
        except (TypeError, ValueError):
            return CheckResult(False, "return two numbers: (support images, query images)")
        if (support, query) == (n_way * k_shot, n_way * n_query):
            continue
        if (support, query) == (k_shot, n_query):
            return CheckResult(False, "that counts one class: an N-way episode has N classes")
        if (support, query) == (n_way * n_query, n_way * k_shot):
            return CheckResult(False, "support and query are swapped: K is the support size per class")
        return CheckResult(False, f"wrong for N={n_way}, K={k_shot}, Q={n_query}: expected "
                                  f"{n_way * k_shot} support and {n_way * n_query} query images")
    return CheckResult(True, "correct: N·K support and N·Q query images")


def check_meta_lstm_update(student_fn: Callable) -> CheckResult:
    """Check a student's ``meta_lstm_update(theta, grad, forget, input_gate)``, the Meta-LSTM
    cell update c_t = f_t ⊙ c_{t−1} − i_t ⊙ ∇_t with the parameters θ as the cell state.

    It must work element-wise on tensors, and with ``forget = 1`` and ``input_gate = α`` it must
    be the gradient step θ − α∇ (the point of lesson 05). Common slips are named.
    """
    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    generator = torch.Generator().manual_seed(505)
    for _ in range(3):
        theta, grad = torch.randn(6, generator=generator), torch.randn(6, generator=generator)
        forget = torch.rand(6, generator=generator) * 0.5 + 0.5
        input_gate = torch.rand(6, generator=generator) * 0.1
        answer, failure = _call_student(student_fn, theta.clone(), grad.clone(), forget.clone(), input_gate.clone())
        if failure is not None:
            return failure
        if not isinstance(answer, torch.Tensor) or answer.shape != theta.shape:
            return CheckResult(False, f"return a tensor shaped like theta {tuple(theta.shape)}")
        expected = forget * theta - input_gate * grad
        if torch.allclose(answer, expected, atol=1e-6):
            continue
        slips = {
            "the candidate is minus the gradient: subtract i ⊙ ∇, don't add it": forget * theta + input_gate * grad,
            "the forget gate multiplies the old parameters θ, not the gradient": theta - forget * input_gate * grad,
            "f and i are swapped: f scales θ (keep), i scales the gradient (learning rate)":
                input_gate * theta - forget * grad,
            "the forget gate is missing: c_t = f ⊙ c_{t−1} − i ⊙ ∇": theta - input_gate * grad,
        }
        for hint, wrong in slips.items():
            if torch.allclose(answer, wrong, atol=1e-6):
                return CheckResult(False, hint)
        return CheckResult(False, "not yet: compute forget * theta - input_gate * grad, element by element")
    sgd = student_fn(theta.clone(), grad.clone(), torch.ones(6), torch.full((6,), 0.1))
    return CheckResult(True, "correct: with f = 1 and i = 0.1 your update is θ − 0.1∇, one step of gradient descent "
                       f"(largest difference {float((sgd - (theta - 0.1 * grad)).abs().max()):.1g})")


#: Lesson 06's exercise: (target, K) situations whose best strategy the student reads off the dashboard.
TRANSFER_SITUATIONS = (("glyphs", 1), ("negative", 10), ("digits", 50))
TRANSFER_STRATEGIES = ("from scratch", "feature extraction", "fine-tuning")


def check_transfer_winners(answers, *, curves=None) -> CheckResult:
    """Check lesson 06's exercise: a dict mapping each (target, K) of :data:`TRANSFER_SITUATIONS`
    to the strategy that wins there, one of "from scratch", "feature extraction", "fine-tuning"
    (fine-tuning with its best number of frozen blocks). Strategies that the best one does not
    clearly beat (:meth:`~mtlviz.transfer.curves.TransferCurves.beats`) are accepted too.
    ``curves``: the measured :class:`~mtlviz.transfer.curves.TransferCurves` (default: the
    shipped ones the dashboard shows)."""
    from .pretrained import load_transfer_curves

    curves = load_transfer_curves() if curves is None else curves
    if not isinstance(answers, dict):
        return CheckResult(False, "answers must be a dict like {('digits', 1): 'fine-tuning', ...}; "
                                  f"got a {type(answers).__name__}")
    missing = [key for key in TRANSFER_SITUATIONS if answers.get(key) in (None, ...)]
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


def check_coral_loss(student_fn: Callable) -> CheckResult:
    """Check lesson 07's ``coral(source_features, target_features)``, the Deep CORAL loss
    ‖C_S − C_T‖²_F / (4d²) with unbiased (n − 1) covariances, against
    :func:`mtlviz.transfer.domain.coral_loss` on random features of different sizes. Common slips are named.
    """
    from .transfer.domain import coral_loss

    if not callable(student_fn):
        return CheckResult(False, f"pass your function itself (got a {type(student_fn).__name__})")
    generator = torch.Generator().manual_seed(707)

    def covariance(features, divisor):
        centred = features - features.mean(0)
        return centred.T @ centred / divisor

    for n_source, n_target, d in [(30, 50, 3), (12, 9, 5), (40, 40, 2)]:
        source = torch.randn(n_source, d, generator=generator, dtype=torch.float64) * 1.5 + 0.7
        target = torch.randn(n_target, d, generator=generator, dtype=torch.float64) * 0.6 - 0.3
        answer, failure = _call_student(student_fn, source.clone(), target.clone())
        if failure is not None:
            return failure
        try:
            value = float(answer)
        except (TypeError, ValueError, RuntimeError):
            return CheckResult(False, f"return one number, a scalar tensor (got {type(answer).__name__})")
        expected = float(coral_loss(source, target))
        if abs(value - expected) <= 1e-6 * max(1.0, abs(expected)):
            continue
        difference = covariance(source, n_source - 1) - covariance(target, n_target - 1)
        slips = {
            "divide by 4d², not 4d (d = number of features)": (difference ** 2).sum() / (4 * d),
            "the loss is the *squared* Frobenius norm: sum the squared differences, no square root":
                (difference ** 2).sum().sqrt() / (4 * d * d),
            "the 1/(4d²) factor is missing": (difference ** 2).sum(),
            "use the unbiased covariance (divide by n − 1, not n)":
                ((covariance(source, n_source) - covariance(target, n_target)) ** 2).sum() / (4 * d * d),
            "centre the features (subtract each column's mean) before the covariance":
                ((source.T @ source / (n_source - 1) - target.T @ target / (n_target - 1)) ** 2).sum() / (4 * d * d),
        }
        for hint, wrong in slips.items():
            if abs(value - float(wrong)) <= 1e-6 * max(1.0, abs(float(wrong))):
                return CheckResult(False, hint)
        return CheckResult(False, f"not yet: for {n_source} source and {n_target} target points with d = {d} "
                                  f"the loss is {expected:.4f}, yours {value:.4f}; compute ‖C_S − C_T‖²_F / (4d²)")
    return CheckResult(True, "correct: your CORAL loss matches mtlviz.transfer.domain.coral_loss "
                             "(it is 0 exactly when the two domains' feature covariances agree)")
