"""Tiny meta-trained weights shipped with mtlviz, and how to load them.

``sinusoid_maml.pt`` and ``sinusoid_joint.pt`` (about 10 KB each) are made by::

    python -m mtlviz.pretrained.train_sinusoid

which is deterministic on a given torch build (seeded, fixed thread count). They are read with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only.
"""
from __future__ import annotations

from pathlib import Path

from .._estimator import GradientAdaptedRegressor

__all__ = ["WEIGHTS_DIR", "weights_path", "load_sinusoid"]

WEIGHTS_DIR = Path(__file__).resolve().parent
_FILES = {"maml": "sinusoid_maml.pt", "joint": "sinusoid_joint.pt"}


def weights_path(kind: str) -> Path:
    """Path of the shipped sinusoid weights of ``kind`` ("maml" or "joint")."""
    if kind not in _FILES:
        raise ValueError(f"kind must be one of {sorted(_FILES)}; got {kind!r}")
    return WEIGHTS_DIR / _FILES[kind]


def load_sinusoid(kind: str = "maml", path=None) -> GradientAdaptedRegressor:
    """Load the shipped sinusoid model: ``"maml"`` (a :class:`~mtlviz.MAML`) or ``"joint"``
    (the pretrained :class:`~mtlviz.JointTraining` baseline). ``path`` overrides the file."""
    from ..maml import MAML
    from ..transfer import JointTraining

    cls = {"maml": MAML, "joint": JointTraining}
    path = weights_path(kind) if path is None else Path(path)
    return cls[kind].load(path)
