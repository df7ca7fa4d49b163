"""Tiny meta-trained weights shipped with mtlviz, and how to load them.

``sinusoid_maml.pt`` and ``sinusoid_joint.pt`` (about 12 KB each) are made by::

    python -m mtlviz.pretrained.train_sinusoid

and lesson 09's ``sinusoid_fomaml.pt`` and ``sinusoid_reptile.pt`` by::

    python -m mtlviz.pretrained.train_first_order

and lesson 04's ``seed_<variant>.pt`` (five files, about 12 KB each) by::

    python -m mtlviz.pretrained.train_seed_variants

and the glyph MAML models ``glyph_maml_{1,5}shot.pt`` (about 120 KB each) by::

    python -m mtlviz.pretrained.train_glyphs

and lesson 06's measured transfer curves ``transfer_curves.json`` (plain JSON) by::

    python -m mtlviz.pretrained.train_transfer_curves

and lesson 08's Prototypical Networks ``protonet_{1,5}shot.pt`` (about 120 KB each) by::

    python -m mtlviz.pretrained.train_protonet

and lesson 09's meta-trained ANIL models ``glyph_anil_1shot.pt`` and ``glyph_anil_transfer_1shot.pt``
(about 120 KB each) by::

    python -m mtlviz.pretrained.train_anil

and lesson 07's two-moons domain-adaptation fits ``two_moons_da.pt`` (30 networks, about
140 KB) by::

    python -m mtlviz.pretrained.train_domain

and lesson 10's point-robot policies ``navigation_{maml,pretrained}.pt`` (about 20 KB each) by::

    python -m mtlviz.pretrained.train_navigation

and lesson 11's task-pool models ``task_pool.pt`` (16 sinusoid models, about 140 KB, with their
measurements ``task_pool.json``; loaded by :mod:`mtlviz.pretrained.train_task_pool`) by::

    python -m mtlviz.pretrained.train_task_pool

each deterministic on a given torch build (seeded, fixed thread count). They are read with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only.
"""
from __future__ import annotations

from pathlib import Path

from ..meta.maml import GradientAdaptedRegressor

__all__ = ["WEIGHTS_DIR", "weights_path", "load_sinusoid", "load_seed_variant", "load_glyph_maml",
           "load_glyph_metalstm", "load_glyph_finetune", "load_transfer_curves", "two_moons_da_path", "load_two_moons_da",
           "navigation_path", "load_navigation",
           "load_protonet", "load_nearest_centroid", "load_glyph_anil"]

WEIGHTS_DIR = Path(__file__).resolve().parent
_FILES = {"maml": "sinusoid_maml.pt", "joint": "sinusoid_joint.pt",
          "fomaml": "sinusoid_fomaml.pt", "reptile": "sinusoid_reptile.pt"}  # the last two: train_first_order


def weights_path(kind: str) -> Path:
    """Path of the shipped sinusoid weights of ``kind`` ("maml", "joint", "fomaml" or "reptile")."""
    if kind not in _FILES:
        raise ValueError(f"kind must be one of {sorted(_FILES)}; got {kind!r}")
    return WEIGHTS_DIR / _FILES[kind]


def load_sinusoid(kind: str = "maml", path=None) -> GradientAdaptedRegressor:
    """Load the shipped sinusoid model: ``"maml"`` (a :class:`~mtlviz.MAML`), ``"joint"`` (the
    pretrained :class:`~mtlviz.JointTraining` baseline), ``"fomaml"`` or ``"reptile"`` (lesson 09,
    :mod:`mtlviz.meta.reptile`, made by ``python -m mtlviz.pretrained.train_first_order``).
    ``path`` overrides the file."""
    from ..meta.maml import MAML
    from ..meta.maml import JointTraining
    from ..meta.reptile import FOMAML, Reptile

    cls = {"maml": MAML, "joint": JointTraining, "fomaml": FOMAML, "reptile": Reptile}
    path = weights_path(kind) if path is None else Path(path)
    return cls[kind].load(path)


def load_seed_variant(name: str, path=None):
    """Load lesson 04's MAML trained as variant ``name`` of :data:`mtlviz.meta.seed.ALL_VARIANTS`
    (made by ``python -m mtlviz.pretrained.train_seed_variants``)."""
    from ..meta.maml import MAML
    from ..meta.seed import ALL_VARIANTS

    if name not in ALL_VARIANTS:
        raise ValueError(f"name must be one of {sorted(ALL_VARIANTS)}; got {name!r}")
    return MAML.load(WEIGHTS_DIR / f"seed_{name}.pt" if path is None else Path(path),
                     regenerate_command="python -m mtlviz.pretrained.train_seed_variants")


def load_glyph_maml(k_shot: int = 1, path=None):
    """Load the :class:`~mtlviz.meta.fewshot.MAMLClassifier` meta-trained on 5-way ``k_shot``-shot
    glyph episodes (1 or 5), made by ``python -m mtlviz.pretrained.train_glyphs``."""
    from .._base import GLYPH_REGENERATE_COMMAND
    from ..meta.fewshot import MAMLClassifier

    if k_shot not in (1, 5):
        raise ValueError(f"k_shot must be 1 or 5 (the shipped glyph models); got {k_shot!r}")
    return MAMLClassifier.load(WEIGHTS_DIR / f"glyph_maml_{k_shot}shot.pt" if path is None else Path(path),
                               regenerate_command=GLYPH_REGENERATE_COMMAND)


def load_glyph_metalstm(k_shot: int = 1, path=None):
    """Load the :class:`~mtlviz.meta.metalstm.MetaLSTM` meta-trained on 5-way ``k_shot``-shot glyph
    episodes (1 or 5), made by ``python -m mtlviz.pretrained.train_glyphs --meta-lstm``."""
    from ..meta.metalstm import MetaLSTM

    if k_shot not in (1, 5):
        raise ValueError(f"k_shot must be 1 or 5 (the shipped glyph models); got {k_shot!r}")
    return MetaLSTM.load(WEIGHTS_DIR / f"glyph_metalstm_{k_shot}shot.pt" if path is None else Path(path))


def load_glyph_finetune(path=None, **changes):
    """Load the fine-tuning baseline's backbone, pretrained on all 912 background characters
    (``python -m mtlviz.pretrained.train_glyphs --finetune``); ``changes`` override its
    per-episode settings (``strategy``, ``n_trainable_blocks``, ``n_way``, ``k_shot``, ``inner_lr``,
    ``n_inner_steps``)."""
    from ..transfer.finetune import FineTuneClassifier

    estimator = FineTuneClassifier.load(WEIGHTS_DIR / "glyph_finetune.pt" if path is None else Path(path))
    if changes:
        allowed = {"strategy", "n_trainable_blocks", "n_way", "k_shot", "n_query", "inner_lr", "n_inner_steps"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"load_glyph_finetune can change only {sorted(allowed)}; got {unknown}")
        estimator.set_params(**changes)
    return estimator


def load_protonet(k_shot: int = 1, path=None):
    """Load lesson 08's :class:`~mtlviz.meta.protonet.PrototypicalNetwork` meta-trained on 20-way
    ``k_shot``-shot glyph episodes (1 or 5), made by ``python -m mtlviz.pretrained.train_protonet``."""
    from ..meta.protonet import PrototypicalNetwork

    if k_shot not in (1, 5):
        raise ValueError(f"k_shot must be 1 or 5 (the shipped ProtoNets); got {k_shot!r}")
    return PrototypicalNetwork.load(WEIGHTS_DIR / f"protonet_{k_shot}shot.pt" if path is None else Path(path))


#: Lesson 09's meta-trained ANIL weight files, (start, K) -> file (written by ``train_anil``).
ANIL_FILES = {("random", 1): "glyph_anil_1shot.pt", ("pretrained", 1): "glyph_anil_transfer_1shot.pt",
              ("random", 5): "glyph_anil_5shot.pt", ("pretrained", 5): "glyph_anil_transfer_5shot.pt"}


def load_glyph_anil(start: str = "random", path=None, k_shot: int = 1):
    """Load lesson 09's meta-trained :class:`~mtlviz.meta.anil.ANILClassifier`, meta-trained from a
    random θ (``start="random"``) or from lesson 06's pretrained backbone (``start="pretrained"``:
    meta-transfer), K = 1 or 5, made by ``python -m mtlviz.pretrained.train_anil``."""
    from ..meta.anil import ANILClassifier

    files = ANIL_FILES
    if start not in {s for s, _ in files}:
        raise ValueError(f"start must be one of ['pretrained', 'random']; got {start!r}")
    if (start, k_shot) not in files:
        raise ValueError(f"k_shot must be one of {sorted(k for s, k in files if s == start)} for start={start!r}; "
                         f"got {k_shot!r}")
    return ANILClassifier.load(WEIGHTS_DIR / files[start, k_shot] if path is None else Path(path))


def load_nearest_centroid(distance: str = "euclidean", path=None):
    """Lesson 08's Chen et al. (2019) baseline: :class:`~mtlviz.meta.protonet.NearestCentroid` on the
    frozen conv blocks of lesson 06's pretrained glyph network (``glyph_finetune.pt``; ``path``
    overrides it), with ``distance`` "euclidean" or "cosine". No training."""
    from ..meta.protonet import NearestCentroid

    pretrained = load_glyph_finetune(path)
    return NearestCentroid(pretrained.model_, pretrained.backbone_, distance)


def load_transfer_curves(path=None):
    """Load lesson 06's measured curves (:class:`~mtlviz.transfer.curves.TransferCurves`), made by
    ``python -m mtlviz.pretrained.train_transfer_curves``; ``path`` overrides the shipped file."""
    from ..transfer.curves import TransferCurves

    return TransferCurves.load(WEIGHTS_DIR / "transfer_curves.json" if path is None else Path(path))


TWO_MOONS_DA_KIND = "two_moons_da"
TWO_MOONS_DA_COMMAND = "python -m mtlviz.pretrained.train_domain"


def two_moons_da_path() -> Path:
    """Path of lesson 07's shipped two-moons fits."""
    return WEIGHTS_DIR / "two_moons_da.pt"


def load_two_moons_da(path=None) -> dict:
    """Load lesson 07's precomputed fits: ``{(method, angle): DomainAdaptationClassifier}`` for
    source only, CORAL and DANN at target rotations 0°, 10°, …, 90° (each fitted with
    ``random_state`` equal to the problem's seed, see :mod:`mtlviz.pretrained.train_domain`).
    Raises :class:`~mtlviz.WeightsError` naming the regenerating command when the file is
    missing, corrupt or does not fit the networks it describes."""
    from .._base import WeightsError, read_weights
    from ..transfer.domain import restore_classifier

    path = two_moons_da_path() if path is None else Path(path)
    hint = f"Regenerate the shipped weights with: {TWO_MOONS_DA_COMMAND}"
    state = read_weights(path, TWO_MOONS_DA_KIND, ["angles", "seed", "params", "models"], hint)
    models = {}
    try:
        for angle in state["angles"]:
            for method in ("source_only", "coral", "dann"):
                models[(method, int(angle))] = restore_classifier(
                    state["models"][f"{method}@{angle}"], method=method, random_state=int(state["seed"]),
                    **state["params"])
    except (KeyError, TypeError, ValueError) as error:
        raise WeightsError(f"weights file {path} does not hold lesson 07's fits ({error}). {hint}") from error
    return models


NAVIGATION_COMMAND = "python -m mtlviz.pretrained.train_navigation"
_NAVIGATION_FILES = {"maml": "navigation_maml.pt", "pretrained": "navigation_pretrained.pt"}


def navigation_path(mode: str) -> Path:
    """Path of lesson 10's shipped point-robot policy of ``mode`` ("maml" or "pretrained")."""
    if mode not in _NAVIGATION_FILES:
        raise ValueError(f"mode must be one of {sorted(_NAVIGATION_FILES)}; got {mode!r}")
    return WEIGHTS_DIR / _NAVIGATION_FILES[mode]


def load_navigation(mode: str = "maml", path=None):
    """Load lesson 10's point-robot policy (:class:`~mtlviz.meta.rl.NavigationPolicy`): ``"maml"``
    (meta-trained) or ``"pretrained"`` (trained on all goals pooled), made by
    ``python -m mtlviz.pretrained.train_navigation``; ``path`` overrides the file."""
    from ..meta.rl import NavigationPolicy

    return NavigationPolicy.load(navigation_path(mode) if path is None else Path(path),
                                 regenerate_command=NAVIGATION_COMMAND)
