"""The map of the course and a rule-of-thumb guide to choosing a method (lesson 00).

The seed's FAQ (§9) answers "how to choose a meta-learning or transfer-learning method?" with
"it depends on the task and the data: their complexity, scale and quality". :func:`recommend`
turns that into explicit, teachable rules over three quantities a learner can estimate. They
are heuristics for a first choice, not laws; each answer says why and links to the lesson
that shows the method working.
"""
from __future__ import annotations

from typing import NamedTuple, Tuple

__all__ = ["Lesson", "LESSONS", "Recommendation", "recommend", "NEAR_SHIFT", "LARGE_SHIFT", "ENOUGH_TASKS",
           "SHIFT_ANCHORS", "SHIFT_SCALE_TEXT"]

#: Below this domain shift the target counts as near the source (lesson 06's new glyph scripts).
NEAR_SHIFT = 0.2
#: From this shift on, unsupervised domain adaptation failed in every measurement (lesson 07).
LARGE_SHIFT = 0.6
#: From this many related training tasks on, meta-learning is worth trying (lesson 11: MAML trained
#: on 5 sine-wave tasks adapts to new ones as well as MAML trained on an unlimited supply, within
#: the 95% intervals after 1 and after 10 steps; on 1-2 it memorises its tasks). One training run
#: per pool size: the models of before 2026-12-03 night, trained by the same command through a
#: compiled forward that differed only by rounding, put this at 25, so the recommendation says
#: how loose it is. tests/test_guide.py checks this against the shipped figure.
ENOUGH_TASKS = 5
#: Where the course's own data sit on the guide's domain-shift scale (lesson 06's targets, by key
#: of :data:`mtlviz.transfer.curves.TARGETS`); lesson 07's moons rotated by r degrees sit at r / 90.
SHIFT_ANCHORS = {"glyphs": 0.1, "negative": 0.5, "digits": 0.8}
SHIFT_SCALE_TEXT = ("domain difference: lesson 06's new glyph scripts {glyphs}, the same in negative {negative}, "
                    "handwritten digits {digits}; lesson 07's moons rotated by r° sit at r / 90").format(**SHIFT_ANCHORS)


class Lesson(NamedTuple):
    """One lesson of the course: file stem, title, one line, and the seed sections it teaches."""

    stem: str
    title: str
    summary: str
    seed_sections: Tuple[str, ...]


LESSONS: Tuple[Lesson, ...] = (
    Lesson("00_start_here", "Start here", "why learn to learn; meta-learning vs transfer learning; choosing a method",
           ("1", "2", "6", "7", "8", "9")),
    Lesson("01_few_shot_tasks", "Few-shot tasks", "tasks, episodes, N-way K-shot sampling", ("2.1",)),
    Lesson("02_maml_formula_made_visible", "The MAML formula, made visible",
           "every term of the objective on a two-parameter model", ("4",)),
    Lesson("03_maml_inner_and_outer_loop", "MAML: the inner and outer loop",
           "adapting to one task, meta-training θ live, MAML vs pretraining", ("3.1",)),
    Lesson("04_seed_code_example_corrected", "The seed's code, corrected",
           "the TensorFlow example's four bugs and the working PyTorch step", ("5",)),
    Lesson("05_meta_lstm", "Meta-LSTM", "an LSTM that learns the optimiser (Ravi & Larochelle 2017)", ("3.1",)),
    Lesson("06_fine_tuning_vs_feature_extraction", "Fine-tuning vs feature extraction",
           "when to retrain a pretrained network and when to freeze it", ("2.2", "3.2")),
    Lesson("07_domain_adaptation", "Domain adaptation", "source-only, CORAL and DANN under a domain shift",
           ("2.2", "3.2")),
    Lesson("08_metric_based_meta_learning", "Metric-based meta-learning",
           "Prototypical Networks and nearest centroid; solve a 1-shot task yourself, beside MAML", ("2.1", "8.1")),
    Lesson("09_first_order_and_feature_reuse", "First-order meta-learning and feature reuse",
           "MAML, first-order MAML and Reptile side by side; what MAML's inner loop changes per layer; ANIL",
           ("2.3", "8.1")),
    Lesson("10_meta_rl_point_robot", "Meta-RL: a point robot adapts", "robot control: MAML with policy-gradient "
           "steps on a point robot that must find a hidden goal, beside a pretrained policy", ("6.1",)),
    Lesson("11_how_many_tasks", "How many tasks does meta-learning need?",
           "data needs: MAML and a pretrained baseline meta-trained on 1 to unlimited sinusoid tasks; "
           "meta-training loss against new-task loss", ("8.2",)),
    Lesson("12_what_meta_learning_costs", "What meta-learning costs",
           "time and memory per meta-step against the inner steps for MAML, first-order MAML, Reptile and ANIL; "
           "transfer learning in language and speech; the libraries to use next", ("8.2", "6.2", "7")),
)


class Recommendation(NamedTuple):
    """A method, the lesson that shows it, and the reason in one or two sentences."""

    method: str
    lesson: str
    reason: str


def recommend(labelled_per_class: int, related_tasks: int, domain_shift: float) -> Recommendation:
    """Suggest a first method to try.

    Parameters
    ----------
    labelled_per_class : int
        Labelled examples per class in the target task, in [0, 100000].
    related_tasks : int
        Related tasks with their own labels available for meta-training, in [0, 100000].
    domain_shift : float
        How different the target inputs look from the source data: 0 (same distribution) to
        1 (very different), in [0, 1].
    """
    from ._validation import check_int, check_real  # imports torch: not needed for the course map

    labelled = check_int("labelled_per_class", labelled_per_class, 0, 100_000)
    tasks = check_int("related_tasks", related_tasks, 0, 100_000)
    shift = check_real("domain_shift", domain_shift, 0.0, 1.0)
    # The thresholds come from the course's own measurements (tests/test_guide.py checks each rule
    # against the shipped curves): lesson 06's targets near the source (new glyph scripts, shift
    # below NEAR_SHIFT) and shifted or far from it (negative images, digits); lesson 07's two
    # moons, with a rotation of r degrees read as a shift of r / 90.
    if labelled == 0:
        if shift < NEAR_SHIFT:
            return Recommendation("use the source model as it is", "06_fine_tuning_vs_feature_extraction",
                                  "No target labels and (almost) no domain shift: the source model already fits "
                                  "(lesson 07: source only scores nearly as well as adapted models on small "
                                  "rotations); there is nothing to adapt with.")
        if shift < LARGE_SHIFT:
            return Recommendation("domain adaptation (Deep CORAL first)", "07_domain_adaptation",
                                  "No target labels, but the target inputs differ from the source: align the two "
                                  "domains' features using unlabelled target data. In lesson 07 CORAL beats source "
                                  "only at every moderate rotation; DANN is less reliable (at some rotations it "
                                  "does worse than source only).")
        return Recommendation("label some target examples, then fine-tune", "07_domain_adaptation",
                              "The target looks very different and nothing is labelled: in lesson 07 every "
                              "unsupervised method fails at large rotations (none gets even 60% of two classes "
                              "right), so a few labels are worth more than any alignment.")
    if shift >= NEAR_SHIFT:
        return Recommendation("fine-tuning (retrain all layers)", "06_fine_tuning_vs_feature_extraction",
                              "The target looks different from the source: in lesson 06 frozen features (feature "
                              "extraction) fall clearly behind on shifted and far targets from 2 labels per class "
                              "on, while retraining every layer is always among the best.")
    if labelled <= 10 and tasks >= ENOUGH_TASKS:
        return Recommendation("meta-learning (MAML; Prototypical Networks for classification)",
                              "03_maml_inner_and_outer_loop",
                              "Very few labels per class, but many related tasks: learn an initialisation from which "
                              "a few gradient steps fit a new task (lesson 03: one step from MAML's θ cuts the "
                              "error about fivefold; from a pretrained one it barely moves). Lesson 11: on sine "
                              f"waves MAML needed about {ENOUGH_TASKS} training tasks to adapt as well as with an "
                              "unlimited supply (one training run per pool size: retraining with a change of rounding "
                              "alone moved this between 5 and 25), and with one or two it memorises them. For "
                              "classification, lesson 08's "
                              "Prototypical Networks match or beat MAML with no inner loop, and a plain "
                              "nearest-centroid classifier on pretrained features is within a point of it at 1 shot "
                              "and ahead at 5 shots.")
    if labelled <= 30:
        return Recommendation("feature extraction (frozen backbone + new head)",
                              "06_fine_tuning_vs_feature_extraction",
                              "A target close to the source and few labels: the pretrained features already "
                              "separate the classes (lesson 06: feature extraction ties fine-tuning on near "
                              "targets), and a small head is cheaper to train and harder to overfit.")
    return Recommendation("fine-tuning (retrain all or the top layers)", "06_fine_tuning_vs_feature_extraction",
                          "Enough labels to adjust the pretrained weights themselves, which adapts the features to "
                          "the target as well (on near targets every method ties by then: lesson 06).")


#: Three situations for lesson 00's exercise: (description, labelled_per_class, related_tasks, domain_shift).
SCENARIOS = (
    ("gestures", "A phone app must recognise a user's 5 new hand gestures from 3 examples each; you have "
                 "labelled recordings of 500 other gesture sets.", 3, 500, 0.1),
    ("scanner", "An X-ray classifier trained on one hospital's scanner must work on a new scanner's images; "
                "none of the new images is labelled yet.", 0, 0, 0.5),
    ("plants", "A plant-disease classifier built from an ImageNet-pretrained network, with 2,000 labelled "
               "photos per disease.", 2000, 0, 0.3),
)
