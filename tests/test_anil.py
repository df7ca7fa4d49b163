"""ANIL and the per-layer measurements of MAML's inner loop (mtlviz.meta.anil, lesson 09), checked
against independent references: linear CKA's invariances and a direct formula, head-only
adaptation against the package's full inner loop with the body frozen by hand."""
from __future__ import annotations

import copy

import pytest
import torch

from mtlviz import functional as Fn
from mtlviz.data.glyphs import GlyphTasks
from mtlviz.meta.anil import HeadAdapter, layer_changes, layer_groups, linear_cka
from mtlviz.meta.fewshot import MAMLClassifier
from mtlviz.nets import ConvNet, cross_entropy

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def small():
    """An untrained 5-way glyph MAML on 12-pixel images (a few hundred ms to build and adapt)."""
    maml = MAMLClassifier(image_size=12, channels=4, n_outer_steps=0, random_state=0)
    tasks = GlyphTasks("background", image_size=12)
    maml.fit(tasks)
    episodes = tasks.sample_episodes(3, 5, 1, 3, random_state=5)
    return maml, episodes


def test_linear_cka_is_one_for_a_rotated_scaled_copy_and_matches_the_formula():
    """If this fails, the CKA bars of lesson 09 would call an unchanged representation changed."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=generator, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator, dtype=torch.float64))
    assert linear_cka(x, 3.0 * x @ rotation + 2.0) == pytest.approx(1.0, abs=1e-12)
    y = torch.randn(40, 4, generator=generator, dtype=torch.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    # Kornblith et al. 2019: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels, via Gram matrices
    k, l = xc @ xc.T, yc @ yc.T
    expected = float((k * l).sum() / ((k * k).sum() * (l * l).sum()).sqrt())
    assert linear_cka(x, y) == pytest.approx(expected, rel=1e-10)
    assert 0.0 <= linear_cka(x, y) < 0.5


def test_linear_cka_with_fewer_inputs_than_features_equals_the_feature_space_formula():
    """If this fails, lesson 09's CKA bars for the conv blocks (a few query images, thousands of
    features: the n×n Gram path) would differ from ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(12, 300, generator=generator, dtype=torch.float64)
    y = x[:, :200] @ torch.randn(200, 50, generator=generator, dtype=torch.float64) + torch.randn(12, 50, generator=generator, dtype=torch.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = float((yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm()))
    assert linear_cka(x, y) == pytest.approx(expected, rel=1e-10)
    assert linear_cka(y, x) == pytest.approx(expected, rel=1e-10)
    rotation, _ = torch.linalg.qr(torch.randn(300, 300, generator=generator, dtype=torch.float64))
    assert linear_cka(x, 0.5 * x @ rotation - 1.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("x, y, match", [
    (torch.zeros(5, 2), torch.zeros(4, 2), "same n"),
    (torch.ones(5, 2), torch.randn(5, 2), "constant"),
])
def test_linear_cka_refuses_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        linear_cka(x, y)


def test_head_adapter_equals_the_full_inner_loop_with_a_frozen_body(small):
    """ANIL must adapt exactly the head: the same θ' as the package's inner loop run on the head
    parameters of the full network (body held fixed), and the body left bit-identical."""
    maml, episodes = small
    xs, ys = episodes.x_support[0], episodes.y_support[0]
    anil = HeadAdapter.from_maml(maml, n_inner_steps=3)
    adapted = anil.adapt(xs, ys)
    body = {n: p.detach() for n, p in maml.params_.items() if not n.startswith("head")}

    class Frozen(torch.nn.Module):  # the full network as a function of its head only
        def functional_forward(self, head, x):
            return maml.model_.functional_forward({**body, **head}, x)

    head = {n: maml.params_[n].detach() for n in ("head.weight", "head.bias")}
    reference = Fn.adapt(Frozen(), head, xs, ys, inner_lr=maml.inner_lr, n_inner_steps=3, first_order=True,
                         loss_fn=cross_entropy, check_inputs=False)
    for name in head:
        torch.testing.assert_close(adapted[name], reference[name], rtol=1e-5, atol=1e-6)
    assert all(torch.equal(adapted[n], body[n]) for n in body)


def test_accuracy_curve_agrees_with_adapt_and_predict(small):
    """The batched 600-episode path must score what the one-episode path (the dashboard's) scores."""
    maml, episodes = small
    anil = HeadAdapter.from_maml(maml, n_inner_steps=2)
    curve = anil.accuracy_curve(episodes)
    assert curve.shape == (3, 3)
    for i in range(3):
        adapted = anil.adapt(episodes.x_support[i], episodes.y_support[i])
        predicted = anil.predict(episodes.x_query[i], adapted)
        assert float(curve[i, -1]) == pytest.approx(float((predicted == episodes.y_query[i]).float().mean()))


def test_from_backbone_starts_with_a_zero_head_so_every_class_is_equally_likely(small):
    maml, episodes = small
    adapter = HeadAdapter.from_backbone(maml.model_, maml.params_, inner_lr=0.4, n_inner_steps=0)
    logits = maml.model_.functional_forward(adapter.params, episodes.x_query[0])
    assert torch.equal(logits, torch.zeros_like(logits))


def test_layer_changes_are_zero_without_a_step_and_measure_what_adapt_moved(small):
    """With α = 0 nothing moves (change 0, CKA 1); with a step, the change of each layer is the
    norm ratio of what MAML's own adapt returns."""
    maml, episodes = small
    still = layer_changes(maml.model_, maml.params_, episodes, inner_lr=0.0, n_inner_steps=1)
    assert still.layers == tuple(layer_groups(maml.model_))
    assert (still.relative_change == 0).all()
    assert still.cka == pytest.approx(1.0, abs=1e-9)
    moved = layer_changes(maml.model_, maml.params_, episodes, inner_lr=0.4, n_inner_steps=2)
    adapted = maml.adapt(episodes.x_support[1], episodes.y_support[1], n_inner_steps=2)
    names = layer_groups(maml.model_)["head"]
    expected = (torch.cat([(adapted[n] - maml.params_[n]).detach().flatten() for n in names]).norm()
                / torch.cat([maml.params_[n].detach().flatten() for n in names]).norm())
    assert moved.relative_change[1, -1] == pytest.approx(float(expected), rel=1e-4)
    assert set(moved.means()) == set(moved.layers)


@pytest.mark.parametrize("kwargs, match", [
    (dict(inner_lr=-1.0, n_inner_steps=1), "inner_lr must be in"),
    (dict(inner_lr=0.4, n_inner_steps=0), "n_inner_steps must be in"),
])
def test_layer_changes_refuses_bad_settings(small, kwargs, match):
    maml, episodes = small
    with pytest.raises(ValueError, match=match):
        layer_changes(maml.model_, maml.params_, episodes, **kwargs)


def test_head_adapter_refuses_another_architecture_and_bad_steps(small):
    maml, _ = small
    with pytest.raises(ValueError, match="ConvNet"):
        HeadAdapter(torch.nn.Linear(2, 2), {}, inner_lr=0.1, n_inner_steps=1)
    with pytest.raises(ValueError, match="n_inner_steps must be in"):
        HeadAdapter.from_maml(maml, n_inner_steps=-1)
    assert isinstance(maml.model_, ConvNet)


def _plain_loop_anil_loss(model, params, batch, inner_lr, n_inner_steps):
    """ANIL's meta-loss written out with torch.autograd, one episode at a time (no vmap, no
    torch.func, no LinearHead): the independent reference for anil_meta_loss."""
    losses = []
    for xs, ys, xq, yq in zip(*batch.data):
        weight, bias = params["head.weight"], params["head.bias"]
        support, query = model.features(params, xs), model.features(params, xq)
        for _ in range(n_inner_steps):
            loss = torch.nn.functional.cross_entropy(support @ weight.T + bias, ys)
            g_weight, g_bias = torch.autograd.grad(loss, (weight, bias), create_graph=True)
            weight, bias = weight - inner_lr * g_weight, bias - inner_lr * g_bias  # θ'_head = θ_head − α∇L
        losses.append(torch.nn.functional.cross_entropy(query @ weight.T + bias, yq))
    return torch.stack(losses).mean()


def test_anil_meta_gradient_matches_a_plain_autograd_loop_in_float64(small):
    """If this fails, the meta-trained ANIL of lesson 09 is trained on a wrong gradient: the vmap
    path must give the loss and the gradient of every layer (body through the features, head
    through its second-order inner steps) of a per-episode autograd loop, to float64 precision."""
    from mtlviz.meta.anil import anil_meta_value_and_grad

    maml, episodes = small
    params = {n: p.detach().double().requires_grad_() for n, p in maml.params_.items()}
    batch = type(episodes)(*(t.double() if t.is_floating_point() else t for t in episodes))
    model = copy.deepcopy(maml.model_).double()
    loss, grads = anil_meta_value_and_grad(model, params, *batch.data, inner_lr=0.4, n_inner_steps=2)
    reference = _plain_loop_anil_loss(model, params, batch, 0.4, 2)
    expected = torch.autograd.grad(reference, list(params.values()))
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-12)
    for (name, g), e in zip(grads.items(), expected):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12, msg=name)
    assert float(grads["convs.0.weight"].abs().sum()) > 0  # the outer loop reaches the body


def test_anil_classifier_trains_every_layer_adapts_the_head_and_round_trips(small, tmp_path):
    """ANIL meta-trained: its outer steps move the body, its test-time adaptation is HeadAdapter's
    (only the head moves), and a saved model scores the same after loading (weights_only)."""
    from mtlviz.meta.anil import ANILClassifier

    _, episodes = small
    tasks = GlyphTasks("background", image_size=12)
    anil = ANILClassifier(image_size=12, channels=4, n_outer_steps=0, random_state=0).fit(tasks)
    before = {n: p.detach().clone() for n, p in anil.params_.items()}
    anil.set_params(n_outer_steps=3).fit(tasks)  # the same seed: the same θ before the 3 steps
    assert not torch.equal(anil.params_["convs.0.weight"].detach(), before["convs.0.weight"])
    xs, ys = episodes.x_support[0], episodes.y_support[0]
    adapted = anil.adapt(xs, ys)
    head_only = HeadAdapter(anil.model_, anil.params_, inner_lr=anil.inner_lr, n_inner_steps=anil.n_test_inner_steps)
    for name, value in head_only.adapt(xs, ys).items():
        assert torch.equal(adapted[name], value), name
    torch.testing.assert_close(anil.episode_accuracy(episodes), head_only.episode_accuracy(episodes))
    anil.save(tmp_path / "anil.pt")
    again = ANILClassifier.load(tmp_path / "anil.pt")
    torch.testing.assert_close(again.episode_accuracy(episodes), anil.episode_accuracy(episodes))


def test_anil_warm_start_begins_at_the_backbone_with_a_zero_head_and_refuses_a_mismatch(small):
    """Meta-transfer (lesson 09) starts from the pretrained conv blocks: with 0 outer steps θ is
    the backbone plus a zero head; a backbone of another shape is refused naming the parameter."""
    from mtlviz.meta.anil import ANILClassifier

    maml, _ = small
    tasks = GlyphTasks("background", image_size=12)
    anil = ANILClassifier(image_size=12, channels=4, n_outer_steps=0, random_state=1).warm_start(maml.params_).fit(tasks)
    for name, p in anil.params_.items():
        expected = torch.zeros_like(p) if name.startswith("head") else maml.params_[name]
        assert torch.equal(p.detach(), expected.detach()), name
    wider = ANILClassifier(image_size=12, channels=8, n_outer_steps=0, random_state=1).warm_start(maml.params_)
    with pytest.raises(ValueError, match="backbone"):
        wider.fit(tasks)
    with pytest.raises(ValueError, match="backbone"):
        wider.warm_start([1, 2])


def test_shipped_anil_models_are_what_train_anil_makes():
    """If this fails, a meta-trained ANIL model behind lesson 09's section 6 is not what ``python -m
    mtlviz.pretrained.train_anil`` makes: another configuration than the command's at the file's outer
    steps (the meta-transfer one warm-started from lesson 06's backbone), or a training curve whose
    start the command no longer reproduces (reduced: the first 2 of its stored points, every shipped file)."""
    from mtlviz.pretrained import load_glyph_anil
    from mtlviz.pretrained.figures import load_figure
    from mtlviz.pretrained.train_anil import FILES, anil
    from mtlviz.pretrained.train_glyphs import background_pool

    shipped_rows, pool = load_figure("meta_trained_anil"), background_pool()
    checked = []
    for (start, k_shot) in FILES:
        if str(k_shot) not in shipped_rows:
            continue
        shipped = load_glyph_anil(start, k_shot=k_shot)
        again = anil(start, shipped.n_outer_steps, k_shot)
        assert shipped.get_params() == again.get_params(), (start, k_shot)
        chunk = -(-shipped.n_outer_steps // 500)  # weight files keep the loss averaged over chunks (compress_history)
        for record in again.fit_iter(pool):
            if record["step"] == 2 * chunk:
                break
        recomputed = [sum(again.history_[i * chunk:(i + 1) * chunk]) / chunk for i in range(2)]
        assert recomputed == pytest.approx(shipped.history_[:2], abs=1e-4), (start, k_shot)
        checked.append((start, k_shot))
    assert ("random", 1) in checked and ("pretrained", 1) in checked
