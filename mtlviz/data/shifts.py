"""Shifted image domains: the same classes drawn differently (lessons 06 and 07).

- :class:`NegativeImages`: an episode family in negative (1 − x), lesson 06's shifted target;
- :func:`blur_and_noise` and :func:`shifted_digits`: scikit-learn's digits blurred and grainy,
  lesson 07's image domain shift.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .._validation import check_int, check_random_state, check_real, check_tensor
from .glyphs import DigitsTasks, EpisodeBatch
from .moons import DomainShiftProblem

__all__ = ["NegativeImages", "blur_and_noise", "shifted_digits"]


class NegativeImages:
    """An episode family drawn in negative: every image x becomes 1 − x (light ink on a dark
    ground). The characters are the same; what the first conv filters see is not."""

    def __init__(self, tasks):
        self.tasks = tasks
        self.classes = tasks.classes
        self.image_size = tasks.image_size

    def __repr__(self):
        return f"NegativeImages({self.tasks!r})"

    def sample_episodes(self, *args, **kwargs):
        batch = self.tasks.sample_episodes(*args, **kwargs)
        return EpisodeBatch(1.0 - batch.x_support, batch.y_support, 1.0 - batch.x_query, batch.y_query, batch.classes)


def blur_and_noise(images: torch.Tensor, *, noise: float = 0.15, random_state=None) -> torch.Tensor:
    """The image domain shift of lesson 07: a 3×3 binomial blur, then Gaussian noise of standard
    deviation ``noise`` (in [0, 1]), clipped to [0, 1]; like a blurred, grainy scan.

    ``images`` (n, S, S) or (n, 1, S, S) with values in [0, 1]; returns the same shape.
    """
    check_tensor("images", images, min_first=1)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[1] != 1):
        raise ValueError(f"images must have shape (n, S, S) or (n, 1, S, S); got {tuple(images.shape)}")
    noise = check_real("noise", noise, 0.0, 1.0)
    generator = check_random_state(random_state)
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    flat = images.reshape(images.shape[0], 1, *images.shape[-2:]).float()
    blurred = F.conv2d(flat, kernel[None, None], padding=1)  # zero padding: the digits' border is blank
    noisy = blurred + noise * torch.randn(blurred.shape, generator=generator)
    return noisy.clamp(0.0, 1.0).reshape(images.shape)


def shifted_digits(*, n_source: int = 600, n_target: int = 600, noise: float = 0.15,
                   random_state: int = 0) -> DomainShiftProblem:
    """scikit-learn's 8×8 digits split into a clean labelled source set, an unlabelled target set
    under :func:`blur_and_noise` and a target test set (the remaining images, shifted too).

    The three sets hold different images (a random split seeded by ``random_state``), so the
    target domain differs from the source only by the shift. Returns the fields of
    :class:`DomainShiftProblem` (images are (n, 8, 8) in [0, 1]).
    """
    seed = check_int("random_state", random_state, 0, 2**31 - 1)
    images, labels = DigitsTasks().labelled_images()
    images = images[:, 0]
    n_source = check_int("n_source", n_source, 2, images.shape[0] - 4)
    n_target = check_int("n_target", n_target, 2, images.shape[0] - n_source - 2)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(images.shape[0], generator=generator)
    source, target, test = order[:n_source], order[n_source:n_source + n_target], order[n_source + n_target:]
    return DomainShiftProblem(images[source], labels[source],
                        blur_and_noise(images[target], noise=noise, random_state=generator), labels[target],
                        blur_and_noise(images[test], noise=noise, random_state=generator), labels[test])
