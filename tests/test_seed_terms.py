"""The lessons teach the seed (../shared/seed, in Chinese): each names the section it teaches and
gives the seed's own terms beside the English ones, and every Chinese word a lesson shows is the
seed's, verbatim (a mistyped or invented term would send a student looking for words that are not there)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_COPY = ROOT / "seed" / "seed_zh.md"  # the seed, kept in the repository so students and CI have it
SHARED_SEED = ROOT.parent / "shared" / "seed"  # the team's original, beside a development checkout
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")


def markdown(lesson: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(lesson.read_text())["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED_COPY.read_text()


def test_the_repository_copy_of_the_seed_is_the_original():
    """If this fails, the copy the lessons are checked against has drifted from the team's seed."""
    originals = sorted(SHARED_SEED.glob("*.txt"))
    if not originals:
        pytest.skip(f"the team's seed folder is not beside this checkout ({SHARED_SEED}); the copy is checked in")
    assert SEED_COPY.read_text() == "\n".join(t.read_text() for t in originals)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_chinese_word_in_a_lesson_is_the_seeds(lesson, seed):
    """If this fails, the lesson shows Chinese the seed does not contain (a typo or a term of our own)."""
    foreign = [run for run in CJK.findall(markdown(lesson)) if run not in seed]
    assert foreign == [], f"{lesson.stem}: not in the seed: {foreign}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_names_its_seed_section_and_the_seeds_terms(lesson):
    """If this fails, a student cannot tell which part of the seed the lesson teaches, or read it
    beside the seed: each lesson names a section (§) and gives at least one seed term in Chinese."""
    text = markdown(lesson)
    assert re.search(r"§\s?\d", text), f"{lesson.stem} names no seed section"
    assert CJK.search(text), f"{lesson.stem} gives none of the seed's terms in Chinese"


def test_lesson_00_gives_every_core_term_of_the_seed():
    """Lesson 00 is the map: the seed's core vocabulary (§1-§3, §6, §8) appears there in Chinese."""
    text = markdown(ROOT / "notebooks" / "00_start_here.ipynb")
    terms = ["元学习", "迁移学习", "学习如何学习", "元学习器", "少样本学习", "知识迁移", "源领域", "目标领域", "领域适应",
             "模型无关元学习", "元学习 LSTM", "微调", "特征提取", "机器人控制", "元迁移学习", "数据需求", "模型复杂度"]
    assert [t for t in terms if t not in text] == []
