"""The landing page's list of lessons, and the waiting room's name for one (a module of its own:
the Voila app and the command line both use it, and the app must not import the command line's
module)."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Dict, Iterable, List, Tuple

__all__ = ["landing_entries", "lesson_heading"]


def _course():
    from mtlviz.guide import LESSONS

    return {lesson.stem: (index, lesson) for index, lesson in enumerate(LESSONS)}


def _describe(stem: str, course) -> Tuple[Tuple, str, str, str]:
    """(sort key, number, title, summary) of a notebook named ``stem``."""
    number, _, rest = stem.partition("_")
    if not (number.isdigit() and rest):
        number, rest = "", stem
    if stem in course:
        index, lesson = course[stem]
        return (0, index), number, lesson.title, lesson.summary
    return (1, stem + ".ipynb"), number, rest.replace("_", " "), ""


def lesson_heading(path: str) -> str:
    """How the waiting room names a notebook: "Lesson 03 — <its title>" (or its file name in words)."""
    stem = PurePosixPath(path).name
    stem = stem[:-len(".ipynb")] if stem.endswith(".ipynb") else stem
    _, number, title, _ = _describe(stem, _course())
    return f"Lesson {number} — {title}" if number else title


def landing_entries(contents: Iterable[Dict]) -> List[Dict[str, str]]:
    """The landing page's rows for a folder listing: lessons in course order, then other notebooks.

    Each row has ``path`` (relative to the served folder), ``kind`` (``notebook`` or
    ``directory``), ``number``, ``title`` and ``summary`` (from :data:`mtlviz.guide.LESSONS`;
    notebooks not in it are listed by file name with no summary).
    """
    course = _course()
    rows = []
    for content in contents:
        if content["type"] == "directory":
            rows.append(((2, content["name"]), {"path": content["path"], "kind": "directory", "number": "",
                                                "title": content["name"] + "/", "summary": ""}))
        elif content["type"] == "notebook":
            key, number, title, summary = _describe(content["name"][:-len(".ipynb")], course)
            rows.append((key, {"path": content["path"], "kind": "notebook", "number": number, "title": title,
                               "summary": summary}))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]
