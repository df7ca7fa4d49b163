"""Every number the prose of every lesson states has a source a test or nbval checks (issue 13).

A number in a markdown cell is *sourced* when
  (a) a cell tagged ``nbval-check-output`` in the same lesson shows it in its stored output (rendered or
      printed, so nbval compares it on every run): the prose's number must equal an output number of the
      same kind (a percentage, ×-factor or plain number) rounded to the digits the prose writes ("about 97%"
      is sourced by a printed 97.0% or 96.8%, not by 96.4%); or
  (b) an entry of ``SOURCES`` below names it, with the phrase of its sentence it appears in and why it
      needs no output: a paper's figure cited in the same sentence, a definition or setting (N = 5, "3 inner
      steps"), or the test in tests/ that checks it against the artefact it came from.
Not counted as numbers: section and list numbering, seed sections (§4.1), lesson numbers, years of a
citation, and anything inside inline code or LaTeX math (code and formula notation: the settings a student
types or reads as a definition), except a percentage in math.

If this test fails, a lesson states a number (a score, a count, a factor) that nothing checks: when the
shipped artefacts or the code change, the sentence silently goes stale and teaches a wrong figure.
"""
from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Tuple

import nbformat
import pytest

from tests._lessons import NOTEBOOK_DIR

CHECK_TAG = "nbval-check-output"
#: Every numbered lesson, the ones added later too (a new lesson must source its numbers from the start).
PROSE_LESSONS = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


class Number(NamedTuple):
    text: str          # as written, e.g. "97%", "28,650", "×25", "0.85"
    value: float
    decimals: int      # digits after the point as written
    kind: str          # "%", "x" or ""
    sentence: str      # the sentence it was found in (for the allowlist's phrase and the message)


_NUMBER = re.compile(r"(?<![\w.\-−])(?P<times>×\s?)?(?P<sign>[-−+])?(?P<num>\d{1,3}(?:,\d{3})+|\d+)"
                     r"(?P<frac>\.\d+)?(?P<pct>\s?%)?(?P<times2>\s?×(?!\s?\d))?")
# Factors written as words ("cuts the error about fivefold"): a ×-number.
_FOLDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_FOLD = re.compile(r"\b(" + "|".join(_FOLDS) + r")fold\b", re.I)
# Masked before numbers are read: what is notation, structure or a citation rather than a result.
_MASKS = [
    re.compile(r"```.*?```", re.S),                              # fenced code
    re.compile(r"`[^`]*`"),                                      # inline code: settings a student types
    re.compile(r"\$\$.*?\$\$", re.S),                            # display math: formula notation
    re.compile(r"(?<!\\)\$[^$]+\$"),                             # inline math: definitions such as $K = 5$
    re.compile(r"^\s*#+\s*\d+(?:\.\d+)*\.?", re.M),              # "## 3." headings
    re.compile(r"^\s*\d+\.(?=\s)", re.M),                        # "1. " list items
    re.compile(r"§\s?\d+(?:\.\d+)*(?:\s?[-–,]\s?§?\d+(?:\.\d+)*)*"),  # seed sections §4.1, §6-§8
    re.compile(r"\b[Ll]esson\s\d\d,?\s(?:section|§)\s?\d+\b"),       # a place in the course: lesson 09, section 6
    re.compile(r"\b[Ll]essons?\s\d\d(?:'s)?(?:\s?(?:[-–,]|and)\s?\d\d(?:'s)?)*"),  # lesson 03, lessons 02-04, 05's and 06's
    re.compile(r"^\s*#\s*\d\d\s·", re.M),                        # "# 03 · title"
    re.compile(r"\b\d{1,2}(?:\s?/\s?\d{1,2})*-(?:way|shot)\b"),     # task names: 5-way, 1-shot, 1 / 5-shot
    # years of a citation: "Finn et al. 2017", "Ravi & Larochelle (2017)", "ICML 2017", "Sun & Saenko, 2016"
    # and "Chen et al.'s (2019)"
    re.compile(r"(?:et al\.?(?:'s)?|[A-Z][\w'-]+|&\s?[A-Z][\w'-]+|ICML|NeurIPS|ICLR),?\s\(?(?:19[5-9]\d|20[0-2]\d)\)?"),
]


def _mask(markdown: str) -> str:
    """Blank out the masked spans (same length, so sentences keep their positions)."""
    keep_pct = re.compile(r"\d+(?:\.\d+)?\s?\\?%")
    for mask in _MASKS:
        def blank(m):
            span = m.group(0)
            if span.startswith("$") and keep_pct.search(span):   # a percentage in math is still a result
                return re.sub(r"[^\d.%\s]", " ", span.replace("\\%", " %"))
            return " " * len(span)
        markdown = mask.sub(blank, markdown)
    return markdown


def _sentences(text: str) -> List[Tuple[int, int]]:
    """(start, end) of each sentence or list item / table row."""
    spans, start = [], 0
    for m in re.finditer(r"(?<=[.!?:;])(?<!al\.)(?<!e\.g\.)(?<!i\.e\.)\s+(?=[A-Z*(\-|])|\n\s*(?=[-|*]|\d+\.\s)|\n\n", text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def prose_numbers(markdown: str) -> List[Number]:
    """Every number a reader sees in ``markdown`` as a stated quantity."""
    masked = _mask(markdown)
    spans = _sentences(markdown)
    found = [Number(m.group(0), float(_FOLDS[m.group(1).lower()]), 0, "x",
                    " ".join(next(markdown[a:b] for a, b in spans if a <= m.start() < b + 1).split()))
             for m in _FOLD.finditer(masked)]
    for m in _NUMBER.finditer(masked):
        digits = m.group("num").replace(",", "")
        frac = m.group("frac") or ""
        sign = -1.0 if m.group("sign") in ("-", "−") else 1.0
        kind = "%" if m.group("pct") else ("x" if (m.group("times") or m.group("times2")) else "")
        sentence = next(markdown[a:b] for a, b in spans if a <= m.start() < b + 1)
        found.append(Number(m.group(0).strip(), sign * float(digits + frac), len(frac) - 1 if frac else 0,
                            kind, " ".join(sentence.split())))
    return found


def output_numbers(notebook) -> List[Tuple[float, str]]:
    """(value, kind) of every number in the stored outputs of the cells nbval compares."""
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or CHECK_TAG not in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if "text" in out:
                texts.append(out["text"])
            for mime in ("text/markdown", "text/plain"):
                if mime in out.get("data", {}):
                    texts.append(out["data"][mime])
    numbers = []
    for text in texts:
        for m in _NUMBER.finditer(text):
            sign = -1.0 if m.group("sign") in ("-", "−") else 1.0
            kind = "%" if m.group("pct") else ("x" if (m.group("times") or m.group("times2")) else "")
            numbers.append((sign * float(m.group("num").replace(",", "") + (m.group("frac") or "")), kind))
    return numbers


def shown(number: Number, outputs: List[Tuple[float, str]]) -> bool:
    """True if an output number of the same kind, rounded as the prose writes it, equals the prose's."""
    return any(kind == number.kind and round(value, number.decimals) == number.value
               for value, kind in outputs)


def _bare(text: str) -> str:
    """A number as an allowlist entry writes it: without spaces ("48.70 %" -> "48.70%", "× 6" -> "×6")."""
    return text.replace(" ", "")


class Source(NamedTuple):
    phrase: str        # a phrase of the sentence the numbers appear in
    numbers: str       # the numbers as written without inner spaces, space-separated
    why: str           # citation, definition, or the test that checks it against the artefact


# Per lesson: the numbers that need no output, each with its source. Keep this short: a computed number
# belongs next to the output that states it, or rendered from code.
DEF = "definition/setting"
COUNTS_TEST = "test_counts_the_lessons_state_match_the_shipped_data_and_networks (below)"
SOURCES: Dict[str, List[Source]] = {
    "01": [
        Source("Omniglot: 1,623 handwritten characters from 50 alphabets", "1,623",
               "Omniglot's size (Lake et al. 2015, Science), cited by name in the sentence"),
        Source("every letter of 12 scripts in DejaVu Sans", "12",
               f"{COUNTS_TEST} (12 scripts)"),
        Source("as with Omniglot's 20 people drawing each character", "20", "Omniglot's design (Lake et al. 2015)"),
        Source("bundled 8×8 handwritten digits", "8", "scikit-learn's digits are 8×8 images (data set definition)"),
        Source("four blocks of 32 filters on 20-pixel images", "20", "architecture (mtlviz.nets.ConvNet, load_glyph_maml)"),
        Source("Below it meets 40 episodes", "40", "setting: fewshot_first_look(n_episodes=40), tested in test_lesson_figures.py"),
        Source("These numbers were computed once", "40", "setting: fewshot_first_look(n_episodes=40)"),
        Source("near chance (one in five, 20%)", "20%", "definition: chance for 5-way is 1/5"),
        Source("Over 600 test episodes", "600", "setting of benchmarks/glyph_fewshot_eval.py (figures in RESULTS.md)"),
        Source("then predicts its 25 query images", "25", "setting: 5-way with 5 query images per class"),
        Source("glyph family has 1,212 classes from 12 scripts", "1,212 12 10",
               f"{COUNTS_TEST}; digits have 10 classes (data set definition)"),
        Source("With digits there are only 10 classes", "10", "data set definition"),
        Source("compared with the 1,212 glyph classes", "1,212", COUNTS_TEST),
    ],
    "02": [
        Source("| tasks in the meta-batch |", "4", DEF),
        Source("mtlviz draws 200 meta-batches of 4 tasks", "4 95%", "setting of the gap-vs-K cell (its output is compared)"),
        Source("the same tasks with 200 support and 400 query", "400", "setting: 20 times the points (definition)"),
        Source("miniImageNet accuracy 48.70 %", "48.70% 48.07% 47.07% 49.97%",
               "paper figures: Finn et al. 2017, Table 1; Nichol et al. 2018, Table 1 (Reptile without and with "
               "transduction; checked against the papers' tables, issue 13)"),
    ],
    "03": [
        Source("On one meta-batch of 25 tasks", "25", "setting (the paper's meta-batch size)"),
        Source("report 48.07% against 48.70%", "48.07% 48.70%", "paper figures: Finn et al. 2017, Table 1"),
        Source("Over 100 fresh tasks", "100", "setting of the compared cell below it"),
    ],
    "04": [
        Source("Bugs 1 and 4 crash", "4", "bug numbering"),
    ],
    "05": [
        Source("an ordinary LSTM layer of 20 units", "20", "architecture (Ravi & Larochelle 2017; mtlviz.meta.metalstm)"),
        Source("The learner here has about 28,000 parameters", "28,000",
               f"rounded count of the 5-way ConvNet learner: {COUNTS_TEST}"),
        Source("The forget-gate bias starts high", "4 6 −5 −4", "initialisation (Ravi & Larochelle 2017, §3.3; mtlviz.meta.metalstm)"),
        Source("clipped to norm 0.25", "0.25", DEF),
        Source("The search adapts 2 × 6 × 20 episodes", "×6 ×20 30",
               "setting of sgd_tuning (2 shots × 6 rates × 20 episodes); the 30 s is a rough time, not a result"),
        Source("How good is it? 600 test episodes", "600", "setting of benchmarks/glyph_fewshot_eval.py"),
        Source("scores every method on the same 600 episodes", "600 15 95%", DEF),
        Source("recomputes the first 50 episodes of every 1-shot row", "50",
               "setting: figures.METALSTM_CHECK_EPISODES (test_metalstm_fewshot_is_recomputed_for_the_first_chunk)"),
        Source("Ravi & Larochelle (2017, Table 1) report", "43.4% 60.6% 63.1%",
               "paper figures: Ravi & Larochelle 2017, Table 1; Finn et al. 2017, Table 1"),
        Source("What would a forget gate of 0.9", "0.9", "exercise setting"),
    ],
    "06": [
        Source("Classify the 912 characters", "912", f"{COUNTS_TEST} (background classes)"),
        Source("upscaled from 8×8", "8", "scikit-learn's digits are 8×8 images"),
        Source("the source row shows 10 of its 912 classes", "912", "as above"),
        Source("The new output layer replaces the 912-way one", "912", "as above"),
        Source("trains the same way: 100 steps", "100 0.1", "setting (curves.settings: n_steps, lr)"),
        Source("held-out target images (30 per class)", "30 12", "setting (curves.settings n_query; episodes_at)"),
        Source("Training all 3 × 6 × 6 points", "×6", "3 strategies × 6 frozen counts × 6 K values (SETTINGS, SHOTS)"),
        Source("how far do 100 small steps take it", "100", "setting"),
    ],
    "07": [
        Source("a feature extractor $G_f$ (2 → 32 → 4, ReLU)", "32 4 400", "architecture and training setting (DomainAdaptationClassifier defaults)"),
        Source("The fits for θ = 0°, 10°, …, 90° ship", "10 90", "the shipped angles (load_two_moons_da)"),
        Source("ADAPT's two-moons example reports 0.84", "0.84",
               "ADAPT's documentation example (de Mathelin et al. 2021, arXiv:2107.03049, two-moons example)"),
        Source("so λ starts at 0 and grows", "10", "definition: γ = 10 (Ganin et al. 2016)"),
        Source("the same networks' 4-D features", "4", "architecture"),
        Source("**At 40°–50°** one seed", "40 50", "angles (the table above scores them)"),
        Source("DANN with seed 0 fails at 40°", "40 50", "angles; 0.57 is in the table above"),
        Source("**From 60° on, with seed 0, every method fails**", "60", "angle; the seed-0 table above shows every method below 0.5 from 60°"),
        Source("in line with ADAPT's two-moons example (source only 0.84, DANN 0.94)", "0.84 0.94",
               "ADAPT's documentation example (de Mathelin et al. 2021, arXiv:2107.03049)"),
        Source("scikit-learn's 8×8 handwritten digits (10 classes)", "8 10", "data set definition"),
        Source("The source domain is 600 clean digits", "600 0.15 597", "setting of shifted_digits (1,797 digits split)"),
        Source("Same estimator, wider: 64 → 64 → 16 features", "64 16", "architecture setting"),
        Source("One seed can mislead, so here are 10", "10", "setting: figures.DOMAIN_SEEDS"),
        Source("The same experiment over 10 seeds", "10", "setting: figures.DOMAIN_SEEDS"),
        Source("on one seed it loses 8 points", "8", "the digits table's DANN (λ_max = 1) worst gain, -8.4 points, printed by the compared cell"),
        Source("With ten classes and 16 features", "16", "architecture setting"),
        Source("falls below 0.9", "0.9", "exercise threshold"),
        Source("stay above 0.9", "0.9", "exercise threshold"),
        Source("At 40°, press *Train live* for seeds 0 to 4", "40 4", "exercise setting"),
        Source("At 90°, look at the top row", "90", "exercise setting"),
        Source("Section 5's three fits", "5", "section number"),
    ],
    "08": [
        Source("meta-trained on the same 912 background characters", "912", f"{COUNTS_TEST} (background classes)"),
        Source("pretrained on the 912 background classes as one ordinary", "912", f"{COUNTS_TEST} (background classes)"),
        Source("The learners started from 912 training characters", "912", f"{COUNTS_TEST} (background classes)"),
        Source("15 query images per class (the episodes of", "15", "setting: metric_fewshot's n_query=15 (glyph_benchmark.N_QUERY)"),
        Source("a test recomputes the first 50 episodes", "50", "setting: figures.METRIC_CHECK_EPISODES"),
        Source("Mean accuracy ± the 95% interval", "95%", DEF),
        Source("by more than both 95% intervals", "95%", DEF),
        Source("Snell et al. (2017, Table 1) report 98.8%", "98.8% 99.7%",
               "paper figures: Snell et al. 2017, Table 1 (Omniglot), checked against the paper's text"),
        Source("MAML's paper reports 98.7% and 99.9%", "98.7% 99.9%",
               "paper figures: Finn et al. 2017, Table 1 (Omniglot), checked against the paper's text"),
        Source("score it on 100 test episodes", "100", "exercise setting"),
        Source("the plainly pretrained baseline with a new classifier", "65.57% 62.02% 57.71% 53.07%",
               "paper figures: Chen et al. 2019 (ICLR), cross-domain mini-ImageNet -> CUB, 5-way 5-shot, ResNet-18 "
               "(Baseline, ProtoNet, RelationNet, MatchingNet), cited in the sentence"),
    ],
    "09": [
        Source("Reptile: 5 inner steps of α = 0.01 on 30 points per task", "30",
               "training setting of the shipped Reptile (train_first_order; its inner steps and α are printed below)"),
        Source("Our Reptile takes every inner step on the same 30 points", "30",
               "training setting of the shipped Reptile (train_first_order: K + Q = 5 + 25 points per task)"),
        Source("on 600 fresh tasks with K = 5 support and 100 query points", "100", "setting of first_order_sinusoid"),
        Source("Finn et al. (2017, appendix C.1, Table 2) report", "0.67 0.38 0.35 2.41 2.23 2.19",
               "paper figures: Finn et al. 2017, appendix C.1, Table 2 (5-shot sinusoid MSE), checked against the paper's text"),
        Source("first-order MAML 48.07% / 63.15% against MAML's", "48.07% 63.15% 48.70% 63.11%",
               "paper figures: Finn et al. 2017, Table 1 (miniImageNet), checked against the paper's text"),
        Source("OpenAI's `reptile-sinewaves-demo.py`", "30,000 64 32", "settings of OpenAI's demo, named in the sentence"),
        Source("on miniImageNet it reports 47.07% / 62.74%", "47.07% 62.74% 49.97% 65.99% 48.70% 63.11%",
               "paper figures: Nichol et al. 2018, Table 1 (Reptile without / with transduction); Finn et al. 2017, "
               "Table 1 (MAML, miniImageNet), each cited in the sentence"),
        Source("(5-way, 15 queries per class, the six evaluation scripts)", "15", "setting: feature_reuse's n_query=15"),
        Source("the backbone pretrained on the 912 background characters", "912", f"{COUNTS_TEST} (background classes)"),
        Source("MAML 48.70% / 63.11% (Finn et al. 2017, Table 1)", "48.70% 63.11%", "paper figures: Finn et al. 2017, Table 1"),
        Source("ANIL 46.7% / 61.5%, trained as ANIL", "46.7% 61.5% 46.9% 63.1%",
               "paper figures: Raghu et al. 2020, Table 2 (ANIL and their MAML run, miniImageNet), checked against the paper's text"),
        Source("Reptile 47.07% / 62.74%, or 49.97% / 65.99%", "47.07% 62.74% 49.97% 65.99%",
               "paper figures: Nichol et al. 2018, Table 1"),
        Source("Each method against MAML on the same episodes, beside the gap the papers report",
               "98.3% 99.2% 98.7% 99.9% 49.97% 65.99% 48.70% 63.11%",
               "paper figures: Nichol et al. 2018, Table 2 (Omniglot 5-way, first-order MAML with transduction) and "
               "Table 1 (miniImageNet Reptile with transduction); Finn et al. 2017, Table 1 (MAML, Omniglot 5-way and "
               "miniImageNet), each cited in the sentence"),
        Source("ANIL 46.7% / 61.5% against 46.9% / 63.1% for Raghu et al.'s own MAML run", "46.7% 61.5% 46.9% 63.1%",
               "paper figures: Raghu et al. 2020, Table 2 (ANIL and their MAML run, miniImageNet), cited in the sentence"),
        Source("Raghu et al. found the opposite on miniImageNet", "44.7% 44.5% 60.2% 61.7%",
               "paper figures: Raghu et al. 2020, Table 1 (layers frozen at test time), checked against the paper's text"),
    ],
    "10": [
        Source("with 95% confidence intervals", "95%", DEF),
        Source("(Finn, Abbeel & Levine 2017, section 5.3", "5.3", "section of the cited paper"),
        Source("a return of −40 means the robot was", "0.4", "arithmetic: −40 over the H = 100 steps of an episode"),
        Source("the paper also ended it once the robot was within 0.01", "0.01", "the paper's setting (Finn et al. 2017, section 5.3)"),
        Source("with γ = 0.99: strictly, that estimates", "0.99", "setting: mtlviz.meta.rl.DISCOUNT, test_settings_lessons_state_match_the_code (below)"),
        Source("each plane shows 5 rollouts of every stage", "5",
               "setting: navigation_dashboard.SHOWN_ROLLOUTS, test_settings_lessons_state_match_the_code (below)"),
        Source("± is the 95% confidence interval", "95%", DEF),
        Source("because 100 goals × 4 stages × 3 policies", "×4 ×3", "the figure's shape (stages 0-3, three policies)"),
        Source("Their appendix lists MAML's average return", "−40.41 −11.68 −3.33 −3.23",
               "paper figures: Finn et al. 2017, appendix C.2, Table 4, checked against the paper's text"),
        Source("evaluated with 40 rollouts per step", "40 5.3", "the paper's setting (Finn et al. 2017, section 5.3)"),
        Source("a smaller network (64 units per layer instead of 100)", "64",
               "architecture: the shipped policies' hidden size, test_settings_lessons_state_match_the_code (below)"),
        Source("and `a` in 0.01, 0.03, 0.1", "0.01", "exercise setting"),
    ],
}


def unsourced(lesson: str, notebook=None) -> List[Number]:
    notebook = notebook if notebook is not None else nbformat.read(NOTEBOOK_DIR / lesson, as_version=4)
    outputs = output_numbers(notebook)
    sources = SOURCES.get(lesson[:2], [])
    missing = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for number in prose_numbers(cell.source):
            if shown(number, outputs):
                continue
            if any(s.phrase in number.sentence and _bare(number.text) in s.numbers.split() for s in sources):
                continue
            missing.append(number)
    return missing


@pytest.mark.parametrize("lesson", PROSE_LESSONS)
def test_every_number_in_the_prose_has_a_source(lesson):
    """If this fails, the lesson states a number that no compared output shows and no SOURCES entry
    explains: render it from code (a tagged cell), or name its paper or the test that checks it."""
    missing = unsourced(lesson)
    assert not missing, "\n".join(f"{lesson}: {n.text!r} in: {n.sentence[:160]}" for n in missing)


def test_every_source_entry_is_still_used():
    """If this fails, an allowlist entry names a phrase or number no longer in its lesson: a stale entry
    that would let a new number with the same text through unchecked."""
    stale = []
    for lesson in PROSE_LESSONS:
        notebook = nbformat.read(NOTEBOOK_DIR / lesson, as_version=4)
        numbers = [n for cell in notebook.cells if cell.cell_type == "markdown" for n in prose_numbers(cell.source)]
        for source in SOURCES.get(lesson[:2], []):
            for text in source.numbers.split():
                if not any(source.phrase in n.sentence and _bare(n.text) == text for n in numbers):
                    stale.append((lesson, source.phrase, text))
    assert not stale, stale


def _lesson(markdown: str, printed: str):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    cell = new_code_cell("", metadata={"tags": [CHECK_TAG]}, outputs=[new_output("stream", name="stdout", text=printed)])
    return new_notebook(cells=[new_markdown_cell(markdown), cell])


def test_extractor_reads_the_kinds_of_numbers_lessons_state():
    """If this fails, a kind of number (a rounded percentage, a count with commas, a factor) is not read
    at all, and a stale one of that kind would pass unnoticed."""
    text = ("Transfer reaches about 97% where scratch gets 69 %. It trains 28,650 parameters, 25× fewer tasks, "
            "×25 steps, and DANN loses −0.18 at 0.85. One step cuts it fivefold.")
    assert [(n.text, n.value, n.kind) for n in prose_numbers(text)] == [("fivefold", 5.0, "x"),
        ("97%", 97.0, "%"), ("69 %", 69.0, "%"), ("28,650", 28650.0, ""), ("25×", 25.0, "x"),
        ("×25", 25.0, "x"), ("−0.18", -0.18, ""), ("0.85", 0.85, "")]


def test_extractor_skips_notation_structure_and_citation_years():
    """If this fails, the test would demand a source for '## 3.', 'seed §4.1', 'lesson 03', a paper's
    year or a formula's $K = 5$ (noise that buries the real misses); a percentage in math still counts."""
    text = ("## 3. Where\n1. First item (seed §4.1, §6-§8), see lessons 02-04 and lesson 05.\n"
            "Finn et al. 2017 and Ravi & Larochelle (2017) at ICML 2017; set $K = 5$ and `k_shot=5`; "
            "as lesson 05's and 06's models, Chen et al.'s (2019) baseline, 5-way 1 / 5-shot and 20-way episodes; "
            "math score $48.7\\%$.")
    assert [n.text for n in prose_numbers(text)] == ["48.7 %"]


def test_a_new_unsourced_number_fails_and_a_printed_one_passes():
    """If this fails, the lesson test cannot fail: a made-up number typed into prose must be reported,
    while the same number shown by a compared output (or rounded from it) must pass."""
    assert [n.text for n in unsourced("99_made_up.ipynb", _lesson("Scratch reaches about 69%.", "scratch 70.4%\n"))] == ["69%"]
    assert unsourced("99_made_up.ipynb", _lesson("Scratch reaches about 69%.", "scratch 68.9%\n")) == []
    assert unsourced("99_made_up.ipynb", _lesson("It trains 28,650 parameters.", "28650 of 28650\n")) == []
    assert unsourced("99_made_up.ipynb", _lesson("One step cuts it fivefold.", "one step: 5.2× smaller\n")) == []
    assert [n.text for n in unsourced("99_made_up.ipynb", _lesson("One step cuts it fivefold.", "MSE 5.2\n"))] == ["fivefold"]
    # an untagged cell's output is not compared by nbval, so it is no source
    notebook = _lesson("Scratch reaches about 69%.", "scratch 68.9%\n")
    notebook.cells[1].metadata["tags"] = []
    assert [n.text for n in unsourced("99_made_up.ipynb", notebook)] == ["69%"]
    # a percentage is not sourced by a plain number with the same digits
    assert [n.text for n in unsourced("99_made_up.ipynb", _lesson("about 69%", "69 steps\n"))] == ["69%"]


def test_counts_the_lessons_state_match_the_shipped_data_and_networks():
    """Lessons 01, 05 and 06 state these counts in prose (SOURCES names this test); if this fails, the
    shipped glyph catalogue or the networks changed and the sentences teach a stale size."""
    from mtlviz.data import glyphs
    from mtlviz.data.glyphs import GlyphTasks
    from mtlviz.nets import ConvNet
    catalogue = glyphs._catalogue_index()
    assert len(catalogue) == 1212 and len({script for script, _ in catalogue}) == 12       # lesson 01
    assert GlyphTasks("background").n_classes == 912                                      # lessons 05, 06
    learner = ConvNet(5, 32, 20, 4)                                                        # lesson 05's learner
    assert round(sum(p.numel() for p in learner.parameters()), -3) == 28_000


def test_settings_lessons_state_match_the_code():
    """Lesson 10 states these settings in prose (SOURCES names this test); if this fails, the code
    changed and the sentence teaches a stale setting."""
    from mtlviz.meta import rl
    from mtlviz.pretrained import load_navigation
    from mtlviz.widgets import navigation_dashboard

    assert rl.DISCOUNT == 0.99                                                              # γ = 0.99
    assert navigation_dashboard.SHOWN_ROLLOUTS == 5                                        # 5 rollouts a stage
    assert load_navigation("maml").hidden == load_navigation("pretrained").hidden == 64    # 64 units per layer
