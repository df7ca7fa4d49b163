"""scikit-learn's two moons and digits, and Student's t, without scikit-learn or scipy in the kernel.

Importing scikit-learn (which imports scipy) costs a lesson kernel about 1 CPU-s and 80 MB for
three small things: ``make_moons``, ``load_digits`` and one t quantile. mtlviz computes them
itself; these tests hold them equal to scikit-learn's own (the tests may import it, the package
must not) and check in a fresh interpreter that neither library is loaded.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mtlviz.data.glyphs import _load_digits
from mtlviz.data.moons import _make_moons


@pytest.mark.parametrize("n_samples", [2, 3, 7, 50, 301, 1000])
@pytest.mark.parametrize("noise", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("seed", [0, 1, 20_000, 2**31 - 2])
def test_make_moons_is_scikit_learns_bit_for_bit(n_samples, noise, seed):
    """If this fails, lesson 07's moons are not the points its shipped DANN/CORAL fits
    (pretrained/two_moons_da.pt) and its committed outputs were made on: accuracies and plots
    change and nbval fails."""
    from sklearn.datasets import make_moons

    points, labels = _make_moons(n_samples, noise, seed)
    expected_points, expected_labels = make_moons(n_samples, noise=noise, random_state=seed)
    assert points.dtype == expected_points.dtype and labels.dtype == expected_labels.dtype
    assert np.array_equal(points, expected_points) and np.array_equal(labels, expected_labels)


def test_digits_are_load_digits():
    """If this fails, DigitsTasks shows students different images or wrong labels than
    scikit-learn's digits (lessons 01, 06 and 07), and their episodes and scores change."""
    from sklearn.datasets import load_digits

    images, target = _load_digits()
    digits = load_digits()
    assert images.dtype == digits.images.dtype and target.dtype == digits.target.dtype
    assert np.array_equal(images, digits.images) and np.array_equal(target, digits.target)
    assert np.array_equal(images.reshape(len(images), -1), digits.data)


def test_digits_without_scikit_learn_say_what_to_install(monkeypatch):
    """If this fails, a machine without scikit-learn gets a bare traceback (or a path error)
    instead of a message naming the missing requirement."""
    import importlib.util

    from mtlviz.data.glyphs import DigitsTasks

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "sklearn" else real_find_spec(name, *args))
    with pytest.raises(ModuleNotFoundError, match=r"install scikit-learn"):
        DigitsTasks()


def test_moons_digits_and_intervals_leave_scikit_learn_and_scipy_unloaded():
    """If this fails, every lesson kernel that draws moons, shows digits or reports a ± imports
    scikit-learn and scipy again: about 1 CPU-s and 80 MB more per kernel, 30 times over in a
    class on one machine."""
    code = textwrap.dedent("""
        import json, sys
        import mtlviz.data.moons, mtlviz.data.glyphs, mtlviz.evaluation
        mtlviz.data.moons.two_moons(50, random_state=0)
        mtlviz.data.glyphs.DigitsTasks().labelled_images()
        mtlviz.evaluation.mean_ci95([0.1, 0.2, 0.4])
        print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "scipy"})))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
