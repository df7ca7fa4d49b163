"""The landing page's list of lessons (a module of its own: the Voila app and the command line
both use it, and the app must not import the command line's module)."""
from __future__ import annotations

from typing import Dict, Iterable, List

__all__ = ["landing_entries"]


def landing_entries(contents: Iterable[Dict]) -> List[Dict[str, str]]:
    """The landing page's rows for a folder listing: lessons in course order, then other notebooks.

    Each row has ``path`` (relative to the served folder), ``kind`` (``notebook`` or
    ``directory``), ``number``, ``title`` and ``summary`` (from :data:`mtlviz.guide.LESSONS`;
    notebooks not in it are listed by file name with no summary).
    """
    from mtlviz.guide import LESSONS

    course = {lesson.stem: (index, lesson) for index, lesson in enumerate(LESSONS)}
    rows = []
    for content in contents:
        if content["type"] == "directory":
            rows.append(((2, content["name"]), {"path": content["path"], "kind": "directory", "number": "",
                                                "title": content["name"] + "/", "summary": ""}))
        elif content["type"] == "notebook":
            stem = content["name"][:-len(".ipynb")]
            number, _, rest = stem.partition("_")
            if not (number.isdigit() and rest):
                number, rest = "", stem
            if stem in course:
                index, lesson = course[stem]
                key, title, summary = (0, index), lesson.title, lesson.summary
            else:
                key, title, summary = (1, content["name"]), rest.replace("_", " "), ""
            rows.append((key, {"path": content["path"], "kind": "notebook", "number": number, "title": title,
                               "summary": summary}))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]
