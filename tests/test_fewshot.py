"""Few-shot image classification: the conv learner, MAML on episodes, scoring, shipped weights."""
from __future__ import annotations

import pytest
import torch
from torch.func import vmap

from mtlviz import WeightsError
from mtlviz import functional as Fn
from mtlviz.nets import ConvNet, accuracy, cross_entropy
from mtlviz.meta.fewshot import MAMLClassifier, PixelNearestNeighbour
from mtlviz.evaluation import evaluate_episodes
from mtlviz.data.glyphs import DigitsTasks, GlyphTasks

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits():
    return DigitsTasks()


@pytest.fixture(scope="module")
def trained_on_digits(digits):
    """MAML meta-trained briefly on 5-way 1-shot digit episodes (8-pixel images)."""
    return MAMLClassifier(image_size=8, channels=16, n_outer_steps=150, meta_batch_size=4, outer_lr=3e-3,
                          random_state=0).fit(digits)


def test_functional_forward_is_the_module_forward_and_batches_under_vmap():
    """MAML evaluates θ' with functional_forward; if it differed from the module, training and
    prediction would compute different networks, and vmap over episodes must equal a loop."""
    torch.manual_seed(0)
    net = ConvNet(5, 8, 20)
    params = dict(net.named_parameters())
    x = torch.rand(3, 10, 1, 20, 20)
    looped = torch.stack([net(xi) for xi in x])
    batched = vmap(lambda xi: net.functional_forward(params, xi))(x)
    assert looped.shape == (3, 10, 5)
    torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-6)


def test_batch_norm_keeps_no_statistics_between_episodes():
    """With running averages, one episode's images would shift the next episode's predictions."""
    net = ConvNet(5, 8, 20)
    assert list(net.buffers()) == []
    x, other = torch.rand(10, 1, 20, 20), torch.rand(10, 1, 20, 20) * 3
    before = net(x)
    net(other)
    torch.testing.assert_close(net(x), before)


def test_conv_net_rejects_bad_sizes():
    """A student typing n_way=1 should read which argument and range are wrong."""
    with pytest.raises(ValueError, match=r"n_way must be in \[2, 10000\]"):
        ConvNet(n_way=1)
    with pytest.raises(ValueError, match=r"image_size must be in \[8, 64\]"):
        ConvNet(image_size=4)


def test_meta_training_beats_the_untrained_network_on_new_episodes(digits, trained_on_digits):
    """If the outer loop did not learn, MAML's accuracy after adaptation would stay at the
    level of the same network adapted from a random θ."""
    batch = digits.sample_episodes(40, 5, 1, 5, random_state=123)
    untrained = MAMLClassifier(image_size=8, channels=16, n_outer_steps=0, random_state=0)
    for _ in untrained.fit_iter(digits):
        pass
    assert len(trained_on_digits.history_) == 150
    assert trained_on_digits.score(batch) > untrained.score(batch) + 0.1


def test_accuracy_curve_starts_at_the_unadapted_prediction(digits, trained_on_digits):
    """The lesson plots accuracy after 0…n steps; step 0 must be θ itself, and the last column is score."""
    batch = digits.sample_episodes(6, 5, 1, 4, random_state=5)
    curve = trained_on_digits.accuracy_curve(batch, n_inner_steps=2)
    assert curve.shape == (6, 3)
    at_theta = torch.stack([(trained_on_digits.predict(xq) == yq).float().mean()
                            for xq, yq in zip(batch.x_query, batch.y_query)])
    torch.testing.assert_close(curve[:, 0], at_theta)
    adapted = trained_on_digits.adapt(batch.x_support[0], batch.y_support[0], n_inner_steps=2)
    assert float((trained_on_digits.predict(batch.x_query[0], adapted) == batch.y_query[0]).float().mean()) \
        == pytest.approx(float(curve[0, 2]))


@pytest.mark.parametrize("name, value, message", [
    ("n_way", 1, r"n_way must be in \[2, 20\]"),
    ("k_shot", 0, r"k_shot must be in \[1, 19\]"),
    ("inner_lr", -0.1, r"inner_lr must be in \[0, 10\]"),
    ("first_order", "yes", "first_order must be True or False"),
])
def test_bad_hyperparameters_name_the_parameter(digits, name, value, message):
    """fit must refuse bad settings up front instead of failing deep inside torch."""
    with pytest.raises(ValueError, match=message):
        MAMLClassifier(image_size=8, **{name: value}).fit(digits)


def test_wrong_image_size_and_wrong_batch_are_refused(digits, trained_on_digits):
    """Training a 20-pixel network on 8-pixel digits, or scoring 10-way episodes with a 5-way
    head, would fail with a shape error or give meaningless numbers."""
    with pytest.raises(ValueError, match="image_size"):
        MAMLClassifier(image_size=20).fit(digits)
    with pytest.raises(ValueError, match="5-way"):
        trained_on_digits.score(digits.sample_episodes(2, 10, 1, 2, random_state=0))
    with pytest.raises(ValueError, match="EpisodeBatch"):
        trained_on_digits.score("episodes")


def test_save_load_round_trip_and_bad_files(tmp_path, digits, trained_on_digits):
    """Shipped weights must come back exactly; a wrong file must say how to regenerate it."""
    path = tmp_path / "maml.pt"
    trained_on_digits.save(path)
    loaded = MAMLClassifier.load(path)
    batch = digits.sample_episodes(5, 5, 1, 3, random_state=9)
    torch.testing.assert_close(loaded.accuracy_curve(batch), trained_on_digits.accuracy_curve(batch))
    with pytest.raises(WeightsError, match="train_glyphs"):
        MAMLClassifier.load(tmp_path / "missing.pt")
    torch.save({"kind": "maml", "params": {}}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not 'maml-classifier'"):
        MAMLClassifier.load(tmp_path / "other.pt")


def test_evaluate_episodes_is_reproducible_and_reports_the_95_interval(digits):
    """Two methods scored with the same seed must see the same episodes, and the interval must be
    1.96·std/√n as the papers report it."""
    first = evaluate_episodes(PixelNearestNeighbour(), digits, k_shot=1, n_episodes=30, chunk=7, random_state=1)
    second = evaluate_episodes(PixelNearestNeighbour(), digits, k_shot=1, n_episodes=30, chunk=30, random_state=1)
    assert len(first.accuracies) == 30
    assert first.mean == pytest.approx(first.accuracies.mean())
    from scipy import stats  # an independent reference: scipy's t interval over the same 30 values

    low, high = stats.t.interval(0.95, 29, loc=first.mean, scale=stats.sem(first.accuracies))
    assert first.ci95 == pytest.approx((high - low) / 2)
    assert "%" in str(first)
    with pytest.raises(ValueError, match=r"n_episodes must be in \[1, 100000\]"):
        evaluate_episodes(PixelNearestNeighbour(), digits, n_episodes=0)
    assert 0.3 < second.mean <= 1.0  # digits are easy for nearest neighbour, far above chance (0.2)


def test_pixel_nearest_neighbour_recognises_copies(digits):
    """A query that is a copy of a support image must get that image's label."""
    batch = digits.sample_episodes(3, 5, 2, 1, random_state=0)
    copied = batch._replace(x_query=batch.x_support, y_query=batch.y_support)
    assert torch.equal(PixelNearestNeighbour().episode_accuracy(copied), torch.ones(3))


def test_glyph_pool_is_seeded_and_episodes_use_distinct_drawings():
    """Meta-training samples from a fixed pool of drawings; a repeated drawing in support and
    query would let the network score by memorising pixels."""
    tasks = GlyphTasks("evaluation", image_size=12)
    pool = tasks.pool(4, random_state=3)
    assert torch.equal(pool.images, tasks.pool(4, random_state=3).images)
    batch = pool.sample_episodes(5, 3, 2, 2, random_state=0)
    for xs, xq in zip(batch.x_support, batch.x_query):
        assert torch.cdist(xq.flatten(1), xs.flatten(1)).min() > 0
    with pytest.raises(ValueError, match=r"n_query must be in \[1, 2\]"):
        pool.sample_episodes(1, 3, 2, 3)


def test_cross_entropy_and_accuracy_match_their_definitions():
    """The loss the lessons name L must be softmax cross-entropy, and accuracy the argmax hit rate."""
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, -1.0]])
    labels = torch.tensor([0, 0, 0])
    expected = -torch.log_softmax(logits, -1)[:, 0].mean()
    torch.testing.assert_close(cross_entropy(logits, labels), expected)
    assert float(accuracy(logits, labels)) == pytest.approx(2 / 3)


def test_first_order_gradient_is_the_query_gradient_at_the_adapted_parameters(digits):
    """First-order MAML drops the Hessian term: its meta-gradient must be ∇L_query(θ') exactly."""
    torch.manual_seed(0)
    net = ConvNet(5, 4, 8)
    params = Fn.get_params(net, requires_grad=True)
    batch = digits.sample_episodes(1, 5, 1, 2, random_state=0)
    meta = Fn.meta_gradient(net, params, *batch.data, inner_lr=0.4, first_order=True, loss_fn=cross_entropy)
    adapted = Fn.adapt(net, {k: v.detach() for k, v in params.items()}, batch.x_support[0], batch.y_support[0],
                       inner_lr=0.4, loss_fn=cross_entropy)
    adapted = {k: v.detach().requires_grad_(True) for k, v in adapted.items()}
    query = cross_entropy(net.functional_forward(adapted, batch.x_query[0]), batch.y_query[0])
    direct = dict(zip(adapted, torch.autograd.grad(query, list(adapted.values()))))
    for name in params:
        torch.testing.assert_close(meta[name], direct[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("k_shot", [1, 5])
def test_shipped_glyph_maml_learns_new_characters(k_shot):
    """Lesson 01 and RESULTS.md quote the shipped models' accuracy on never-seen scripts: they must
    load safely, reach 90% and beat pixel nearest neighbour (which is strong at 5-shot), and
    their starting point must be at chance (labels are reshuffled per episode, so θ alone
    cannot know them)."""
    from mtlviz.pretrained import load_glyph_maml

    maml = load_glyph_maml(k_shot)
    assert maml.k_shot == k_shot and maml.n_way == 5
    batch = GlyphTasks("evaluation", image_size=maml.image_size).sample_episodes(20, 5, k_shot, 5, random_state=11)
    curve = maml.accuracy_curve(batch).mean(0)
    nearest = float(PixelNearestNeighbour().episode_accuracy(batch).mean())
    assert float(curve[0]) < 0.4
    assert float(curve[-1]) > max(0.9, nearest + 0.05)


def test_glyph_sample_sheet_shows_every_script():
    """Lesson 01's grid must show a row per script with its split named, as a PNG."""
    from mtlviz.plotting import figure_png, glyph_sample_sheet

    figure = glyph_sample_sheet(characters_per_script=2, drawings=2, image_size=12)
    (ax,) = figure.axes  # one image of all rows (cheaper to draw than an axes per script)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert len(labels) == 12 and labels[0] == "Latin\n(background)" and labels[-1] == "Ogham\n(evaluation)"
    assert figure_png(figure)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"drawings must be in \[1, 8\]"):
        glyph_sample_sheet(drawings=0)
