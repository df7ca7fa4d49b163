"""The student's own few-shot task (lesson 08): one 5-way 1-shot episode of unseen characters,
answered by the student and by the models, on the same images.

Like interactive-maml.github.io, the reader solves the task before seeing how the models did:
:func:`own_task` draws the episode (deterministic given its seed) with the query images in a
shuffled order, so their position gives nothing away; :func:`check_answers` refuses an incomplete
answer; :func:`model_answers` asks each model for its labels on the same support and query
images.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch

from .._validation import check_int, check_random_state
from .fewshot import MAMLClassifier

__all__ = ["OwnTask", "own_task", "check_answers", "model_answers", "OWN_TASK_WAY", "OWN_TASK_QUERIES"]

#: Classes of the student's episode, and query images per class.
OWN_TASK_WAY = 5
OWN_TASK_QUERIES = 2


class OwnTask(NamedTuple):
    """One N-way 1-shot episode for a person: support images ``(N, 1, S, S)`` labelled 0…N−1 in
    order, query images ``(N·Q, 1, S, S)`` shuffled, their labels ``(N·Q,)``, and the
    ``(script, character)`` of each class."""

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    characters: List[Tuple[str, str]]
    seed: int

    @property
    def n_way(self) -> int:
        return len(self.y_support)

    @property
    def n_queries(self) -> int:
        return len(self.y_query)


def own_task(tasks, seed: int, n_way: int = OWN_TASK_WAY, n_query: int = OWN_TASK_QUERIES) -> OwnTask:
    """The episode of ``seed`` (an int in [0, 2³¹)) from ``tasks`` (e.g. the evaluation glyphs):
    ``n_way`` classes, one support image each, ``n_query`` query images each, queries shuffled."""
    seed = check_int("seed", seed, 0, 2**31 - 1)
    if not callable(getattr(tasks, "sample_episodes", None)):
        raise ValueError(f"tasks must be an episode family with sample_episodes; got {type(tasks).__name__}")
    generator = check_random_state(seed)
    episode = tasks.sample_episodes(1, n_way, 1, n_query, generator)
    order = torch.randperm(n_way * n_query, generator=generator)
    characters = [tasks.classes[int(c)] for c in episode.classes[0]]
    return OwnTask(episode.x_support[0], episode.y_support[0], episode.x_query[0][order], episode.y_query[0][order],
                   characters, seed)


def check_answers(answers: Sequence, task: OwnTask) -> torch.Tensor:
    """The student's labels as a tensor, or ``ValueError`` saying what is missing or wrong:
    one label in [0, N − 1] per query image, none left out (``None`` means not answered)."""
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise ValueError(f"answers must be a list of {task.n_queries} labels; got {type(answers).__name__}")
    if len(answers) != task.n_queries:
        raise ValueError(f"answers must hold one label per query image ({task.n_queries}); got {len(answers)}")
    missing = [i + 1 for i, a in enumerate(answers) if a is None]
    if missing:
        raise ValueError(f"answer every query image first: {', '.join(map(str, missing))} "
                         f"{'is' if len(missing) == 1 else 'are'} not answered")
    for i, answer in enumerate(answers):
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < task.n_way:
            raise ValueError(f"answers[{i}] must be a class in [0, {task.n_way - 1}]; got {answer!r}")
    return torch.tensor(list(answers), dtype=torch.long)


def model_answers(models: Dict[str, object], task: OwnTask) -> Dict[str, torch.Tensor]:
    """Each model's labels for the query images, ``{name: (N·Q,)}``, from the same support set.

    A :class:`~mtlviz.meta.fewshot.MAMLClassifier` adapts θ on the support set with its test-time
    steps and predicts the query set at once; anything else is asked ``predict(x_support,
    y_support, x_query)`` (ProtoNet, nearest centroid, pixel nearest neighbour)."""
    answers = {}
    for name, model in models.items():
        if isinstance(model, MAMLClassifier):
            predicted = model.predict(task.x_query, model.adapt(task.x_support, task.y_support))
        elif callable(getattr(model, "predict", None)):
            predicted = model.predict(task.x_support, task.y_support, task.x_query)
        else:
            raise ValueError(f"models[{name!r}] must be a MAMLClassifier or have predict(x_support, y_support, "
                             f"x_query); got {type(model).__name__}")
        answers[name] = predicted.detach().long()
    return answers
