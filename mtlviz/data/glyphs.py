"""An offline, Omniglot-style few-shot image family: characters of many scripts, drawn from
the DejaVu Sans font that ships inside matplotlib, each instance randomly distorted.

Like Omniglot (Lake et al. 2015), classes are characters grouped by script (alphabet), and
whole scripts are held out: the *background* scripts train a meta-learner, the *evaluation*
scripts test it on characters it has never seen. Nothing is downloaded. Images are rendered
with matplotlib's FreeType binding and warped with ``torch`` (affine warp, stroke width,
noise), so the same ``random_state`` gives the same pixels.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import json
import math
import unicodedata
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int, check_random_state, check_real

__all__ = ["SCRIPTS", "BACKGROUND_SCRIPTS", "EVALUATION_SCRIPTS", "glyph_classes", "EpisodeBatch", "GlyphTasks",
           "GlyphPool", "DigitsTasks"]

#: Unicode ranges of the scripts used, as (first, last) code points; only letters are kept.
SCRIPTS: Dict[str, Tuple[Tuple[int, int], ...]] = {
    "Latin": ((0x41, 0x5A), (0x61, 0x7A)),
    "Greek": ((0x370, 0x3FF),),
    "Cyrillic": ((0x400, 0x4FF),),
    "Hebrew": ((0x590, 0x5FF),),
    "Arabic": ((0x600, 0x6FF),),
    "Canadian syllabics": ((0x1400, 0x167F),),
    "Armenian": ((0x530, 0x58F),),
    "Georgian": ((0x10A0, 0x10FF),),
    "Tifinagh": ((0x2D30, 0x2D7F),),
    "N'Ko": ((0x7C0, 0x7FF),),
    "Lao": ((0xE80, 0xEFF),),
    "Ogham": ((0x1680, 0x169F),),
}
BACKGROUND_SCRIPTS = ("Latin", "Greek", "Cyrillic", "Hebrew", "Arabic", "Canadian syllabics")
EVALUATION_SCRIPTS = ("Armenian", "Georgian", "Tifinagh", "N'Ko", "Lao", "Ogham")
CANONICAL_SIZE = 64  # pixels of the undistorted master image of each character


@functools.lru_cache(maxsize=1)
def _font():
    import matplotlib
    from matplotlib.ft2font import FT2Font

    return FT2Font(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))


def _render(font, char: str) -> np.ndarray:
    """The character as a ``CANONICAL_SIZE``² float image in [0, 1], centred, its longer side
    scaled to 70% of the image."""
    from matplotlib.ft2font import LoadFlags

    font.set_size(48, 72)
    font.set_text(char, 0.0, flags=LoadFlags.DEFAULT)
    font.draw_glyphs_to_bitmap()
    ink = np.asarray(font.get_image(), dtype=np.float32) / 255.0
    rows, cols = np.nonzero(ink > 0.05)
    if len(rows) == 0:
        return np.zeros((CANONICAL_SIZE, CANONICAL_SIZE), np.float32)
    ink = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    target = int(CANONICAL_SIZE * 0.7)
    scale = target / max(ink.shape)
    tensor = torch.from_numpy(ink)[None, None]
    height, width = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    resized = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    image = torch.zeros(CANONICAL_SIZE, CANONICAL_SIZE)
    top, left = (CANONICAL_SIZE - height) // 2, (CANONICAL_SIZE - width) // 2
    image[top: top + height, left: left + width] = resized.clamp(0, 1)
    return image.numpy()


class _Catalogue(NamedTuple):
    scripts: Tuple[str, ...]
    chars: Tuple[str, ...]
    images: torch.Tensor  # (C, CANONICAL_SIZE, CANONICAL_SIZE)


#: Which characters the family has, per script, after removing look-alikes: a small JSON object
#: {script: its characters} shipped beside this module, so that a lesson kernel renders only the
#: characters its episodes use (rendering and comparing all 1,294 letters costs ~1 CPU-s and
#: 20 MB). Rewritten by ``python -m mtlviz.data.glyphs``; tests/test_glyphs.py checks it against
#: :func:`_render_catalogue`.
CLASSES_FILE = Path(__file__).resolve().parent / "glyph_classes.json"


def _render_catalogue() -> _Catalogue:
    """Every letter of every script, rendered, with look-alikes across scripts removed (Latin A,
    Greek Α and Cyrillic А render identically: only the first is kept). About 1 CPU-s."""
    font = _font()
    charmap = font.get_charmap()
    seen, scripts, chars, images = set(), [], [], []
    for script, ranges in SCRIPTS.items():
        for first, last in ranges:
            for code in range(first, last + 1):
                char = chr(code)
                if code not in charmap or not unicodedata.category(char).startswith("L"):
                    continue
                image = _render(font, char)
                key = hashlib.sha1((image > 0.5).tobytes()).hexdigest()
                if key in seen or image.sum() < 1.0:
                    continue
                seen.add(key)
                scripts.append(script)
                chars.append(char)
                images.append(torch.from_numpy(image))
    return _Catalogue(tuple(scripts), tuple(chars), torch.stack(images))


@functools.lru_cache(maxsize=1)
def _catalogue_index() -> Tuple[Tuple[str, str], ...]:
    """The ``(script, character)`` classes of every script, from :data:`CLASSES_FILE`; rendered
    and compared afresh if the file is missing or unreadable (slower, same result)."""
    try:
        by_script = json.loads(CLASSES_FILE.read_text())  # {script: its characters, in order}
        pairs = tuple((script, char) for script, chars in by_script.items() for char in chars)
        if pairs and all(script in SCRIPTS for script in by_script):
            return pairs
    except (OSError, ValueError, TypeError):
        pass
    catalogue = _render_catalogue()
    return tuple(zip(catalogue.scripts, catalogue.chars))


@functools.lru_cache(maxsize=None)
def _master(char: str) -> torch.Tensor:
    """The undistorted ``CANONICAL_SIZE``² image of one character, rendered on first use."""
    return torch.from_numpy(_render(_font(), char))


def glyph_classes(split: str = "background") -> List[Tuple[str, str]]:
    """The ``(script, character)`` classes of a split: "background", "evaluation" or "all"."""
    allowed = {"background": BACKGROUND_SCRIPTS, "evaluation": EVALUATION_SCRIPTS,
               "all": BACKGROUND_SCRIPTS + EVALUATION_SCRIPTS}
    if split not in allowed:
        raise ValueError(f"split must be one of {sorted(allowed)}; got {split!r}")
    return [(s, c) for s, c in _catalogue_index() if s in allowed[split]]


class EpisodeBatch(NamedTuple):
    """A batch of N-way K-shot episodes; the first dimension indexes the episodes.

    x_support: (T, N·K, 1, S, S) images; y_support: (T, N·K) labels 0…N−1;
    x_query: (T, N·Q, 1, S, S); y_query: (T, N·Q); classes: (T, N) class indices of the split.
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    classes: torch.Tensor

    @property
    def data(self):
        return self.x_support, self.y_support, self.x_query, self.y_query


class GlyphTasks:
    """N-way K-shot classification episodes over rendered characters.

    Parameters
    ----------
    split : {"background", "evaluation"}
        Which scripts the classes come from; the two share no class.
    image_size : int
        Side of the square images, in [8, 64].
    distortion : float
        Strength of the random warp, stroke change and noise, in [0, 2] (0: clean glyphs).
    """

    def __init__(self, split: str = "background", image_size: int = 28, distortion: float = 1.0):
        self.split = split
        self.image_size = check_int("image_size", image_size, 8, CANONICAL_SIZE)
        self.distortion = check_real("distortion", distortion, 0.0, 2.0)
        self.classes = glyph_classes(split)

    def __repr__(self):
        return (f"GlyphTasks(split={self.split!r}, image_size={self.image_size}, distortion={self.distortion:g}); "
                f"{self.n_classes} classes from {len(self.scripts)} scripts")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def scripts(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(script for script, _ in self.classes))

    def render(self, class_indices: torch.Tensor, random_state=None) -> torch.Tensor:
        """One randomly distorted image per entry of ``class_indices``: ``(n, 1, S, S)`` in [0, 1]."""
        generator = check_random_state(random_state)
        class_indices = torch.as_tensor(class_indices, dtype=torch.long).reshape(-1)
        if len(class_indices) and (int(class_indices.min()) < 0 or int(class_indices.max()) >= self.n_classes):
            raise ValueError(f"class indices must be in [0, {self.n_classes - 1}]")
        n, d = len(class_indices), self.distortion
        masters = torch.stack([_master(self.classes[i][1]) for i in class_indices.tolist()]
                              or [torch.zeros(CANONICAL_SIZE, CANONICAL_SIZE)])[:n].unsqueeze(1)  # (n, 1, 64, 64)

        def uniform(low, high):
            return low + (high - low) * torch.rand(n, generator=generator)

        # Stroke width: thin (erode), as drawn, or bold (dilate), on the high-resolution master.
        stroke = torch.randint(-1, 2, (n,), generator=generator) if d > 0 else torch.zeros(n, dtype=torch.long)
        bold = F.max_pool2d(masters, 3, stride=1, padding=1)
        thin = -F.max_pool2d(-masters, 3, stride=1, padding=1)
        masters = torch.where((stroke == 1).view(-1, 1, 1, 1), bold,
                              torch.where((stroke == -1).view(-1, 1, 1, 1), thin, masters))
        # Affine warp: rotation, anisotropic scale, shear, translation.
        angle = uniform(-15, 15) * d * math.pi / 180
        scale_x, scale_y = 1 + uniform(-0.12, 0.12) * d, 1 + uniform(-0.12, 0.12) * d
        shear = uniform(-0.2, 0.2) * d
        shift_x, shift_y = uniform(-0.08, 0.08) * d, uniform(-0.08, 0.08) * d
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([
            torch.stack([cos / scale_x, (-sin + shear) / scale_x, shift_x], 1),
            torch.stack([sin / scale_y, cos / scale_y, shift_y], 1),
        ], 1)  # (n, 2, 3): output coordinates -> input coordinates
        grid = F.affine_grid(theta, masters.shape, align_corners=False)
        warped = F.grid_sample(masters, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        images = F.interpolate(warped, size=(self.image_size, self.image_size), mode="area")
        noise = torch.randn(images.shape, generator=generator) * 0.05 * d
        return (images + noise).clamp(0.0, 1.0)

    def pool(self, n_instances: int = 20, random_state=None) -> "GlyphPool":
        """Render ``n_instances`` distorted drawings of every class once, like Omniglot's 20
        drawers per character, and return a :class:`GlyphPool` that samples episodes from them
        (no rendering per episode: meta-training draws thousands of episodes)."""
        n_instances = check_int("n_instances", n_instances, 2, 1000)
        generator = check_random_state(random_state)
        images = self.render(torch.arange(self.n_classes).repeat_interleave(n_instances), generator)
        return GlyphPool(self, images.view(self.n_classes, n_instances, 1, self.image_size, self.image_size))

    def sample_episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, random_state=None) -> EpisodeBatch:
        """Draw ``n_tasks`` episodes: each picks ``n_way`` classes, ``k_shot`` support and
        ``n_query`` query images per class, and relabels the classes 0…N−1 in random order."""
        n_tasks = check_int("n_tasks", n_tasks, 1, 10_000)
        n_way = check_int("n_way", n_way, 2, self.n_classes)
        k_shot = check_int("k_shot", k_shot, 1, 100)
        n_query = check_int("n_query", n_query, 1, 100)
        generator = check_random_state(random_state)
        classes = torch.stack([torch.randperm(self.n_classes, generator=generator)[:n_way] for _ in range(n_tasks)])
        per_class = k_shot + n_query
        images = self.render(classes.repeat_interleave(per_class, dim=1).reshape(-1), generator)
        images = images.view(n_tasks, n_way, per_class, 1, self.image_size, self.image_size)
        return _split_episodes(images, n_way, k_shot, n_query, classes)


def _split_episodes(images, n_way, k_shot, n_query, classes):
    """Arrange ``images`` (T, N, K+Q, 1, S, S) into an :class:`EpisodeBatch` labelled 0…N−1."""
    n_tasks, side = images.shape[0], images.shape[-1]
    per_class = k_shot + n_query
    labels = torch.arange(n_way).repeat_interleave(per_class).view(n_way, per_class)
    support = images[:, :, :k_shot].reshape(n_tasks, n_way * k_shot, 1, side, side)
    query = images[:, :, k_shot:].reshape(n_tasks, n_way * n_query, 1, side, side)
    y_support = labels[:, :k_shot].reshape(-1).expand(n_tasks, -1).clone()
    y_query = labels[:, k_shot:].reshape(-1).expand(n_tasks, -1).clone()
    return EpisodeBatch(support, y_support, query, y_query, classes)


class GlyphPool:
    """A fixed set of drawings per class (made by :meth:`GlyphTasks.pool`); episodes pick
    distinct drawings of each class, so ``k_shot + n_query`` ≤ ``n_instances``."""

    def __init__(self, tasks: GlyphTasks, images: torch.Tensor):
        self.tasks = tasks
        self.images = images  # (C, M, 1, S, S)
        self.classes = tasks.classes
        self.image_size = tasks.image_size
        self.split = tasks.split

    def __repr__(self):
        return f"GlyphPool({self.tasks!r}, {self.n_instances} drawings per class)"

    @property
    def n_classes(self) -> int:
        return self.images.shape[0]

    @property
    def n_instances(self) -> int:
        return self.images.shape[1]

    def labelled_images(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every drawing with its class index, ``(C·M, 1, S, S)`` and ``(C·M,)``: the data set
        for ordinary (pre)training on all classes at once."""
        labels = torch.arange(self.n_classes).repeat_interleave(self.n_instances)
        return self.images.reshape(-1, 1, self.image_size, self.image_size), labels

    def sample_episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, random_state=None) -> EpisodeBatch:
        """Like :meth:`GlyphTasks.sample_episodes`, drawing from the pool without replacement."""
        n_tasks = check_int("n_tasks", n_tasks, 1, 10_000)
        n_way = check_int("n_way", n_way, 2, self.n_classes)
        k_shot = check_int("k_shot", k_shot, 1, self.n_instances - 1)
        n_query = check_int("n_query", n_query, 1, self.n_instances - k_shot)
        generator = check_random_state(random_state)
        per_class = k_shot + n_query
        classes = torch.stack([torch.randperm(self.n_classes, generator=generator)[:n_way] for _ in range(n_tasks)])
        drawings = torch.argsort(torch.rand(n_tasks, n_way, self.n_instances, generator=generator), dim=-1)
        drawings = drawings[..., :per_class]  # distinct drawings per class
        images = self.images[classes.unsqueeze(-1), drawings]  # (T, N, K+Q, 1, S, S)
        return _split_episodes(images, n_way, k_shot, n_query, classes)


def _load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits, read as ``sklearn.datasets.load_digits`` reads them but
    without importing scikit-learn (which would load scipy too: about 1 CPU-s and 80 MB per
    kernel). ``find_spec`` only locates the installed package; it does not run its ``__init__``.

    Returns
    -------
    images : (1797, 8, 8) float64 array of grey levels 0…16 (``load_digits().images``)
    target : (1797,) int array of digits 0…9 (``load_digits().target``)
    """
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    paths = [Path(location) / "datasets" / "data" / "digits.csv.gz" for location in locations]
    path = next((path for path in paths if path.is_file()), None)
    if path is None:
        raise ModuleNotFoundError("DigitsTasks reads the digits that ship with scikit-learn: install scikit-learn "
                                  "(pip install 'scikit-learn>=1.5'); no digits.csv.gz found in "
                                  f"{locations or 'any installed sklearn package'}")
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")  # (1797, 65): 64 pixels, then the digit
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int, copy=False)


class DigitsTasks:
    """N-way K-shot episodes over scikit-learn's bundled handwritten digits (8×8, 10 classes).

    ``image_size`` (in [8, 64], default 8) upscales the images bilinearly, for networks built
    for larger images (the transfer lesson feeds them to the 20-pixel glyph network).

    The quickest few-shot demo: 1,797 real images that ship inside scikit-learn. Episodes draw
    distinct images per class without replacement; only 10 classes exist, so ``n_way`` ≤ 10.
    """

    def __init__(self, image_size: int = 8):
        self.image_size = check_int("image_size", image_size, 8, 64)
        digit_images, digit_labels = _load_digits()
        images = torch.tensor(digit_images, dtype=torch.float32) / 16.0  # (1797, 8, 8) in [0, 1]
        if self.image_size != 8:
            # Bilinear upscaling, so a network built for glyph-sized images can read the digits.
            images = torch.nn.functional.interpolate(images[:, None], size=self.image_size, mode="bilinear",
                                                     align_corners=False)[:, 0].clamp(0.0, 1.0)
        self._images = images
        self._labels = torch.tensor(digit_labels)
        self.classes = [("digits", str(d)) for d in range(10)]
        self._by_class = [torch.nonzero(self._labels == c).flatten() for c in range(10)]

    def __repr__(self):
        return (f"DigitsTasks(image_size={self.image_size}): {len(self._labels)} images, 10 classes "
                "(scikit-learn's load_digits)")

    @property
    def n_classes(self) -> int:
        return 10

    def labelled_images(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """All 1,797 images ``(n, 1, S, S)`` with their digit, for ordinary (pre)training."""
        return self._images.unsqueeze(1), self._labels.clone()

    def sample_episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, random_state=None) -> EpisodeBatch:
        """Like :meth:`GlyphTasks.sample_episodes`; ``k_shot + n_query`` ≤ 170 images per class."""
        n_tasks = check_int("n_tasks", n_tasks, 1, 10_000)
        n_way = check_int("n_way", n_way, 2, 10)
        k_shot = check_int("k_shot", k_shot, 1, 100)
        n_query = check_int("n_query", n_query, 1, 170 - k_shot)
        generator = check_random_state(random_state)
        per_class = k_shot + n_query
        classes = torch.stack([torch.randperm(10, generator=generator)[:n_way] for _ in range(n_tasks)])
        picks = torch.stack([torch.stack([
            self._by_class[int(c)][torch.randperm(len(self._by_class[int(c)]), generator=generator)[:per_class]]
            for c in episode]) for episode in classes])  # (T, N, K+Q) image indices
        images = self._images[picks].unsqueeze(3)  # (T, N, K+Q, 1, S, S)
        return _split_episodes(images, n_way, k_shot, n_query, classes)


def _write_classes_file(path: Path = CLASSES_FILE) -> int:
    """Render the whole catalogue and write its class list to ``path``; return the class count."""
    catalogue = _render_catalogue()
    by_script: Dict[str, str] = {}
    for script, char in zip(catalogue.scripts, catalogue.chars):
        by_script[script] = by_script.get(script, "") + char
    path.write_text(json.dumps(by_script, ensure_ascii=False, indent=1) + "\n")
    return len(catalogue.chars)


if __name__ == "__main__":  # python -m mtlviz.data.glyphs: rewrite glyph_classes.json
    print(f"wrote {_write_classes_file()} classes to {CLASSES_FILE}")
