"""Lesson 00's guide: the method rules, the course map and the exercise check."""
from __future__ import annotations

import pytest

from mtlviz.exercises import check_method_choices
from mtlviz.guide import LESSONS, SCENARIOS, recommend
from mtlviz.widgets import CourseGuide, course_map_html

from tests._lessons import LESSONS as NOTEBOOKS


def test_every_notebook_is_on_the_course_map():
    """A lesson missing from the map would be invisible to students starting at lesson 00."""
    stems = {lesson.stem for lesson in LESSONS}
    assert {name[:-len(".ipynb")] for name in NOTEBOOKS} <= stems
    assert [lesson.stem for lesson in LESSONS] == sorted(stems), "the map must list lessons in course order"


def test_course_map_links_only_available_lessons():
    """Links to lessons that do not exist yet would give the class a 404."""
    html = course_map_html(["03_maml_inner_and_outer_loop"])
    assert 'href="03_maml_inner_and_outer_loop.ipynb"' in html
    assert 'href="05_meta_lstm.ipynb"' not in html and "(coming)" in html


@pytest.mark.parametrize("situation, method", [
    ((3, 500, 0.1), "meta-learning"),
    ((0, 0, 0.5), "domain adaptation"),
    ((0, 0, 0.0), "source model"),
    ((10, 0, 0.8), "domain adaptation"),
    ((20, 0, 0.2), "feature extraction"),
    ((2000, 0, 0.3), "fine-tuning"),
])
def test_recommend_follows_its_rules(situation, method):
    """Each rule the lesson teaches must be reachable and give its method."""
    assert method in recommend(*situation).method


def test_more_labels_move_the_advice_from_feature_extraction_to_fine_tuning():
    """The lesson's exercise 2: somewhere along the labels axis the advice switches, once."""
    methods = [recommend(n, 0, 0.1).method for n in range(1, 200)]
    switches = sum(a != b for a, b in zip(methods, methods[1:]))
    assert methods[0].startswith("feature extraction") and methods[-1].startswith("fine-tuning") and switches == 1


def test_recommend_rejects_bad_input():
    """A negative count or a shift outside [0, 1] must name the parameter and range."""
    with pytest.raises(ValueError, match=r"labelled_per_class must be in \[0, 100000\]"):
        recommend(-1, 0, 0.0)
    with pytest.raises(ValueError, match=r"domain_shift must be in \[0, 1\]"):
        recommend(1, 0, 1.5)


def test_guide_widget_follows_its_sliders():
    """The class moves a slider and must read new advice."""
    guide = CourseGuide(available=[])
    assert "meta-learning" in guide.status
    guide.related_tasks = 0
    assert "feature extraction" in guide.status
    assert "(coming)" in guide._answer.value


def test_check_method_choices():
    """The exercise accepts the guide's answers and hints at the first wrong one."""
    right = {name: recommend(l, t, s).method for name, _, l, t, s in SCENARIOS}
    keywords = {name: next(k for k in ("meta-learning", "domain adaptation", "fine-tuning", "feature extraction")
                            if k in method) for name, method in right.items()}
    assert check_method_choices(keywords)
    wrong = dict(keywords, gestures="fine-tuning")
    assert "gestures: not fine-tuning" in str(check_method_choices(wrong))
    assert "missing" in str(check_method_choices({"gestures": ..., "scanner": ..., "plants": ...}))
    assert "use one of" in str(check_method_choices(dict(keywords, plants="magic")))
