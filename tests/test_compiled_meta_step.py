"""What makes MAML(compile=True)'s meta-step fast (issue 12), beyond its values being right.

tests/test_estimators.py checks that the compiled meta-gradient is one graph and equals the plain
loop's; these check the structure the speed-up of RESULTS.md's "MAML speed" table rests on.
"""
from __future__ import annotations

import warnings

import pytest
import torch
from torch._dynamo.backends.common import aot_autograd

from mtlviz import MLP, SinusoidTasks, sinusoid_mlp
from mtlviz import functional as Fn

MATMUL_OPS = ("aten.bmm", "aten.baddbmm", "aten.mm", "aten.addmm")


def batched_params(model, n_tasks, seed):
    """One random copy of every parameter per task: weights (N, out, in), biases (N, out)."""
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(n_tasks, *p.shape, generator=generator) for name, p in model.named_parameters()}


@pytest.mark.parametrize("sizes", [(1, 40, 40, 1), (3, 1, 2), (2, 5, 4), (1, 1)])
def test_thin_layer_forward_equals_the_models_own(sizes):
    """If this fails, the compiled meta-gradient runs a different network from the one the
    lessons and the eager path run (its width-1 layers are rewritten as broadcast products)."""
    model = MLP(sizes)
    assert Fn._ThinLayerForward.applies_to(model)
    params = batched_params(model, 3, seed=sum(sizes))
    x = torch.randn(3, 7, sizes[0], generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(Fn._ThinLayerForward(model).functional_forward(params, x),
                               model.functional_forward(params, x), rtol=1e-5, atol=1e-6)


def test_thin_layer_forward_leaves_other_models_alone():
    """If this fails, a model that is not a plain Linear/ReLU stack (extra layers, another
    activation) would be run through a forward that ignores what it adds."""
    other = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    other.batches_tasks = True
    assert not Fn._ThinLayerForward.applies_to(other)
    assert not Fn._ThinLayerForward.applies_to(torch.nn.Linear(1, 1))  # not batching tasks


def count_matmuls(n_inner_steps, first_order):
    """Matrix products (calls into the BLAS library) in the ATen graph Inductor would compile."""
    counts = []

    def forward_compiler(graph_module, example_inputs):
        targets = [str(node.target) for node in graph_module.graph.nodes if node.op == "call_function"]
        counts.append(sum(target.startswith(MATMUL_OPS) for target in targets))
        return graph_module.forward

    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Fn.CompileWarning)  # a graph break or failed trace fails the test
        compiled = Fn.compile_meta_value_and_grad(backend=aot_autograd(fw_compiler=forward_compiler))
        compiled(model, params, *batch.data, inner_lr=0.01, n_inner_steps=n_inner_steps, first_order=first_order)
    assert len(counts) == 1, f"expected one graph, got {len(counts)}"
    return counts[0]


def test_compiled_meta_step_multiplies_matrices_only_for_the_hidden_layer():
    """If this fails, the compiled second-order meta-step of the sinusoid network hands more
    matrix products to the BLAS library than the 12 that its 40 x 40 layer needs (forward and
    backward on the support set, the query forward and backward, and the backward of the inner
    step). Each extra one is an opaque call of tens of µs at these sizes that Inductor cannot
    fuse, and the compiled step loses the margin that takes it past 35x the plain loop
    (benchmarks/maml_speed.py: 16 calls before the width-1 layers became broadcast products)."""
    assert count_matmuls(n_inner_steps=1, first_order=False) <= 12


@pytest.mark.parametrize("order", [(False, True), (True, False)], ids=["fast-first", "shipped-first"])
def test_compiled_meta_step_is_vectorised_cpp_and_the_shipped_files_code_is_theirs(order):
    """If this fails, either MAML(compile=True)'s meta-gradient runs Inductor's scalar C++ loops
    called one by one from Python (0.43 ms per second-order one-step meta-gradient instead of
    0.30-0.32 ms on a quiet machine, 2026-12-04: 33x the plain loop instead of RESULTS.md's 46x),
    or one compiled within shipped_files_code() no longer runs the code sinusoid_fomaml.pt and
    task_pool.pt were trained through (scalar loops called from Python: a regeneration then gives
    other bits, and FOMAML's fragile one-step recipe lands elsewhere from seed 0), or the two
    codes disagree beyond rounding. Both orders: torch caches which vector instruction sets it may
    use, and a compilation of one kind must not decide the other's (SHIPPED_FILES_OPTIONS)."""
    from torch._inductor.utils import run_and_get_code

    model = sinusoid_mlp(0)
    params = Fn.get_params(model, requires_grad=True)
    batch = SinusoidTasks().sample_batch(5, 4, 6, random_state=0)
    results = {}
    for shipped in order:
        torch._dynamo.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Fn.CompileWarning)
            if shipped:
                with Fn.shipped_files_code():
                    compiled = Fn.compile_meta_value_and_grad()  # what MAML.fit makes inside the commands
            else:
                compiled = Fn.compile_meta_value_and_grad()
            results[shipped], codes = run_and_get_code(lambda: compiled(model, params, *batch.data, inner_lr=0.01,
                                                                        n_inner_steps=2))
        assert ("at::vec::Vectorized" in codes[0]) is not shipped
        assert ("def call(" in codes[0]) is shipped  # the shipped files' code calls its kernels from Python
    (value, grads), (shipped_value, shipped_grads) = results[False], results[True]
    torch.testing.assert_close(shipped_value, value, rtol=1e-5, atol=1e-7)
    for name in grads:
        torch.testing.assert_close(shipped_grads[name], grads[name], rtol=1e-4, atol=1e-6)
    assert Fn._shipped_files_code["depth"] == 0  # the context ended: MAML(compile=True) is fast again


def test_the_shipped_files_commands_train_inside_shipped_files_code(monkeypatch, tmp_path):
    """If this fails, train_first_order or train_task_pool trains outside shipped_files_code()
    and regenerates its shipped file through other code, with other bits (see the test above)."""
    from mtlviz.meta.maml import MAML
    from mtlviz.meta.reptile import FOMAML
    from mtlviz.pretrained import train_first_order, train_task_pool

    seen = []
    fit_iter, fit = FOMAML.fit_iter, MAML.fit

    def recording_fit_iter(self, tasks):
        seen.append(("FOMAML", Fn._shipped_files_code["depth"]))
        return fit_iter(self, tasks)

    def recording_fit(self, tasks):
        seen.append((type(self).__name__, Fn._shipped_files_code["depth"]))
        return fit(self, tasks)

    monkeypatch.setattr(FOMAML, "fit_iter", recording_fit_iter)
    monkeypatch.setattr(MAML, "fit", recording_fit)
    train_first_order.main(["--only", "fomaml", "--steps", "1", "--no-compile", "--out-dir", str(tmp_path)])
    train_task_pool.train_models(pool_sizes=(1,), maml_steps=1, joint_steps=1, compile=False)
    assert {kind for kind, _ in seen} >= {"FOMAML", "MAML"}
    assert all(depth == 1 for _, depth in seen), seen
