"""The lesson figures shipped in mtlviz/pretrained/lesson_figures.json are what their code computes.

Lessons 01, 05, 06 and 07 print these numbers at page open instead of computing them (issue 19:
a lesson's opening cells do no multi-episode work). If a test here fails, a lesson states a
number that the code no longer produces: regenerate with ``python -m mtlviz.pretrained.figures``.
"""
from __future__ import annotations

import json

import pytest

from mtlviz import WeightsError
from mtlviz.pretrained import figures
from mtlviz.pretrained.figures import FIGURES, load_figure
from tests._cpu import assert_recomputed

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_every_figure_ships():
    """A figure missing from the file would make its lesson show an error line instead of a number."""
    for name in FIGURES:
        assert load_figure(name)


def test_first_look_at_maml_on_glyphs_is_recomputed_exactly():
    """Lesson 01's preview (MAML 22% -> 99%, pixel nearest neighbour 67% on 40 episodes)."""
    assert figures.fewshot_first_look() == load_figure("fewshot_first_look")


def test_seed_corrected_training_is_recomputed_exactly():
    """Lesson 04's 300 corrected outer steps (meta-loss 3.02 -> 2.48)."""
    assert_recomputed(figures.seed_corrected_training(), load_figure("seed_corrected_training"),
                      other_cpu_rel=1e-3, what="seed_corrected_training")


def test_sgd_tuning_table_is_recomputed_for_one_rate():
    """Lesson 05's grid search (2 K x 6 rates x 20 episodes, ~30 s): recompute one K at the rate
    the file chose and at its neighbour, and compare with the file's table."""
    shipped = load_figure("sgd_tuning")["1"]
    best = shipped["best"]
    neighbour = shipped["grid"][shipped["grid"].index(best) + 1]
    again = figures.sgd_tuning(shots=(1,), grid=(best, neighbour))["1"]
    expected = {a: acc for a, acc in zip(shipped["grid"], shipped["accuracy"])}
    assert again["accuracy"] == [expected[best], expected[neighbour]]
    assert again["best"] == best and shipped["n_steps"] == again["n_steps"]


def test_block_changes_are_recomputed_exactly():
    """Lesson 06: feature extraction leaves every block bit-identical, 2 frozen blocks move only
    the top two; the file must hold what training computes."""
    shipped = load_figure("block_changes")
    assert_recomputed(figures.block_changes(), shipped, abs=1e-6, other_cpu_rel=0.02, what="block_changes")
    assert shipped["4"] == [0.0] * 4 and shipped["2"][:2] == [0.0, 0.0] and min(shipped["2"][2:]) > 0


def test_digits_shift_is_recomputed():
    """Lesson 07's three fits. Source only and CORAL are bit-reproducible on one thread; DANN's
    adversarial training amplifies float rounding across processors, so it gets a tolerance."""
    shipped, again = load_figure("digits_shift"), figures.digits_shift()
    for method in ("source_only", "coral"):
        assert_recomputed(again[method], shipped[method], abs=1e-6, other_cpu_abs=0.02, what=method)
    assert again["dann"] == pytest.approx(shipped["dann"], abs=0.1)


def test_batch_norm_transduction_is_recomputed_on_the_first_episodes():
    """Lessons 01, 05 and 06 say how much of their accuracy comes from the query images being
    normalised together; recompute the first 3 episodes of every row (the whole figure takes ~2
    minutes) and compare with the file, which must hold every normalisation for every episode."""
    from mtlviz.nets import NORMALISATIONS

    shipped, again = load_figure("batch_norm_transduction"), figures.batch_norm_transduction(n_checked=3)
    assert set(again) == set(shipped)
    for row, values in again.items():
        for name in NORMALISATIONS:
            assert len(shipped[row][name]) == (10 if row.startswith("feature") else 100), (row, name)
            assert values[name] == pytest.approx(shipped[row][name][:3], abs=1e-6), (row, name)


def test_a_missing_or_corrupt_file_names_the_command(tmp_path):
    """A student must read how to get the numbers back, not a KeyError or JSONDecodeError."""
    with pytest.raises(WeightsError, match=r"missing\. Regenerate it with: python -m mtlviz.pretrained.figures sgd_tuning"):
        load_figure("sgd_tuning", tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WeightsError, match="python -m mtlviz.pretrained.figures digits_shift"):
        load_figure("digits_shift", bad)
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps({"figures": {"digits_shift": {"coral": [1.0, float("nan")]}}}))
    with pytest.raises(WeightsError, match="non-finite"):
        load_figure("digits_shift", nan)
    with pytest.raises(ValueError, match=r"name must be one of \["):
        load_figure("nope")


def test_a_figure_is_read_afresh_after_the_file_changes_and_handed_out_as_a_copy(tmp_path):
    """load_figure parses the file once per change (lesson 08 reads it ~60 times at page open). If this
    fails, a regenerated file's numbers would not reach a running kernel, or a lesson cell that edits
    a figure it loaded would change what the next cell loads."""
    path = tmp_path / "figures.json"
    path.write_text(json.dumps({"figures": {"digits_shift": {"coral": [1.0, 2.0]}}}))
    first = load_figure("digits_shift", path)
    first["coral"][0] = 99.0
    assert load_figure("digits_shift", path) == {"coral": [1.0, 2.0]}
    path.write_text(json.dumps({"figures": {"digits_shift": {"coral": [3.0, 4.0, 5.0]}}}))
    assert load_figure("digits_shift", path) == {"coral": [3.0, 4.0, 5.0]}


def test_navigation_adaptation_is_recomputed_exactly():
    """Lesson 10's table (100 new goals x 3 policies x 4 stages, ~10 s): the shipped numbers must be
    what the shipped policies give, and the lesson's reading must hold: MAML is clearly ahead of the
    pretrained policy and the random start after one step (Finn et al. 2017, figure 4, top)."""
    shipped = load_figure("navigation_adaptation")
    assert_recomputed(figures.navigation_adaptation(), shipped, other_cpu_rel=0.05, what="navigation_adaptation")
    mean, half = {k: shipped[k]["mean"] for k in ("maml", "pretrained", "random")}, \
        {k: shipped[k]["ci95"] for k in ("maml", "pretrained", "random")}
    assert mean["maml"][1] - half["maml"][1] > mean["pretrained"][1] + half["pretrained"][1]
    assert mean["maml"][1] > mean["random"][1] and shipped["n_goals"] == 100
    # the lesson's second reading: trained for one step, MAML does not keep its lead after a second one
    assert mean["maml"][2] < mean["pretrained"][2]
    assert mean["maml"][3] > mean["maml"][2] and mean["random"][1] < mean["random"][0]
    assert mean["maml"][1] - mean["pretrained"][1] > 3 * (half["maml"][1] + half["pretrained"][1])


def test_first_order_sinusoid_is_recomputed_exactly():
    """Lesson 09's 600-task table (4 shipped models x 11 step counts, a few seconds) must be what the
    shipped weights give; and the readings the lesson prints must hold: FOMAML and Reptile adapt
    (error after 10 steps below before), the pretrained baseline is far behind MAML."""
    shipped = load_figure("first_order_sinusoid")
    assert_recomputed(figures.first_order_sinusoid(), shipped, other_cpu_rel=1e-5,  # one thread, as the command runs
                      what="first_order_sinusoid")
    for kind in ("maml", "fomaml", "reptile"):
        assert shipped[kind]["mean"][10] < shipped[kind]["mean"][0]
    assert shipped["joint"]["mean"][10] > 3 * shipped["maml"]["mean"][10]


def test_feature_reuse_is_recomputed_for_the_first_chunk():
    """Lesson 09's feature-reuse figure (2 K x 4 rows x 600 episodes, tens of minutes): recompute
    the 1-shot layer measurements in full and two rows on the first 50 episodes (the first chunk of
    the same 600), and compare with the file. The lesson's reading must hold: the lower conv blocks
    keep their representation (CKA above 0.95), and ANIL on MAML's θ is below MAML."""
    shipped = load_figure("feature_reuse")
    again = figures.feature_reuse(n_episodes=figures.FEATURE_REUSE_CHECK_EPISODES, shots=(1,),
                                  rows=("maml", "anil_3"))["1"]
    for layer, values in shipped["1"]["layers"].items():
        assert again["layers"][layer] == pytest.approx(values, rel=1e-5, abs=1e-7)
    for row in ("maml", "anil_3"):
        assert again["accuracy"][row]["mean"] == pytest.approx(shipped["1"]["accuracy"][row]["first_50"], abs=1e-6)
    for k_shot in ("1", "5"):
        layers, table = shipped[k_shot]["layers"], shipped[k_shot]["accuracy"]
        assert min(layers[f"conv {i}"]["cka"] for i in (1, 2)) > 0.95
        assert table["anil_3"]["mean"] + table["anil_3"]["ci95"] < table["maml"]["mean"] - table["maml"]["ci95"]
        assert all(table[row]["n_episodes"] == 600 for row in table)


def test_domain_seeds_are_recomputed_for_the_first_seed():
    """Lesson 07's two tables over 10 seeds (rendered by moons_seed_table / digits_seed_table). Seed 0 at
    30° and on the digits is trained again: source only and CORAL bit for bit, DANN within 0.1 (its
    adversarial training amplifies float rounding across processors, as in test_digits_shift)."""
    shipped, again = load_figure("domain_seeds"), figures.domain_seeds(seeds=(0,), angles=(30,))
    for method in ("source_only", "coral"):
        assert_recomputed(again["moons"][method]["30"][0], shipped["moons"][method]["30"][0], abs=1e-6,
                          other_cpu_abs=0.02, what=f"moons {method}")
    assert again["moons"]["dann"]["30"][0] == pytest.approx(shipped["moons"]["dann"]["30"][0], abs=0.1)
    for label, _, trade_off in figures.DIGITS_SETTINGS:
        if "DANN" in label:
            assert again["digits"][label][0] == pytest.approx(shipped["digits"][label][0], abs=0.1), label
        else:
            assert_recomputed(again["digits"][label][0], shipped["digits"][label][0], abs=1e-6, other_cpu_abs=0.02,
                              what=label)
    assert all(len(per) == len(figures.DOMAIN_SEEDS) for per in shipped["digits"].values())


def test_domain_seed_tables_render_the_shipped_numbers():
    """If this fails, lesson 07's seed tables do not show what the file holds (mean ± std with n − 1)."""
    import numpy as np

    shipped = load_figure("domain_seeds")
    coral = np.asarray(shipped["moons"]["coral"]["30"])
    assert f"{coral.mean():.3f} ± {coral.std(ddof=1):.3f}" in figures.moons_seed_table()
    gains = np.asarray(shipped["digits"]["Deep CORAL (w = 300)"]) - np.asarray(shipped["digits"]["source only"])
    assert f"{gains.mean():+.3f} ({gains.min():+.3f} … {gains.max():+.3f})" in figures.digits_seed_table()


def test_cross_domain_fewshot_is_recomputed_for_the_first_chunk():
    """Lesson 08's cross-domain table (every glyph-trained model on 600 digits episodes per K, tens of
    minutes): recompute six 1-shot rows on the first 50 episodes (the first chunk of the same 600)
    and compare with the file, so the lesson cannot show digits numbers the code no longer gives.
    The lesson's reading must hold: every learned model scores lower on the digits than on new glyphs
    (pixel nearest neighbour, which learned nothing from the glyphs, is the floor, not one of them)."""
    shipped = load_figure("cross_domain_fewshot")
    rows = ("maml", "fomaml", "anil_transfer", "protonet", "nearest_centroid_cosine", "pixel_nn")
    again = figures.cross_domain_fewshot(n_episodes=figures.METRIC_CHECK_EPISODES, shots=(1,), rows=rows)
    for row in rows:
        assert again["digits"]["1"][row]["mean"] == pytest.approx(shipped["digits"]["1"][row]["first_50"], abs=1e-6), row
    for k_shot in ("1", "5"):
        assert sorted(shipped["digits"][k_shot]) == sorted(figures.CROSS_DOMAIN_ROWS)
        for row, score in shipped["digits"][k_shot].items():
            assert score["n_episodes"] == 600
            in_domain = figures.in_domain_score(row, k_shot)
            if in_domain is None or row == "pixel_nn":  # lesson 05's figure not shipped: the table shows a dash
                continue
            assert in_domain["n_episodes"] == 600
            assert score["mean"] + score["ci95"] < in_domain["mean"] - in_domain["ci95"], (k_shot, row)
    table = figures.cross_domain_table()
    assert table.count("\n") == 1 + 2 * len(figures.CROSS_DOMAIN_ROWS)  # header, rule, a row per model and K


def test_meta_trained_anil_is_recomputed_for_the_first_chunk():
    """Lesson 09's section 6 (the shipped meta-trained ANIL models on the 600 test episodes): recompute
    every shipped row on the first 50 episodes and compare with the file; the outer-step counts the
    lesson prints must be the shipped models'. The lesson's reading must hold: meta-trained ANIL is far
    above ANIL on MAML's θ."""
    from mtlviz.pretrained import load_glyph_anil

    shipped = load_figure("meta_trained_anil")
    shots = tuple(int(k) for k in shipped)
    assert 1 in shots and set(shipped["1"]) == set(figures.ANIL_ROWS.values())
    again = figures.meta_trained_anil(n_episodes=figures.FEATURE_REUSE_CHECK_EPISODES, shots=shots)
    for k_shot in shots:
        key = str(k_shot)
        for start, row in figures.ANIL_ROWS.items():
            if row not in shipped[key]:
                continue
            assert again[key][row]["mean"] == pytest.approx(shipped[key][row]["first_50"], abs=1e-6), (key, row)
            assert shipped[key][row]["n_episodes"] == 600
            assert shipped[key][row]["n_outer_steps"] == load_glyph_anil(start, k_shot=k_shot).n_outer_steps
        earlier, anil = load_figure("feature_reuse")[key]["accuracy"], shipped[key]["anil_meta_trained"]
        assert earlier["anil_3"]["mean"] + earlier["anil_3"]["ci95"] < anil["mean"] - anil["ci95"]


def test_metalstm_fewshot_is_recomputed_for_the_first_chunk():
    """Lesson 05's 600-episode table (Meta-LSTM, SGD from its start, fine-tuning and feature
    extraction; 2 K x 4 rows x 600 episodes, about half an hour on one core): recompute the 1-shot
    rates (tuned on background episodes) in full and all four 1-shot rows on the first 50 episodes
    (the first chunk of the same 600), and compare with the file. If this fails, lesson 05's table
    and RESULTS.md state accuracies the shipped models and code no longer give."""
    shipped = load_figure("metalstm_fewshot")
    again = figures.metalstm_fewshot(n_episodes=figures.METALSTM_CHECK_EPISODES, shots=(1,))["1"]
    for row in figures.METALSTM_ROWS:
        assert again[row]["mean"] == pytest.approx(shipped["1"][row]["first_50"], abs=1e-6), row
        assert again[row]["n_steps"] == shipped["1"][row]["n_steps"] and again[row].get("lr") == shipped["1"][row].get("lr")
        flat = [value for pair in shipped["1"][row].get("tuning", []) for value in pair]
        assert [value for pair in again[row].get("tuning", []) for value in pair] == pytest.approx(flat, abs=1e-6), row
    for k_shot in ("1", "5"):
        assert set(shipped[k_shot]) == set(figures.METALSTM_ROWS)
        assert all(shipped[k_shot][row]["n_episodes"] == 600 for row in figures.METALSTM_ROWS)
    # the SGD row's rate is the one lesson 05's sgd_tuning figure prints as chosen
    assert [shipped[k]["sgd_from_start"]["lr"] for k in ("1", "5")] == [load_figure("sgd_tuning")[k]["best"] for k in ("1", "5")]


def test_metalstm_table_renders_the_shipped_numbers():
    """If this fails, lesson 05's table (rendered by metalstm_table) does not show what the two
    figures hold: its MAML and pixel rows come from metric_fewshot (the same 600 episodes)."""
    shipped, metric = load_figure("metalstm_fewshot"), load_figure("metric_fewshot")
    table = figures.metalstm_table()
    for k_shot in ("1", "5"):
        for row in [shipped[k_shot][name] for name in figures.METALSTM_ROWS] + [metric[k_shot]["maml"], metric[k_shot]["pixel_nn"]]:
            assert f"{100 * row['mean']:.1f}% ± {100 * row['ci95']:.1f}% |" in table
        assert f"| {k_shot}-shot | Meta-LSTM ({shipped[k_shot]['meta_lstm']['n_steps']} learned updates) |" in table
    assert table.count("\n") == 13  # header, rule, 6 rows per K


def test_first_order_glyphs_are_recomputed_for_the_first_chunk():
    """Lesson 09's FOMAML and Reptile rows on glyphs (600 test episodes per K): recompute every shipped
    row on the first 50 episodes and compare with the file, so the lesson cannot show numbers the
    shipped models no longer give."""
    shipped = load_figure("first_order_glyphs")
    shots = tuple(int(k) for k in shipped)
    assert 1 in shots
    again = figures.first_order_glyphs(n_episodes=figures.FEATURE_REUSE_CHECK_EPISODES, shots=shots)
    for k_shot in shots:
        key = str(k_shot)
        assert set(shipped[key]) == {"fomaml", "reptile"}
        for row in ("fomaml", "reptile"):
            assert again[key][row]["mean"] == pytest.approx(shipped[key][row]["first_50"], abs=1e-6), (key, row)
            assert shipped[key][row]["n_episodes"] == 600
            assert shipped[key][row]["n_outer_steps"] == again[key][row]["n_outer_steps"]


def test_glyph_methods_table_renders_the_shipped_rows():
    """If this fails, lesson 09's comparison of MAML, first-order MAML, Reptile and ANIL (and RESULTS'
    copy) does not show what the three figures hold, or prints another training length than the
    shipped model's."""
    table = figures.glyph_methods_table()
    reuse, first_order, anil = (load_figure(name) for name in ("feature_reuse", "first_order_glyphs", "meta_trained_anil"))
    for k_shot in (1, 5):
        key = str(k_shot)
        rows = {"maml": reuse[key]["accuracy"]["maml"], "fomaml": first_order.get(key, {}).get("fomaml"),
                "reptile": first_order.get(key, {}).get("reptile"), "anil": anil.get(key, {}).get("anil_meta_trained")}
        for method, row in rows.items():
            line = next(line for line in table.splitlines() if line.startswith(f"| {figures.GLYPH_METHOD_LABELS[method]} |"))
            if row is None:
                assert "not shipped" in line
            else:
                assert f"| {100 * row['mean']:.1f}% ± {100 * row['ci95']:.1f}% |" in line
        assert figures.glyph_methods(k_shot)["maml"]["n_outer_steps"] == figures.load_glyph_maml(k_shot).n_outer_steps
    assert table.count("\n") == 1 + len(figures.GLYPH_METHOD_LABELS)
