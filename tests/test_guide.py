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
    ((0, 0, 0.8), "label some target examples"),
    ((10, 0, 0.8), "fine-tuning"),
    ((20, 0, 0.1), "feature extraction"),
    ((3, 500, 0.5), "fine-tuning"),
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
    assert "(coming)" in guide.status_line.value


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


# -- the rules agree with what the course measured ----------------------------------------------

from mtlviz.guide import SHIFT_ANCHORS as TRANSFER_TARGET_SHIFTS  # shown under the guide's sliders


@pytest.mark.parametrize("target", list(TRANSFER_TARGET_SHIFTS))
def test_recommendations_with_labels_are_among_lesson_06s_best_strategies(target):
    """If this fails, lesson 00 recommends a method that lesson 06's shipped curves measure as
    clearly worse in the same situation (it once sent shifted targets to feature extraction,
    the worst choice there)."""
    from mtlviz.pretrained import load_transfer_curves
    from mtlviz.transfer.curves import SHOTS

    curves = load_transfer_curves()
    for k_shot in SHOTS:
        method = recommend(k_shot, 0, TRANSFER_TARGET_SHIFTS[target]).method
        strategy = next(s for s in ("feature extraction", "fine-tuning") if method.startswith(s))
        assert strategy in curves.best_strategies(target, k_shot), (target, k_shot, method)


@pytest.mark.usefixtures("torch_one_thread")  # the shipped fits were made on one thread
def test_recommendations_without_labels_agree_with_lesson_07s_fits():
    """If this fails, lesson 00 recommends domain adaptation where lesson 07's shipped fits show it
    failing, or withholds it where it clearly helps (a rotation of r degrees is a shift of r / 90)."""
    from mtlviz.data.moons import rotated_moons
    from mtlviz.pretrained import load_two_moons_da

    fits = load_two_moons_da()
    for angle in range(0, 91, 10):
        problem = rotated_moons(angle, random_state=0)
        accuracy = {m: fits[(m, angle)].score(problem.x_test, problem.y_test)
                    for m in ("source_only", "coral", "dann")}
        method = recommend(0, 0, angle / 90).method
        if method.startswith("use the source model"):
            assert accuracy["source_only"] >= 0.98, (angle, accuracy)
        elif method.startswith("domain adaptation (Deep CORAL"):
            assert accuracy["coral"] >= accuracy["source_only"] + 0.04, (angle, accuracy)
        else:
            assert method.startswith("label some target examples")
            assert max(accuracy.values()) < 0.6, (angle, accuracy)  # two balanced classes: 0.5 is chance


def test_the_meta_learning_threshold_is_where_lesson_11_measured_enough_tasks():
    """If this fails, lesson 00 tells a student that ENOUGH_TASKS related tasks are enough for
    meta-learning while lesson 11's shipped measurements say otherwise (or that fewer would do)."""
    from mtlviz.guide import ENOUGH_TASKS
    from mtlviz.pretrained.train_task_pool import load_task_pool_figure

    figure = load_task_pool_figure()
    maml, joint = figure["results"]["maml"], figure["results"]["joint"]
    unlimited = maml["inf"]["fresh"]

    def as_good_as_unlimited(label, step):
        stats = maml[label]["fresh"]
        return stats["mean"][step] - stats["ci95"][step] <= unlimited["mean"][step] + unlimited["ci95"][step]

    sizes = sorted(int(label) for label in maml if label != "inf")
    assert ENOUGH_TASKS in sizes
    for size in (s for s in sizes if s >= ENOUGH_TASKS):
        assert as_good_as_unlimited(str(size), 1) and as_good_as_unlimited(str(size), 10), size
        ahead = maml[str(size)]["fresh"]["mean"][1] + maml[str(size)]["fresh"]["ci95"][1]
        assert ahead < joint[str(size)]["fresh"]["mean"][1] - joint[str(size)]["fresh"]["ci95"][1], size
    below = max(s for s in sizes if s < ENOUGH_TASKS)
    assert not (as_good_as_unlimited(str(below), 1) and as_good_as_unlimited(str(below), 10)), below
    assert "meta-learning" in recommend(3, ENOUGH_TASKS, 0.1).method
    assert "meta-learning" not in recommend(3, ENOUGH_TASKS - 1, 0.1).method


def test_the_meta_learning_reason_agrees_with_lesson_08():
    """If this fails, lesson 00's advice says Prototypical Networks match MAML, or nearest centroid is
    within a point at 1 shot and ahead at 5, when lesson 08's shipped 600-episode table says otherwise."""
    from mtlviz.pretrained.figures import load_figure

    table = load_figure("metric_fewshot")
    reason = recommend(3, 500, 0.1).reason
    assert "match or beat MAML" in reason and "within a point of it at 1 shot and ahead at 5 shots" in reason
    for shot in ("1", "5"):
        assert table[shot]["protonet"]["mean"] + table[shot]["protonet"]["ci95"] >= table[shot]["maml"]["mean"]
    assert table["1"]["nearest_centroid_euclidean"]["mean"] >= table["1"]["maml"]["mean"] - 0.01
    assert table["5"]["nearest_centroid_euclidean"]["mean"] > table["5"]["maml"]["mean"]
