"""Tiny meta-trained weights shipped with mtlviz, and how to load them.

``sinusoid_maml.pt`` and ``sinusoid_joint.pt`` (about 12 KB each) are made by::

    python -m mtlviz.pretrained.train_sinusoid

and lesson 04's ``seed_<variant>.pt`` (four files, about 12 KB each) by::

    python -m mtlviz.pretrained.train_seed_variants

which is deterministic on a given torch build (seeded, fixed thread count). They are read with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only.
"""
from __future__ import annotations

from pathlib import Path

from .._estimator import GradientAdaptedRegressor

__all__ = ["WEIGHTS_DIR", "weights_path", "load_sinusoid", "load_seed_variant"]

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


def load_seed_variant(name: str, path=None):
    """Load lesson 04's MAML trained as variant ``name`` of :data:`mtlviz.seed.VARIANTS`
    (made by ``python -m mtlviz.pretrained.train_seed_variants``)."""
    from ..maml import MAML
    from ..seed import VARIANTS

    if name not in VARIANTS:
        raise ValueError(f"name must be one of {sorted(VARIANTS)}; got {name!r}")
    return MAML.load(WEIGHTS_DIR / f"seed_{name}.pt" if path is None else Path(path),
                     regenerate_command="python -m mtlviz.pretrained.train_seed_variants")
