"""What a meta-step costs (mtlviz.meta.cost, lesson 12): the memory claims are checked on the exact,
deterministic count of bytes autograd's graph holds; the meta-steps measured are checked against
the estimators' own paths and an independent plain-autograd ANIL, so the lesson times the real
algorithms. Wall times are never asserted."""
from __future__ import annotations

import matplotlib
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from mtlviz import functional as Fn
from mtlviz.data.glyphs import EpisodeBatch
from mtlviz.meta import cost
from mtlviz.meta.metalstm import MetaLSTM
from mtlviz.meta.protonet import PrototypicalNetwork
from mtlviz.nets import cross_entropy

matplotlib.use("agg")
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def sinusoid():
    return cost.cost_problem("sinusoid")


@pytest.fixture(scope="module")
def glyphs():
    return cost.cost_problem("glyphs", meta_batch_size=2)


def _increments(values):
    return [b - a for a, b in zip(values, values[1:])]


@pytest.mark.parametrize("net", ["sinusoid", "glyphs"])
def test_second_order_memory_grows_linearly_with_inner_steps_and_first_order_does_not(net, sinusoid, glyphs):
    """If this fails, lesson 12's central claim is false for our code: second-order MAML keeps the
    graph of every inner step for the backward pass (the same number of bytes per extra step),
    first-order MAML keeps none of them (the same bytes at any k), Reptile keeps at most one step's
    graph, and ANIL keeps only the head's steps (far less per step than MAML)."""
    problem = sinusoid if net == "sinusoid" else glyphs
    steps = (1, 2, 3, 4)
    held = {m: [cost.graph_bytes(m, problem, k) for k in steps] for m in ("maml", "fomaml", "reptile", "anil")}
    maml_growth = _increments(held["maml"])
    assert maml_growth[0] > 0 and len(set(maml_growth)) == 1, held["maml"]
    assert len(set(held["fomaml"])) == 1, held["fomaml"]
    assert len(set(held["reptile"][1:])) == 1, held["reptile"]
    anil_growth = _increments(held["anil"])
    assert all(0 < g < maml_growth[0] / 10 for g in anil_growth), (held["anil"], maml_growth)
    assert held["maml"][0] > held["fomaml"][0]  # even at k = 1 the second-order graph is larger


def test_metalstm_memory_grows_with_its_updates_and_protonet_has_no_inner_loop(glyphs):
    """If this fails, lesson 12's reading of the two new glyph rows is false: Meta-LSTM drops the
    learner's second derivatives but still keeps, for every learner update, the coordinate-wise
    meta-learner's graph (the same bytes per update, more than MAML's per step on this ConvNet), and
    ProtoNet's step does not depend on k at all (no inner loop: one value, drawn flat)."""
    steps = (1, 2, 3)
    meta_lstm = [cost.graph_bytes("metalstm", glyphs, k) for k in steps]
    growth = _increments(meta_lstm)
    # linear to 0.1%: the first update reads the zero initial state (one shared storage), later ones their own
    assert growth[0] > 0 and abs(growth[1] - growth[0]) < 1e-3 * growth[0], meta_lstm
    maml = [cost.graph_bytes("maml", glyphs, k) for k in (1, 2)]
    assert growth[0] > maml[1] - maml[0], (growth, maml)
    assert len({cost.graph_bytes("protonet", glyphs, k) for k in (1, 5)}) == 1


def _one_training_step(estimator, batch):
    """Run ``estimator``'s own trainer for one step on ``batch`` and return, read just before its
    optimiser steps, (the gradients it applies, the gradient cost.meta_step's objective gives for the
    same parameters then, clipped as the trainer clips)."""
    class SameEpisodes:  # a task family that always draws this meta-batch
        image_size = 20

        def sample_episodes(self, n_tasks, n_way, k_shot, n_query, random_state=None):
            return EpisodeBatch(*batch, classes=torch.zeros(len(batch[0]), n_way, dtype=torch.long))

    seen = {}

    def before_step(optimizer, args, kwargs):
        if isinstance(estimator, MetaLSTM):
            named = dict(estimator.meta_.named_parameters())
            expected = cost._gradient(cost.metalstm_loss(estimator, batch, estimator.n_inner_steps), named)
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in expected.values()]))
            expected = {n: g * min(1.0, estimator.grad_clip / (float(norm) + 1e-6)) for n, g in expected.items()}
        else:
            named = estimator.params_
            expected = cost._gradient(estimator.episode_loss(SameEpisodes().sample_episodes(0, 5, 0, 0)), named)
        seen.update(applied={n: p.grad.clone() for n, p in named.items()}, expected=expected)

    handle = register_optimizer_step_pre_hook(before_step)
    try:
        estimator.fit(SameEpisodes())
    finally:
        handle.remove()
    return seen["applied"], seen["expected"]


def test_metalstm_row_measures_the_trainers_own_step(glyphs):
    """If this fails, lesson 12's Meta-LSTM row times something other than what
    train_glyphs --meta-lstm trains with: the gradient the MetaLSTM trainer applies on a meta-batch
    (k learner updates, query loss, clip 0.25) must be the one of cost.metalstm_loss."""
    estimator = MetaLSTM(k_shot=1, image_size=20, n_inner_steps=2, meta_batch_size=2, n_outer_steps=1, random_state=0)
    applied, expected = _one_training_step(estimator, glyphs.batch)
    assert set(applied) == set(expected)
    for name in applied:
        torch.testing.assert_close(applied[name], expected[name], rtol=1e-4, atol=1e-7)
    # and the measured problem starts Meta-LSTM's learner at θ, the ConvNet the other rows use
    c0 = glyphs.classifiers["metalstm"].initial_params_
    for name, value in glyphs.params.items():
        torch.testing.assert_close(c0[name], value.detach())


def test_protonet_row_is_the_prototypical_loss(glyphs):
    """If this fails, what lesson 12 calls ProtoNet's step is not Snell et al.'s objective (or not the
    trainer's): its gradient must match a hand-written prototypical loss (class means of the
    embedded support images, softmax over minus squared distances, query cross-entropy, mean over
    episodes), and the trainer must apply the gradient of the same episode_loss."""
    params = {n: p for n, p in glyphs.params.items() if not n.startswith("head")}
    losses = []
    for xs, ys, xq, yq in zip(*glyphs.batch):
        support, query = glyphs.model.features(params, xs), glyphs.model.features(params, xq)
        centres = torch.stack([support[ys == c].mean(0) for c in range(5)])
        distances = ((query[:, None, :] - centres[None]) ** 2).sum(-1)
        losses.append(torch.nn.functional.cross_entropy(-distances, yq))
    reference = dict(zip(params, torch.autograd.grad(torch.stack(losses).mean(), list(params.values()))))
    measured = cost.meta_step("protonet", glyphs, 1)
    assert set(measured) == set(reference)
    for name in reference:
        torch.testing.assert_close(measured[name], reference[name], rtol=1e-4, atol=1e-6)
    estimator = PrototypicalNetwork(n_way=5, k_shot=1, n_query=5, meta_batch_size=2, n_outer_steps=1, random_state=0)
    applied, expected = _one_training_step(estimator, glyphs.batch)
    for name in applied:
        torch.testing.assert_close(applied[name], expected[name], rtol=1e-5, atol=1e-8)


def test_graph_bytes_are_the_same_on_every_run(sinusoid):
    """If this fails, the shipped memory numbers could not be checked (or be trusted) run to run."""
    assert cost.graph_bytes("maml", sinusoid, 3) == cost.graph_bytes("maml", sinusoid, 3)


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_the_glyph_loop_computes_the_estimators_meta_gradient(method, glyphs):
    """The glyph ConvNet is measured on a plain loop over its episodes; if this fails, that loop is
    not the meta-gradient MAMLClassifier trains with (functional.meta_gradient, vmap over tasks).
    The two sum in another order: on an AVX-512 CPU entries near zero differ by up to 1.6e-6
    (2026-12-04), hence an absolute tolerance of 1e-5 beside the relative one."""
    measured = cost.meta_step(method, glyphs, 2)
    reference = Fn.meta_gradient(glyphs.model, glyphs.params, *glyphs.batch, inner_lr=glyphs.inner_lr,
                                 n_inner_steps=2, first_order=method == "fomaml", loss_fn=cross_entropy)
    for name in reference:
        torch.testing.assert_close(measured[name], reference[name], rtol=1e-4, atol=1e-5)


def test_the_glyph_reptile_loop_is_reptiles_direction(glyphs):
    xs, ys, xq, yq = glyphs.batch
    measured = cost.meta_step("reptile", glyphs, 2)
    reference = Fn.reptile_direction(glyphs.model, glyphs.params, torch.cat([xs, xq], 1), torch.cat([ys, yq], 1),
                                     inner_lr=glyphs.inner_lr, n_inner_steps=2, loss_fn=cross_entropy)
    for name in reference:
        torch.testing.assert_close(measured[name], reference[name], rtol=1e-4, atol=1e-6)


def test_sinusoid_maml_and_reptile_are_the_estimators_functions(sinusoid):
    xs, ys, xq, yq = sinusoid.batch
    measured = cost.meta_step("maml", sinusoid, 2)
    reference = Fn.meta_gradient(sinusoid.model, sinusoid.params, *sinusoid.batch, inner_lr=0.01, n_inner_steps=2)
    for name in reference:
        torch.testing.assert_close(measured[name], reference[name], rtol=1e-4, atol=1e-7)


def _plain_anil(problem, n_steps):
    """ANIL written out with torch.autograd, one task at a time: the head's weights take n steps
    of gradient descent on the support loss (graph kept), the query loss is averaged over tasks,
    and its gradient reaches every parameter."""
    params, alpha, loss_fn = problem.params, problem.inner_lr, problem.loss_fn
    losses = []
    for xs, ys, xq, yq in zip(*problem.batch):
        if problem.net == "sinusoid":
            def features(x):
                h = torch.relu(x @ params["0.weight"].T + params["0.bias"])
                return torch.relu(h @ params["2.weight"].T + params["2.bias"])
            weight, bias = params["4.weight"], params["4.bias"]
        else:
            def features(x):
                return problem.model.features(params, x)
            weight, bias = params["head.weight"], params["head.bias"]
        support, query = features(xs), features(xq)
        for _ in range(n_steps):
            g_weight, g_bias = torch.autograd.grad(loss_fn(support @ weight.T + bias, ys), (weight, bias),
                                                   create_graph=True)
            weight, bias = weight - alpha * g_weight, bias - alpha * g_bias
        losses.append(loss_fn(query @ weight.T + bias, yq))
    loss = torch.stack(losses).mean()
    return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))


@pytest.mark.parametrize("net", ["sinusoid", "glyphs"])
def test_anil_step_is_anil(net, sinusoid, glyphs):
    """If this fails, what lesson 12 calls ANIL is not Raghu et al.'s training step (head-only
    inner loop, second order through the head, outer gradient to every layer)."""
    problem = sinusoid if net == "sinusoid" else glyphs
    measured, reference = cost.meta_step("anil", problem, 3), _plain_anil(problem, 3)
    for name in reference:
        torch.testing.assert_close(measured[name], reference[name], rtol=1e-4, atol=1e-6)
    assert all(float(g.abs().sum()) > 0 for g in measured.values())  # the body learns too


def test_measure_returns_every_method_and_the_baseline(sinusoid):
    result = cost.measure("sinusoid", steps=(1, 2), repeats=1)
    assert set(result["rows"]) == set(cost.NET_METHODS["sinusoid"]) and result["no_inner_loop"] == {}
    assert result["rows"]["maml"]["graph_bytes"] == [cost.graph_bytes("maml", sinusoid, k) for k in (1, 2)]
    assert result["plain"]["graph_bytes"] == cost.graph_bytes("plain", sinusoid, 1)
    table = cost.cost_table(result, "graph_bytes")
    assert "MAML (second order)" in table and "plain forward + backward" in table


def test_glyph_measure_has_metalstm_against_k_and_protonet_once():
    """Lesson 12's glyph rows: Meta-LSTM at every k, ProtoNet measured once (one line in the
    tables, the same value in every column), both in the tables the lesson prints."""
    result = cost.measure("glyphs", steps=(1, 2), repeats=1, meta_batch_size=1)
    assert set(result["rows"]) == {"maml", "fomaml", "reptile", "anil", "metalstm"}
    assert set(result["no_inner_loop"]) == {"protonet"} and "steps" not in result["no_inner_loop"]["protonet"]
    assert result["rows"]["metalstm"]["steps"] == [1, 2]
    table = cost.cost_table(result, "graph_bytes")
    protonet = next(line for line in table.splitlines() if line.startswith("| ProtoNet"))
    value = f"{result['no_inner_loop']['protonet']['graph_bytes'] / 1e6:.2f}"
    assert "measured once" in protonet and protonet.count(value) == 2, protonet
    assert "| Meta-LSTM" in table


def test_peak_rss_runs_a_fresh_process(sinusoid):
    """The real-memory column comes from a child process; if it fails the benchmark cannot run."""
    child = cost.peak_rss("fomaml", sinusoid, 1, repeats=1)
    assert child["baseline_rss_bytes"] > 0 and child["peak_rss_bytes"] >= 0 and child["time_s"] > 0


@pytest.mark.parametrize("call, match", [
    (lambda p: cost.meta_step("imaml", p, 1), "method must be one of"),
    (lambda p: cost.meta_step("maml", p, 0), r"n_inner_steps must be in \[1, 50\]"),
    (lambda p: cost.graph_bytes("maml", p, 51), r"n_inner_steps must be in \[1, 50\]"),
    (lambda p: cost.cost_problem("cifar"), "net must be one of"),
    (lambda p: cost.measure("sinusoid", steps=(0,)), r"steps must be in \[1, 50\]"),
    (lambda p: cost.measure("sinusoid", methods=("sgd",)), "methods must be one of"),
    (lambda p: cost.measure("sinusoid", methods=("protonet",)), "methods must be one of"),
    (lambda p: cost.meta_step("metalstm", p, 1), "method must be one of"),  # the sinusoid has no episodes
])
def test_bad_input_names_the_parameter(call, match, sinusoid):
    with pytest.raises(ValueError, match=match):
        call(sinusoid)


def test_shipped_graph_memory_is_recomputed_exactly():
    """If this fails, lesson 12's memory curves are stale: the shipped figure's bytes no longer
    match what the code holds (regenerate with python -m mtlviz.pretrained.figures meta_cost)."""
    from mtlviz.pretrained.figures import load_figure

    shipped = load_figure("meta_cost")
    problem = cost.cost_problem("sinusoid")
    figure = shipped["sinusoid"]
    assert figure["plain"]["graph_bytes"] == cost.graph_bytes("plain", problem, 1)
    for method, row in figure["rows"].items():
        assert row["graph_bytes"] == [cost.graph_bytes(method, problem, k) for k in row["steps"]], method
    problem = cost.cost_problem("glyphs")  # the glyph net: its two first steps of both MAMLs, and the baseline
    figure = shipped["glyphs"]
    assert figure["plain"]["graph_bytes"] == cost.graph_bytes("plain", problem, 1)
    for method in ("maml", "fomaml", "metalstm"):
        row = figure["rows"][method]
        assert row["graph_bytes"][:2] == [cost.graph_bytes(method, problem, k) for k in row["steps"][:2]], method
    assert figure["no_inner_loop"]["protonet"]["graph_bytes"] == cost.graph_bytes("protonet", problem, 1)
    for result in shipped.values():  # the load the times were measured at, before and after
        assert result["load_average_before"] >= 0 and result["load_average"] >= 0


def test_dashboard_draws_the_shipped_run_and_measures_here():
    """Lesson 12's dashboard: at open it draws the shipped measurement (nothing measured), the
    network toggle redraws, a network it does not offer is one status line, and the button
    measures the sinusoid here, draws it dashed and reports the graph memory equal to the shipped."""
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.widgets.cost_dashboard import CostDashboard

    figure = load_figure("meta_cost")
    board = CostDashboard(figure)
    live = board._artists["memory"][("maml", "live")]
    assert board.status.startswith("shipped run") and len(live.get_xdata()) == 0
    shipped_sinusoid = board._artists["memory"][("maml", "shipped")].get_ydata().copy()
    board.net = "glyphs"
    assert board.status.startswith("shipped run")
    assert list(board._artists["memory"][("maml", "shipped")].get_ydata()) != list(shipped_sinusoid)
    board.net = "cifar"
    assert board.status_kind == "error" and "net must be one of" in board.status and board.net == "glyphs"
    board.net = "sinusoid"
    board._on_measure_click(None)
    assert board.status.startswith("measured here in") and "identical to the shipped run" in board.status, board.status
    assert len(live.get_xdata()) == len(figure["sinusoid"]["rows"]["maml"]["steps"])
    with pytest.raises(ValueError, match="figure must hold"):
        CostDashboard({"sinusoid": figure["sinusoid"]})


def test_dashboard_shows_metalstm_and_protonet_on_glyphs_only_and_measures_them():
    """If this fails, lesson 12's glyph view misses the two new rows (or the sinusoid view lists
    methods it has no line for in its legend), ProtoNet is not drawn flat at its one value, the
    log-scale box does not switch the axes, or the button's glyph measurement leaves them out."""
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.widgets.cost_dashboard import LIVE_SETTINGS, CostDashboard

    figure = load_figure("meta_cost")
    board = CostDashboard(figure)
    memory = board._artists["memory"]
    legend = lambda: [t.get_text() for t in board.figure.axes[1].get_legend().get_texts()]  # noqa: E731
    assert not memory[("metalstm", "shipped")].get_visible() and cost.LABELS["protonet"] not in legend()
    board.net = "glyphs"
    assert memory[("metalstm", "shipped")].get_visible() and cost.LABELS["metalstm"] in legend()
    protonet = memory[("protonet", "shipped")]
    assert protonet.get_visible() and cost.LABELS["protonet"] in legend()
    expected = figure["glyphs"]["no_inner_loop"]["protonet"]["graph_bytes"] / 1e6
    assert list(protonet.get_ydata()) == [expected, expected]
    board.log_scale = True
    assert [ax.get_yscale() for ax in board.figure.axes] == ["log", "log"]
    board._on_measure_click(None)
    assert board.status.startswith("measured here in"), board.status
    assert len(memory[("metalstm", "live")].get_xdata()) == len(LIVE_SETTINGS["glyphs"]["steps"])
    assert memory[("protonet", "live")].get_visible() and board._live["glyphs"]["no_inner_loop"]["protonet"]["time_ms"] > 0
    board.log_scale = False
    assert board.figure.axes[0].get_ylim()[0] == 0 and board.status.startswith("measured here in")


def test_graph_growth_exercise_accepts_the_linear_law_and_names_the_slips():
    """Lesson 12's exercise: if this fails, a student with the right formula is told it is wrong, or
    a student with a common slip gets no hint."""
    from mtlviz.exercises import check_graph_growth

    assert check_graph_growth(lambda b1, b2, k: b1 + (k - 1) * (b2 - b1)).passed
    proportional = check_graph_growth(lambda b1, b2, k: k * b1)
    assert not proportional.passed and "fixed part" in proportional.message
    off_by_one = check_graph_growth(lambda b1, b2, k: b1 + k * (b2 - b1))
    assert not off_by_one.passed and "k − 1" in off_by_one.message
    assert "return" in check_graph_growth(lambda b1, b2, k: None).message
    assert "number of bytes" in check_graph_growth(lambda b1, b2, k: "many").message


def test_a_measurement_taller_than_the_shipped_run_is_not_cut_off():
    """If this fails, a slower machine's dashed curve runs off the top of the time panel (seen in the
    Voila screenshot before update_meta_cost re-enabled autoscaling)."""
    import copy

    from matplotlib.figure import Figure

    from mtlviz import plotting
    from mtlviz.pretrained.figures import load_figure

    shipped = load_figure("meta_cost")["sinusoid"]
    slow = copy.deepcopy(shipped)
    for row in slow["rows"].values():
        row["time_ms"] = [10 * t for t in row["time_ms"]]
    time_ax, memory_ax = Figure().subplots(1, 2)
    artists = plotting.plot_meta_cost(time_ax, memory_ax, cost.LABELS)
    plotting.update_meta_cost(artists, shipped)
    plotting.update_meta_cost(artists, shipped, slow)
    assert time_ax.get_ylim()[1] >= max(max(row["time_ms"]) for row in slow["rows"].values())
    assert time_ax.get_ylim()[0] == 0
