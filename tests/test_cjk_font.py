"""The font that draws the lessons' Chinese terms in a served page (mtlviz/serve/cjk_font.py).

A browser test (tests/test_browser.py) checks that a served lesson's page loads it.
"""
from __future__ import annotations

import pytest
from fontTools.ttLib import TTFont

from mtlviz.serve import cjk_font


def test_every_chinese_character_of_the_lessons_is_in_the_served_font():
    """If this fails, a lesson has a Chinese character the served font lacks: on a machine without
    a Chinese font of its own, the student sees an empty box in its place."""
    characters = cjk_font.lesson_characters()
    assert len(characters) > 100, "the lessons' Chinese terms were not found: did the notebooks move?"
    covered = {chr(code) for code in TTFont(str(cjk_font.FONT_PATH)).getBestCmap()}
    missing = sorted(characters - covered)
    assert not missing, (f"characters missing from {cjk_font.FONT_PATH.name}: {''.join(missing)}; regenerate it: "
                         "apt-get install fonts-noto-cjk && python -m mtlviz.serve.cjk_font")


def test_the_served_font_is_what_its_command_makes_from_the_lessons(tmp_path):
    """If this fails, the shipped font is not what ``python -m mtlviz.serve.cjk_font`` makes of
    today's lessons (a character no lesson uses any more, or another source font): regenerate it.
    scripts/test installs Debian's fonts-noto-cjk, the source, with Chromium."""
    if not cjk_font.SOURCE_FONT.is_file():
        pytest.skip(f"{cjk_font.SOURCE_FONT} is not installed (apt-get install fonts-noto-cjk; scripts/test does)")
    made = tmp_path / "made.woff"
    cjk_font.build(cjk_font.lesson_characters(), out=made)
    assert made.read_bytes() == cjk_font.FONT_PATH.read_bytes()


def test_the_template_asks_for_the_font_for_the_ranges_it_was_made_for():
    """If this fails, the page asks the served font for characters it was not cut for (empty
    boxes again), or not for all of the lessons' Chinese."""
    template = (cjk_font.TEMPLATE / "index.html.j2").read_text(encoding="utf-8")
    assert f"unicode-range: {cjk_font.unicode_range()};" in template
    assert cjk_font.unicode_range() == "U+3000-303F, U+3400-4DBF, U+4E00-9FFF, U+FF00-FFEF"


def test_the_served_font_keeps_its_licence_beside_it():
    """The SIL Open Font License asks that the licence travel with the font."""
    licence = (cjk_font.FONT_PATH.parent / "NOTO-CJK-LICENSE.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "mtlviz-cjk.woff" in licence


def test_building_from_no_characters_or_a_missing_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match="characters must name at least one CJK character"):
        cjk_font.build(set(), out=tmp_path / "x.woff")
    with pytest.raises(FileNotFoundError, match="apt-get install fonts-noto-cjk"):
        cjk_font.build({"元"}, source=tmp_path / "none.ttc", out=tmp_path / "x.woff")


def test_lesson_characters_reads_sources_and_outputs_but_not_latin(tmp_path):
    import json

    notebook = tmp_path / "x.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["meta-learning (元学习)，"]},
        {"cell_type": "code", "source": "print(1)", "outputs": [{"output_type": "stream", "text": "迁移"}]},
    ]}), encoding="utf-8")
    assert cjk_font.lesson_characters([notebook]) == set("元学习，迁移")
