"""The offline glyph few-shot family: enough varied classes, disjoint splits, determinism, episodes."""
from __future__ import annotations

import pytest
import torch

from mtlviz.data.glyphs import BACKGROUND_SCRIPTS, EVALUATION_SCRIPTS, GlyphTasks, glyph_classes


@pytest.fixture(scope="module")
def background():
    return GlyphTasks("background")


def test_enough_classes_from_enough_scripts():
    """Few-shot lessons need an Omniglot-like pool: at least 500 characters from at least 5 scripts."""
    classes = glyph_classes("all")
    assert len(classes) >= 500
    assert len({script for script, _ in classes}) >= 5
    assert len(GlyphTasks("evaluation").scripts) >= 5


def test_background_and_evaluation_share_no_class_and_no_script():
    """Testing on characters seen in meta-training would overstate few-shot accuracy."""
    background, evaluation = set(glyph_classes("background")), set(glyph_classes("evaluation"))
    assert background and evaluation and not background & evaluation
    assert not set(BACKGROUND_SCRIPTS) & set(EVALUATION_SCRIPTS)


def test_look_alikes_across_scripts_are_removed():
    """Latin A, Greek Alpha and Cyrillic A look the same: keeping all three would make unlearnable classes."""
    chars = [char for _, char in glyph_classes("all")]
    assert "A" in chars and "\u0391" not in chars and "\u0410" not in chars
    assert len(chars) == len(set(chars))


def test_same_seed_same_images_different_seed_different(background):
    """nbval compares lesson outputs: the same seed must give the very same pixels."""
    first = background.sample_episodes(2, 5, 1, 3, random_state=0)
    second = background.sample_episodes(2, 5, 1, 3, random_state=0)
    other = background.sample_episodes(2, 5, 1, 3, random_state=1)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    assert not torch.equal(first.x_support, other.x_support)


def test_instances_of_a_class_vary_but_stay_closer_to_their_class(background):
    """Distortions must make each drawing different, yet keep a character recognisable as itself."""
    images = background.render(torch.tensor([0] * 8 + [1] * 8), random_state=0).flatten(1)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert not torch.allclose(images[0], images[1])
    within = torch.cdist(images[:8], images[:8]).mean()
    between = torch.cdist(images[:8], images[8:]).mean()
    assert within < between


def test_episode_shapes_and_labels(background):
    """An N-way K-shot episode holds N·K support and N·Q query images labelled 0…N−1."""
    episodes = background.sample_episodes(3, n_way=5, k_shot=2, n_query=4, random_state=0)
    assert episodes.x_support.shape == (3, 10, 1, 28, 28)
    assert episodes.x_query.shape == (3, 20, 1, 28, 28)
    assert torch.equal(episodes.y_support[0], torch.arange(5).repeat_interleave(2))
    assert torch.equal(episodes.y_query[0], torch.arange(5).repeat_interleave(4))
    for classes in episodes.classes:
        assert len(set(classes.tolist())) == 5  # N distinct classes per episode


def test_zero_distortion_gives_clean_identical_instances():
    """distortion=0 must draw the master glyph itself, the same every time."""
    clean = GlyphTasks("evaluation", distortion=0.0)
    images = clean.render(torch.tensor([3, 3]), random_state=0)
    assert torch.equal(images[0], images[1])


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_tasks=1, n_way=10_000, k_shot=1, n_query=1), r"n_way must be in \[2, "),
    (dict(n_tasks=1, n_way=5, k_shot=0, n_query=1), r"k_shot must be in \[1, 100\]"),
    (dict(n_tasks=1, n_way=5, k_shot=1, n_query=0), r"n_query must be in \[1, 100\]"),
])
def test_bad_episode_arguments_name_the_parameter(background, kwargs, message):
    """N larger than the classes, K = 0 or no query must say which parameter and its range."""
    with pytest.raises(ValueError, match=message):
        background.sample_episodes(**kwargs)


def test_bad_split_or_size_is_refused():
    """A typo in the split or an impossible image size must be caught with a clear message."""
    with pytest.raises(ValueError, match="split must be one of"):
        GlyphTasks("training")
    with pytest.raises(ValueError, match=r"image_size must be in \[8, 64\]"):
        GlyphTasks(image_size=4)


def test_digits_episodes_use_real_distinct_images():
    """The digits family must draw real, distinct images of the right classes."""
    from mtlviz.data.glyphs import DigitsTasks

    digits = DigitsTasks()
    episode = digits.sample_episodes(2, n_way=4, k_shot=3, n_query=2, random_state=0)
    assert episode.x_support.shape == (2, 12, 1, 8, 8) and episode.x_query.shape == (2, 8, 1, 8, 8)
    flat = torch.cat([episode.x_support[0], episode.x_query[0]]).flatten(1)
    assert len({tuple(row.tolist()) for row in flat}) >= 18  # no image drawn twice (rare exact duplicates aside)
    with pytest.raises(ValueError, match=r"n_way must be in \[2, 10\]"):
        digits.sample_episodes(1, n_way=11, k_shot=1, n_query=1)


def test_check_episode_sizes():
    """Lesson 01's exercise accepts N·K / N·Q and names the usual mistakes."""
    from mtlviz.exercises import check_episode_sizes

    assert check_episode_sizes(lambda n, k, q: (n * k, n * q))
    assert "one class" in str(check_episode_sizes(lambda n, k, q: (k, q)))
    assert "swapped" in str(check_episode_sizes(lambda n, k, q: (n * q, n * k)))


def test_episode_viewer_follows_its_sliders():
    """Moving N, K or the dataset must show an episode of exactly that shape."""
    from mtlviz.data.glyphs import DigitsTasks
    from mtlviz.widgets import EpisodeViewer

    viewer = EpisodeViewer({"glyphs": GlyphTasks("evaluation"), "digits": DigitsTasks()}, random_state=0)
    viewer.n_way, viewer.k_shot = 3, 4
    assert viewer.status.startswith("3-way 4-shot episode: 12 support")
    assert viewer._episode_artists["support"].get_array().shape == (3 * 29 - 1, 4 * 29 - 1)
    viewer.family = "digits"
    assert "(digits)" in viewer.status
    assert viewer.way_slider.max == 10  # no slider position asks for more classes than digits has
    before = viewer.status
    viewer.new_button.click()
    assert viewer.status != before


def test_episode_viewer_lays_out_once_and_every_episode_fits():
    """Lesson 01's K and N sliders reshape both mosaics. The figure is laid out once, not at every
    draw (the constrained layout was about a third of a K move's draw; if this fails, the slider
    is slow again), and every episode shape still fits that layout: a tick label or title outside
    the figure would show a student "bel 0" for "label 0"."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from mtlviz.data.glyphs import DigitsTasks
    from mtlviz.widgets import EpisodeViewer

    viewer = EpisodeViewer({"glyphs": GlyphTasks("evaluation"), "digits": DigitsTasks()}, random_state=0)
    figure = viewer.figure
    assert isinstance(figure.get_layout_engine(), PlaceHolderLayoutEngine)  # positions fixed: no layout per draw
    renderer = figure.canvas.get_renderer()
    for family in ("glyphs", "digits"):
        for n_way, k_shot, n_query in [(2, 1, 1), (2, 5, 5), (5, 5, 1), (10, 1, 5), (10, 5, 5)]:
            viewer.family, viewer.n_way, viewer.k_shot, viewer.n_query = family, n_way, k_shot, n_query
            figure.canvas.draw()
            for ax in figure.axes:
                box = ax.get_tightbbox(renderer)
                assert box.x0 >= 0 and box.y0 >= 0, (family, n_way, k_shot, n_query, box)
                assert box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height, (family, n_way, k_shot, box)
            support, query = figure.axes
            assert support.get_window_extent().x1 < query.get_tightbbox(renderer).x0  # panels do not overlap


def test_shipped_class_list_is_what_rendering_the_font_gives(tmp_path, monkeypatch):
    """Lessons read the class list from mtlviz/data/glyph_classes.json instead of rendering all
    1,294 letters at start-up. If this fails, the file no longer matches the font and the
    look-alike rule (rewrite it with python -m mtlviz.data.glyphs), and episodes would draw other
    characters than the shipped glyph models were trained on. Exact with the locked matplotlib, whose
    DejaVu font the list was made from; with another, every listed character must still render."""
    import matplotlib
    from pathlib import Path

    from mtlviz.data import glyphs

    lock = (Path(__file__).resolve().parents[1] / "requirements" / "lock.txt").read_text()
    locked = "\nmatplotlib==" + matplotlib.__version__ + "\n" in "\n" + lock
    rendered = glyphs._render_catalogue()
    if not locked:
        # Another matplotlib ships another DejaVu (3.10's has two more distinct letters): the shipped
        # list keeps the family the same; every listed character must still draw some ink.
        assert all(float(glyphs._master(char).sum()) >= 1.0 for _, char in glyphs._catalogue_index())
        return
    assert glyphs._catalogue_index() == tuple(zip(rendered.scripts, rendered.chars))
    # a character rendered on first use is the very image the full pass renders
    for i in range(0, len(rendered.chars), 97):
        assert torch.equal(glyphs._master(rendered.chars[i]), rendered.images[i])
    # a missing or broken file falls back to rendering: slower, never wrong
    glyphs._catalogue_index.cache_clear()
    try:
        monkeypatch.setattr(glyphs, "CLASSES_FILE", tmp_path / "missing.json")
        assert glyphs._catalogue_index() == tuple(zip(rendered.scripts, rendered.chars))
    finally:
        glyphs._catalogue_index.cache_clear()
