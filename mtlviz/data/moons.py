"""Two moons, rotated: the toy source and target domains of lesson 07 (domain adaptation).

The source domain is scikit-learn's two interleaved half circles (``make_moons``, reproduced
point for point in numpy by :func:`_make_moons` so that a lesson kernel never imports
scikit-learn), centred and scaled; a target domain is the same distribution rotated about the
centre of the data.

References
----------
Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17 (2016) (the moons toy).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Tuple

import numpy as np
import torch

from .._validation import check_int, check_random_state, check_real, draw_seed

__all__ = ["two_moons", "DomainShiftProblem", "rotated_moons", "TARGET_SEED_OFFSET", "TEST_SEED_OFFSET"]

# make_moons draws the outer moon on x ∈ [−1, 1] and the inner one on x ∈ [0, 2]: shift the
# centre of the noiseless moons to the origin and divide by one number (so that the moons keep
# their shape), giving a variance of about 1 per coordinate on average. Fixed, not estimated from the sample, so
# that the source and target domains go through the same transform.
_MOONS_CENTRE = np.array([0.5, 0.25])
_MOONS_SCALE = 0.7


def _make_moons(n_samples: int, noise: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_moons(n_samples, noise=noise, random_state=seed)``, bit for bit,
    without importing scikit-learn (about 1 CPU-s and 80 MB per kernel with scipy).

    The same steps on the same ``np.random.RandomState(seed)``: the outer moon gets
    ``n_samples // 2`` evenly spaced points on the upper half circle, the inner moon the rest;
    the rows are shuffled (``sklearn.utils.shuffle``: ``RandomState.shuffle`` of ``arange(n)``),
    then Gaussian noise of standard deviation ``noise`` is drawn for every coordinate.
    ``tests/test_data_offline.py`` checks equality with scikit-learn.

    Returns
    -------
    points : (n_samples, 2) float64 array
    labels : (n_samples,) intp array, 0 (outer moon) and 1 (inner moon)
    """
    generator = np.random.RandomState(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_inner)
    points = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                        np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    labels = np.hstack([np.zeros(n_outer, dtype=np.intp), np.ones(n_inner, dtype=np.intp)])
    order = np.arange(n_samples)
    generator.shuffle(order)
    points, labels = points[order], labels[order]
    points += generator.normal(scale=noise, size=points.shape)
    return points, labels


def two_moons(n_samples: int, *, rotation_deg: float = 0.0, noise: float = 0.1,
              random_state=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved half circles, centred on the origin and rotated by ``rotation_deg``.

    The source domain of the domain-adaptation lesson is ``rotation_deg=0``; a target domain is
    the same distribution rotated counter-clockwise about the centre of the data.

    Parameters
    ----------
    n_samples : int
        Points in all, in [2, 1_000_000]; the two moons get half each.
    rotation_deg : float, default 0
        Counter-clockwise rotation in degrees, in [0, 180].
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added by ``sklearn.datasets.make_moons``
        (in its units, before scaling), in [0, 1]. The points are make_moons' own (reproduced
        without scikit-learn by :func:`_make_moons`).
    random_state : int, torch.Generator or None
        Seeds the sample.

    Returns
    -------
    x : (n_samples, 2) float32 tensor
    y : (n_samples,) int64 tensor of labels 0 (outer moon) and 1 (inner moon)
    """
    n_samples = check_int("n_samples", n_samples, 2, 1_000_000)
    rotation_deg = check_real("rotation_deg", rotation_deg, 0.0, 180.0)
    noise = check_real("noise", noise, 0.0, 1.0)
    generator = check_random_state(random_state)
    points, labels = _make_moons(n_samples, noise, draw_seed(generator))
    points = (points - _MOONS_CENTRE) / _MOONS_SCALE
    angle = math.radians(rotation_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)],
                         [math.sin(angle), math.cos(angle)]])
    points = points @ rotation.T  # each row p -> R p
    return torch.as_tensor(points, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.int64)

#: Offsets that keep the target training and test samples apart from the source sample's seed
#: (the same as ``benchmarks/two_moons_da.py``).
TARGET_SEED_OFFSET = 10_000
TEST_SEED_OFFSET = 20_000


class DomainShiftProblem(NamedTuple):
    """One domain-adaptation problem: labelled source, unlabelled target, labelled target test.

    ``y_target`` holds the true labels of the target training points: never given to ``fit``,
    only used to colour the points in the lesson's plots.
    """

    x_source: torch.Tensor
    y_source: torch.Tensor
    x_target: torch.Tensor
    y_target: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def rotated_moons(rotation_deg: float, *, n_samples: int = 300, n_test: int = 1000, noise: float = 0.1,
                  random_state: int = 0) -> DomainShiftProblem:
    """The rotated two-moons problem of lesson 07 and ``benchmarks/two_moons_da.py``.

    Source: ``two_moons(n_samples, random_state=s)``; target: the same number of points rotated by
    ``rotation_deg`` (seed s + 10,000); test: ``n_test`` more target points (seed s + 20,000).
    The target sample for every rotation comes from the same unrotated draw, so moving the
    rotation only turns the same points.

    Parameters
    ----------
    rotation_deg : float
        Rotation of the target domain in degrees, in [0, 180].
    n_samples, n_test : int
        Points per training domain and in the target test set, in [2, 100_000].
    noise : float
        ``make_moons`` noise, in [0, 1].
    random_state : int
        The seed s, in [0, 2**31 − 20,001].
    """
    seed = check_int("random_state", random_state, 0, 2**31 - 1 - TEST_SEED_OFFSET)
    n_samples = check_int("n_samples", n_samples, 2, 100_000)
    n_test = check_int("n_test", n_test, 2, 100_000)
    x_source, y_source = two_moons(n_samples, noise=noise, random_state=seed)
    x_target, y_target = two_moons(n_samples, rotation_deg=rotation_deg, noise=noise,
                                   random_state=seed + TARGET_SEED_OFFSET)
    x_test, y_test = two_moons(n_test, rotation_deg=rotation_deg, noise=noise, random_state=seed + TEST_SEED_OFFSET)
    return DomainShiftProblem(x_source, y_source, x_target, y_target, x_test, y_test)
