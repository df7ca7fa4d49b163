"""Peer oracles: mtlviz's functional MAML checked against references written without mtlviz.

After the model of two peers' correctness tests (their ideas, not their code):

- PyTorch's ``test/functorch/test_eager_transforms.py``, ``TestExamplesCorrectness.test_maml_regression``:
  MAML on sinusoids written twice, once functionally with ``torch.func`` and once as a plain
  autograd loop, the two trained side by side and required to agree;
- higher's ``tests/test_higher.py``, ``TestCorrectness``: a hand-written conv net with batch norm
  on the batch's own statistics, meta-gradients through 10 inner steps against a reference.

Here the reference is a ``torch.nn`` network (``Conv2d``, ``BatchNorm2d(track_running_stats=False)``,
``ReLU``, ``MaxPool2d``, ``Linear``) run with the adapted weights by ``torch.func.functional_call``
and adapted by a per-task ``torch.autograd.grad(..., create_graph=True)`` loop: no code of
:mod:`mtlviz.functional`, :mod:`mtlviz.nets` or :mod:`mtlviz.reference` is on its path. Everything
runs in float64, so the two sides agree to rounding (about 1e-13 relative here); the tolerances
(1e-9 relative) leave room for summation order, not for a wrong term. No finite differences:
through ReLU and max-pool kinks with 10 inner steps they are meaningless (FIELD-NOTES).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from mtlviz import functional as Fn
from mtlviz.data.tasks import SinusoidTasks
from mtlviz.nets import MLP, ConvNet, cross_entropy

pytestmark = pytest.mark.usefixtures("torch_one_thread")

F64 = torch.float64
RTOL, ATOL = 1e-9, 1e-12
N_INNER_STEPS = 10  # as in higher's TestCorrectness
INNER_LR = 0.1
N_TASKS, N_WAY, K_SHOT, N_QUERY, IMAGE_SIZE, CHANNELS, N_BLOCKS = 2, 3, 2, 3, 8, 4, 4


# -- The reference: torch.nn layers and a create_graph loop ------------------------------------------

def reference_net(convnet: ConvNet) -> nn.Sequential:
    """MAML's conv learner built from torch.nn layers, with ``convnet``'s weights copied in.

    conv 3×3 → BatchNorm2d on the batch's statistics → ReLU → 2×2 max-pool while the side is at
    least 2 (here 8 → 4 → 2 → 1, so the fourth block does not pool), then a linear head.
    """
    layers, side = [], IMAGE_SIZE
    for block in range(N_BLOCKS):
        layers += [nn.Conv2d(1 if block == 0 else CHANNELS, CHANNELS, 3, padding=1),
                   nn.BatchNorm2d(CHANNELS, eps=1e-5, track_running_stats=False), nn.ReLU()]
        if side >= 2:
            layers.append(nn.MaxPool2d(2))
            side //= 2
    layers += [nn.Flatten(), nn.Linear(CHANNELS * side * side, N_WAY)]
    net = nn.Sequential(*layers).double()
    ours = dict(convnet.named_parameters())
    with torch.no_grad():
        for name, value in zip(reference_names(net), translated(ours).values()):
            dict(net.named_parameters())[name].copy_(value)
    return net


def translated(params: dict) -> dict:
    """mtlviz's parameter names in the order of :func:`reference_names`, values unchanged."""
    order = []
    for block in range(N_BLOCKS):
        order += [f"convs.{block}.weight", f"convs.{block}.bias", f"norm_weight.{block}", f"norm_bias.{block}"]
    order += ["head.weight", "head.bias"]
    return {name: params[name] for name in order}


def reference_names(net: nn.Sequential) -> list:
    return [name for name, _ in net.named_parameters()]


def reference_adapt(net, theta: list, x, y, *, first_order: bool) -> list:
    """θ' after ``N_INNER_STEPS`` steps θ ← θ − α∇θ CE(net_θ(x), y): second order keeps the graph
    of each gradient (``create_graph=True``); first order treats each gradient as a constant."""
    names = reference_names(net)
    for _ in range(N_INNER_STEPS):
        loss = F.cross_entropy(functional_call(net, dict(zip(names, theta)), (x,)), y)
        grads = torch.autograd.grad(loss, theta, create_graph=not first_order)
        theta = [p - INNER_LR * (g.detach() if first_order else g) for p, g in zip(theta, grads)]
    return theta


def reference_meta(net, batch, *, first_order: bool):
    """(1/N) Σᵢ CE on task i's query set at θ'ᵢ, and its gradient with respect to θ, one task at a time."""
    theta = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    names = reference_names(net)
    losses = []
    for xs, ys, xq, yq in zip(*batch):
        adapted = reference_adapt(net, theta, xs, ys, first_order=first_order)
        losses.append(F.cross_entropy(functional_call(net, dict(zip(names, adapted)), (xq,)), yq))
    loss = torch.stack(losses).mean()
    return loss.detach(), torch.autograd.grad(loss, theta)


# -- The problem: a float64 ConvNet and a meta-batch of image episodes ---------------------------

def conv_problem(seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        convnet = ConvNet(N_WAY, CHANNELS, IMAGE_SIZE, N_BLOCKS).double()
    with torch.no_grad():  # batch-norm scales and shifts away from 1 and 0, so that a swapped pair shows
        for block in range(N_BLOCKS):
            convnet.norm_weight[block].uniform_(0.5, 1.5, generator=generator)
            convnet.norm_bias[block].uniform_(-0.3, 0.3, generator=generator)

    def images(n):
        return torch.randn(N_TASKS, n * N_WAY, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator, dtype=F64)

    def labels(n):
        return torch.arange(N_WAY).repeat_interleave(n).expand(N_TASKS, -1).contiguous()

    batch = (images(K_SHOT), labels(K_SHOT), images(N_QUERY), labels(N_QUERY))
    return convnet, reference_net(convnet), batch


def assert_same(ours: dict, reference, what: str):
    for (name, value), expected in zip(translated(ours).items(), reference):
        torch.testing.assert_close(value, expected, rtol=RTOL, atol=ATOL, msg=lambda m: f"{what}, {name}: {m}")


# -- Batch norm and the forward pass ---------------------------------------------------------------

def test_convnet_batch_norm_is_torch_batch_norm_on_batch_statistics():
    """If this fails, lesson 06's and the glyph lessons' conv learner normalises each image batch
    differently from the batch norm MAML's paper uses (wrong mean, biased/unbiased variance, eps,
    or scale and shift swapped): every accuracy a student reads off those dashboards is then for
    another network. Values, gradients and second derivatives, in float64."""
    from mtlviz.nets import _batch_norm

    generator = torch.Generator().manual_seed(3)
    x = torch.randn(6, 4, 5, 5, generator=generator, dtype=F64, requires_grad=True)
    weight = (torch.rand(4, generator=generator, dtype=F64) + 0.5).requires_grad_(True)
    bias = torch.randn(4, generator=generator, dtype=F64).requires_grad_(True)
    ours = _batch_norm(x, weight, bias)
    theirs = F.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5)
    torch.testing.assert_close(ours, theirs, rtol=RTOL, atol=ATOL)
    probe = torch.randn(ours.shape, generator=generator, dtype=F64)
    first = [torch.autograd.grad((out * probe).sum(), (x, weight, bias), create_graph=True) for out in (ours, theirs)]
    for a, b in zip(*first):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    # second order, as MAML's meta-gradient needs: d/dx of <∂out/∂weight, probe>
    second = [torch.autograd.grad((g[1] ** 2).sum(), x) for g in first]
    torch.testing.assert_close(second[0][0], second[1][0], rtol=RTOL, atol=ATOL)


def test_convnet_forward_is_the_torch_nn_reference():
    """If this fails, mtlviz's ConvNet is not the network the lessons draw (conv, batch norm,
    ReLU, pooling, head): its logits differ from the same weights in torch.nn layers."""
    convnet, net, batch = conv_problem()
    x = batch[0][0]
    torch.testing.assert_close(convnet(x), net(x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(Fn.forward(convnet, Fn.get_params(convnet), x), net(x), rtol=RTOL, atol=ATOL)


# -- Adaptation and meta-gradients over 10 inner steps -----------------------------------------------

@pytest.mark.parametrize("first_order", [False, True], ids=["second_order", "first_order"])
def test_adapt_matches_a_create_graph_loop_over_10_steps(first_order):
    """If this fails, the adapted weights θ' a student sees after 'adapt' (lesson 03's inner loop,
    the few-shot dashboards' K steps) are not 10 plain gradient steps on the support set."""
    convnet, net, batch = conv_problem()
    theta = Fn.get_params(convnet)
    ours = Fn.adapt(convnet, theta, batch[0][0], batch[1][0], inner_lr=INNER_LR, n_inner_steps=N_INNER_STEPS,
                    first_order=first_order, loss_fn=cross_entropy)
    reference = reference_adapt(net, [p.detach().clone().requires_grad_(True) for p in net.parameters()],
                                batch[0][0], batch[1][0],
                                first_order=True)  # values only: first and second order take the same steps
    assert_same(ours, [p.detach() for p in reference], "adapted θ'")


@pytest.mark.parametrize("first_order", [False, True], ids=["second_order", "first_order"])
def test_meta_gradient_matches_the_reference_over_10_inner_steps(first_order):
    """If this fails, MAML's outer step (lesson 03's formula, lesson 04's corrected code, the
    few-shot learner's training) follows a wrong meta-gradient through 10 inner steps of a conv
    net with batch norm: second order, the Hessian terms of the inner steps are wrong or missing;
    first order, the Hessian terms are not all dropped (or too many are)."""
    convnet, net, batch = conv_problem()
    params = Fn.get_params(convnet, requires_grad=True)
    settings = dict(inner_lr=INNER_LR, n_inner_steps=N_INNER_STEPS, first_order=first_order, loss_fn=cross_entropy)
    value, grads = reference_meta(net, batch, first_order=first_order)

    assert_same(Fn.meta_gradient(convnet, params, *batch, **settings), grads, "meta_gradient")
    loss, ours = Fn.meta_value_and_grad(convnet, params, *batch, **settings)
    torch.testing.assert_close(loss, value, rtol=RTOL, atol=ATOL)
    assert_same(ours, grads, "meta_value_and_grad")


def test_first_and_second_order_differ_here():
    """If this fails, the two meta-gradient tests above cannot tell first from second order on
    this problem (a first-order result would pass as second order), and they prove less than they say."""
    _, net, batch = conv_problem()
    second = reference_meta(net, batch, first_order=False)[1]
    first = reference_meta(net, batch, first_order=True)[1]
    # The conv biases are left out: batch norm subtracts them again, so their meta-gradient is 0
    # (about 1e-16 on both sides here, which the tests' atol covers).
    gap = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(second, first) if float(b.abs().max()) > 1e-8)
    assert gap > 1e-2


# -- MAML regression trained side by side, after functorch's test_maml_regression ------------------

def test_maml_regression_trains_like_a_plain_autograd_loop():
    """If this fails, MAML on sinusoids (lessons 02-04) trained with mtlviz's functional API takes
    different steps from the same algorithm written as a plain loop: after a few outer steps
    the two networks' weights part, so the curves a student trains are not MAML's."""
    tasks = SinusoidTasks()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mlp = MLP((1, 40, 40, 1)).double()
    plain = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)).double()
    with torch.no_grad():
        for p, q in zip(plain.parameters(), mlp.parameters()):
            p.copy_(q)
    params = Fn.get_params(mlp, requires_grad=True)
    names = [name for name, _ in plain.named_parameters()]
    outer_lr, inner_lr, n_inner_steps = 0.01, 0.01, 2
    for step in range(4):
        batch = tasks.sample_batch(5, 10, 10, random_state=step, dtype=F64)
        # functional: mtlviz
        _, grads = Fn.meta_value_and_grad(mlp, params, *batch.data, inner_lr=inner_lr, n_inner_steps=n_inner_steps)
        params = {name: (p - outer_lr * grads[name]).detach().requires_grad_(True) for name, p in params.items()}
        # plain autograd loop
        theta = list(plain.parameters())
        losses = []
        for xs, ys, xq, yq in zip(*batch.data):
            adapted = theta
            for _ in range(n_inner_steps):
                inner = F.mse_loss(functional_call(plain, dict(zip(names, adapted)), (xs,)), ys)
                adapted = [p - inner_lr * g for p, g in
                           zip(adapted, torch.autograd.grad(inner, adapted, create_graph=True))]
            losses.append(F.mse_loss(functional_call(plain, dict(zip(names, adapted)), (xq,)), yq))
        plain_grads = torch.autograd.grad(torch.stack(losses).mean(), theta)
        with torch.no_grad():
            for p, g in zip(theta, plain_grads):
                p -= outer_lr * g
    for (name, ours), theirs in zip(params.items(), plain.parameters()):
        torch.testing.assert_close(ours, theirs.detach(), rtol=RTOL, atol=ATOL, msg=lambda m: f"{name}: {m}")
