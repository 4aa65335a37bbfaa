"""Occupation-by-status units: schemes, the derived classification, tabulation, masks, sharing, the v2 layout.

Facts from the published files are copied here (the published files themselves stay in
../shared): the empst3 labels of gb_soc2020_v2.dta, the es labels of
gb2010soc2010_details.dta, and v2's (soc2020, empst3) rows in tests/data/gb_soc2020_v2_rows.tsv.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from camsis.classifications.statuses import by_status_classification, by_status_recodes, combine, expand_mask, load_scheme
from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells
from camsis.method.filling import fill_classification
from camsis.method.merging import merge_sparse_units
from camsis.method.synthetic import simulate_status_couples
from camsis.method.tables import CoupleColumns, tabulate_by_status, tabulate_frame
from camsis.scaling.by_status import build_by_status_scores, by_status_table, share_merged_scores
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import REPO

STATUSES = REPO / "data" / "statuses"

# Value labels of empst3 in gb_soc2020_v2.dta and of es in gb2010soc2010_details.dta (read with pyreadstat).
V2_EMPST3 = {0: "0. Unknown", 1: "1. Self-employed", 2: "2. Manager/supervisor", 3: "3. Employee"}
GB2010_ES = {
    0: "0. No information on employment status",
    1: "1. Self-employed, 10+ employees",
    2: "2. Self-employed, 1-9 employees",
    3: "3. Self-employed, no employees",
    4: "4. Supervisors/Managers",
    5: "5. Employees",
}


@pytest.fixture
def empst3():
    return load_scheme("empst3", STATUSES)


def test_shipped_schemes_carry_the_published_labels(empst3):
    assert empst3.labels == V2_EMPST3
    assert (empst3.variable, empst3.label) == ("empst3", "Employment status measure")
    assert empst3.counts == {"m": "n_hbst3", "f": "n_wbst3"}
    assert empst3.scored.tolist() == [1, 2, 3]
    assert empst3.groups[1] == empst3.groups[2] != empst3.groups[3]
    es5 = load_scheme("es5", STATUSES)
    assert es5.labels == GB2010_ES
    assert es5.scored.tolist() == [1, 2, 3, 4, 5]


def test_unknown_scheme_is_refused_naming_it():
    with pytest.raises(CamsisError, match="unknown status scheme 'empst9'.*available: empst3, es5"):
        load_scheme("empst9", STATUSES)


def test_scheme_with_a_two_digit_status_is_refused(tmp_path):
    (tmp_path / "bad.tsv").write_text("status\tlabel\tgroup\n0\tnone\t\n12\ttwelve\t1\n")
    (tmp_path / "bad.yaml").write_text("variable: s\nlabel: s\nvalue_label_name: s\nunknown: 0\ncounts: {m: a, f: b}\n")
    with pytest.raises(CamsisError, match="line 3: status '12' must be a whole number from 0 to 9"):
        load_scheme("bad", tmp_path)


def test_by_status_units_climb_status_group_then_occupation(soc2020, empst3):
    derived = by_status_classification(soc2020, empst3)
    assert len(derived.units) == 412 * 3
    assert derived.units[:3].tolist() == [11111, 11112, 11113]
    # Self-employed (1) and managers (2) share a node; employees (3) have their own.
    assert derived.ancestors(11121) == [-11121, 1112, 111, 11, 1]
    assert derived.ancestors(11122)[0] == derived.ancestors(11121)[0]
    assert derived.ancestors(11123) == [-11122, 1112, 111, 11, 1]
    assert derived.frame.loc[11123, "isei"] == soc2020.frame.loc[1112, "isei"]


def test_sparse_status_merges_within_its_group_then_its_occupation(soc2020, empst3):
    derived = by_status_classification(soc2020, empst3)
    totals = pd.Series(0.0, index=pd.Index(derived.units, name="code"))
    totals[[11211, 11212, 11213]] = [5, 40, 400]      # self-employed joins managers (same group)
    totals[[11221, 11222, 11223]] = [5, 0, 400]       # no managers: self-employed joins the occupation's employees
    totals[[11231, 11232, 11233]] = [3, 2, 1]         # a sparse occupation climbs to its minor group's largest set
    merged = merge_sparse_units(totals, derived.frame["parent"], min_n=30)
    assert merged[11211] == 11212 and merged[11212] == 11212 and merged[11213] == 11213
    assert merged[11221] == 11223
    assert {merged[11231], merged[11232], merged[11233]} == {11223}  # 405 pairs: the largest set of group 112


def test_recodes_of_occupations_apply_to_each_status(empst3):
    assert by_status_recodes({1111: 1112}, empst3) == {11111: 11121, 11112: 11122, 11113: 11123}


def test_a_blanked_occupation_cell_covers_every_status(soc2020, empst3):
    units = soc2020.units[:3]
    mask = blank_cells(units, units, diagonal_digits=0)
    combined = by_status_classification(soc2020, empst3).units[:9]
    expanded = expand_mask(mask, combined)
    assert expanded.loc[11111, 11113] and expanded.loc[11122, 11121]
    assert not expanded.loc[11111, 11121]
    assert int(expanded.to_numpy().sum()) == 3 * 9


def test_tabulation_counts_both_tables_from_the_same_pairs(soc2020, empst3):
    pairs = pd.DataFrame({
        "h": [1111, 1111, 1112, 1112, -9, 1111, 1112, 1111],
        "w": [1112, 1112, 1111, 1111, 1111, 1112, 1111, 9999],
        "hs": [1, 3, 2, 0, 1, np.nan, 3, 1],
        "ws": [3, 3, 2, 3, 1, 3, 7, 1],
    })
    title, by_status = tabulate_by_status("<pairs>", CoupleColumns("h", "w", "hs", "ws", None),
                                          soc2020.units, empst3.scored, frame=pairs)
    plain = tabulate_frame(pairs, "h", "w", None, soc2020.units)
    assert title.counts.equals(plain.counts) and title.used == 6
    # Status 0, a missing status and 7 (not in the scheme) leave the by-status table only.
    assert by_status.dropped["status_unknown"] == 3
    assert by_status.used == 3 and by_status.read - by_status.used == sum(by_status.dropped.values())
    assert by_status.counts.loc[11111, 11123] == 1 and by_status.counts.loc[11113, 11123] == 1
    assert by_status.counts.loc[11122, 11112] == 1


def test_statuses_left_out_are_counted_and_named_once_each(soc2020, empst3, caplog):
    """A fraction is not a status; the log names every value left out once, missing ones together
    (NaN is not equal to itself, so counting them by value would list each on its own)."""
    pairs = pd.DataFrame({
        "h": [1111] * 8, "w": [1112] * 8,
        "hs": [np.nan, np.nan, 1.5, 0, 1, 1, np.nan, 3],
        "ws": [1, np.nan, 1, 0, 2, 3, 3, 3],
    })
    with caplog.at_level("INFO", logger="camsis.method.tables"):
        _, by_status = tabulate_by_status("<pairs>", CoupleColumns("h", "w", "hs", "ws", None),
                                          soc2020.units, empst3.scored,
                                          frame=pairs)
    assert by_status.dropped["status_unknown"] == 5 and by_status.used == 3
    line = next(r.getMessage() for r in caplog.records if "without a scored status" in r.getMessage())
    assert "5 pairs" in line and line.endswith("most frequent values: missing (4), 0 (2), 1.5 (1))")


@pytest.mark.parametrize("suffix", [".csv", ".dta", ".parquet"])
def test_frequency_cell_table_gives_the_by_status_tables_of_its_couples_one_row_each(tmp_path, soc2020, empst3, suffix):
    """A table of (occ1, status1, occ2, status2) cells with a count, read with weight_type frequency,
    is its couples one row each: both tables, pair counts, dropped pairs and status_unknown."""
    from helpers import write_data

    rng = np.random.default_rng(5)
    n = 3000
    rows = pd.DataFrame({
        "h": rng.choice([1111, 1112, 1121, 2111, -9, 9999], n, p=[0.3, 0.3, 0.2, 0.17, 0.02, 0.01]).astype(float),
        "w": rng.choice([1111, 1112, 1121, 2111], n).astype(float),
        "hs": rng.choice([1, 2, 3, 3, 0, -9, 7, np.nan], n).astype(float),
        "ws": rng.choice([1, 2, 3, 3, 3, 0, np.nan], n).astype(float),
    })
    cells = rows.groupby(["h", "hs", "w", "ws"], dropna=False).size().rename("n").reset_index()
    assert len(cells) < n / 4
    by_row = tabulate_by_status(write_data(rows, tmp_path / f"rows{suffix}"), CoupleColumns("h", "w", "hs", "ws", None),
                                soc2020.units, empst3.scored, chunksize=101)
    by_cell = tabulate_by_status(write_data(cells, tmp_path / f"cells{suffix}"), CoupleColumns("h", "w", "hs", "ws", "n"),
                                 soc2020.units, empst3.scored, chunksize=7, weight_type="frequency")
    for a, b in zip(by_cell, by_row):
        pd.testing.assert_frame_equal(a.counts, b.counts, check_exact=True)
        pd.testing.assert_frame_equal(a.weighted, b.weighted, check_exact=True)
        assert (a.read, a.used, a.dropped) == (b.read, b.used, b.dropped)
    # the counts themselves, from the rows without the code under test
    known = rows["hs"].isin(empst3.scored) & rows["ws"].isin(empst3.scored)
    valid = rows["h"].isin(soc2020.units)
    assert by_cell[1].dropped["status_unknown"] == int((valid & ~known).sum())
    assert by_cell[1].used == int((valid & known).sum()) and by_cell[0].read == n


def test_missing_status_variable_is_named(soc2020, empst3):
    pairs = pd.DataFrame({"h": [1111], "w": [1112], "hs": [1], "ws": [1]})
    with pytest.raises(CamsisError, match="'wstat'"):
        tabulate_by_status("<pairs>", CoupleColumns("h", "w", "hs", "wstat", None),
                           soc2020.units, empst3.scored, frame=pairs)


def test_merged_units_of_one_occupation_share_a_population_weighted_score():
    index = pd.Index([11111, 11112, 11113, 11121], name="unit")
    scores = pd.DataFrame({
        "mcamsis": [40.0, 70.0, 55.0, 20.0], "mcam_se": [3.0, 4.0, 1.0, 2.0], "n_m": [10.0, 20.0, 500.0, 5.0],
        "m_imputed": [0, 0, 0, 0],
    }, index=index)
    scores[["fcamsis", "fcam_se", "n_f", "f_imputed"]] = scores[["mcamsis", "mcam_se", "n_m", "m_imputed"]].to_numpy()
    population = pd.DataFrame({"m": [10.0, 30.0, 500.0, 5.0], "f": [10.0, 30.0, 500.0, 5.0]}, index=index)
    # 11111 and 11112 pooled for the CA (into 11112); 11121, another occupation, joined them too.
    merge = pd.Series([11112, 11112, 11113, 11112], index=index)
    shared = share_merged_scores(scores, population, {"m": merge, "f": merge})
    assert shared.loc[11111, "mcamsis"] == shared.loc[11112, "mcamsis"] == pytest.approx((10 * 40 + 30 * 70) / 40)
    # Each member's SE is that of the shared score for its own: posterior variance + squared distance to it.
    assert shared.loc[11111, "mcam_se"] == pytest.approx(np.hypot(3, 62.5 - 40))
    assert shared.loc[11112, "mcam_se"] == pytest.approx(np.hypot(4, 62.5 - 70))
    assert shared.loc[11113, "mcam_se"] == 1.0 and shared.loc[11121, "mcam_se"] == 2.0
    # The own pairs' SE (what the total SE takes out of the bootstrap's) pools as an SE too.
    own = share_merged_scores(scores.assign(m_own_se=[1.0, 2.0, 0.5, 1.5]), population, {"m": merge, "f": merge})
    assert own.loc[11111, "m_own_se"] == own.loc[11112, "m_own_se"] == pytest.approx(np.hypot(10 * 1, 30 * 2) / 40)
    assert own.loc[11113, "m_own_se"] == 0.5
    assert shared.loc[11111, "n_m"] == 30 and shared.loc[11111, "m_merged"] == 11112
    assert shared.loc[11113, "mcamsis"] == 55.0 and shared.loc[11113, "m_merged"] == 0
    assert shared.loc[11121, "mcamsis"] == 20.0 and shared.loc[11121, "m_merged"] == 0


def test_sharing_skips_missing_scores_and_keeps_flags_of_wholly_imputed_pools():
    """Closed forms: a member without a score is left out of its pool's mean (and gets the mean and its SE);
    a pool with a scored member clears its members' imputation flags, a wholly imputed pool keeps
    them; a pool whose members all lack a score stays without one."""
    index = pd.Index([11111, 11112, 11113, 11121, 11122, 11131, 11132], name="unit")
    nan = np.nan
    scores = pd.DataFrame({
        "mcamsis": [40.0, nan, 60.0, 30.0, 50.0, nan, nan], "mcam_se": [2.0, nan, 1.0, 1.0, 3.0, nan, nan],
        "n_m": [4.0, 0.0, 6.0, 1.0, 2.0, 0.0, 0.0], "m_imputed": [0, 1111, 0, 112, 112, 0, 0],
    }, index=index)
    scores[["fcamsis", "fcam_se", "n_f", "f_imputed"]] = scores[["mcamsis", "mcam_se", "n_m", "m_imputed"]].to_numpy()
    population = pd.DataFrame({"m": [1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0]}, index=index)
    population["f"] = population["m"]
    merge = pd.Series([11113, 11113, 11113, 11122, 11122, 11132, 11132], index=index)
    shared = share_merged_scores(scores, population, {"m": merge, "f": merge})
    assert shared.loc[[11111, 11112, 11113], "mcamsis"].tolist() == pytest.approx([(40 + 3 * 60) / 4] * 3)
    # A member without a score of its own: the SE of the pool's mean; the others their own error of it.
    assert shared.loc[11112, "mcam_se"] == pytest.approx(np.hypot(2, 3 * 1) / 4)
    assert shared.loc[11111, "mcam_se"] == pytest.approx(np.hypot(2, 55 - 40))
    assert shared.loc[[11111, 11112, 11113], "n_m"].tolist() == [10.0] * 3
    assert shared.loc[[11111, 11112, 11113], "m_imputed"].tolist() == [0, 0, 0]
    assert shared.loc[[11121, 11122], "mcamsis"].tolist() == pytest.approx([40.0, 40.0])
    assert shared.loc[[11121, 11122], "m_imputed"].tolist() == [112, 112]
    assert shared.loc[[11131, 11132], "mcamsis"].isna().all() and shared.loc[11131, "m_merged"] == 11132
    assert shared["m_imputed"].dtype == scores["m_imputed"].dtype and shared.equals(shared)


@pytest.fixture(scope="module")
def status_build():
    """Both scales of one simulated survey with status effects (SOC2020 x empst3)."""
    from camsis.classifications.classification import load_classification

    soc2020 = load_classification("soc2020", REPO / "data" / "classifications")
    scheme = load_scheme("empst3", STATUSES)
    sim = simulate_status_couples(soc2020.units, n_couples=200_000, seed=3)
    title, table = tabulate_by_status("<sim>", CoupleColumns("hocc", "wocc", "hemp", "wemp", "weight"),
                                      soc2020.units, scheme.scored,
                                      frame=sim.couples)
    mask = blank_cells(soc2020.units, soc2020.units, diagonal_digits=0)
    options = ScaleOptions()
    title_scores = build_unit_scores(title, mask, mask, soc2020, options)
    by_status = build_by_status_scores(table, mask, mask, soc2020, scheme, options)
    return soc2020, scheme, sim, title_scores, by_status


def test_recovery_of_unit_by_status_scores(status_build):
    _, _, sim, _, by_status = status_build
    scores = by_status.scores
    for side, truth in (("m", "male_score"), ("f", "female_score")):
        populous = scores[f"n_{side}"] >= 50
        assert populous.sum() > 300
        r = np.corrcoef(scores.loc[populous, f"{side}camsis"], sim.truth.loc[scores.index[populous], truth])[0, 1]
        assert r >= 0.97, (side, r)


def test_by_status_scale_beats_title_only_for_people(status_build):
    soc2020, _, sim, title, by_status = status_build
    couples = sim.couples
    for side, occ, status, truth in (("m", "hocc", "hemp", "male_score"), ("f", "wocc", "wemp", "female_score")):
        people = couples[couples[occ].isin(soc2020.units) & couples[status].isin([1, 2, 3])]
        true = sim.truth.loc[people[occ] * 10 + people[status], truth].to_numpy()
        with_status = by_status.scores.loc[people[occ] * 10 + people[status], f"{side}camsis"].to_numpy()
        title_only = title.scores.loc[people[occ], f"{side}camsis"].to_numpy()
        assert np.corrcoef(with_status, true)[0, 1] > np.corrcoef(title_only, true)[0, 1] + 0.005


def test_score_file_has_v2_rows_and_status_zero_is_the_title_only_scale(status_build):
    soc2020, scheme, _, title, by_status = status_build
    title_table = fill_classification(title.scores, title.population, soc2020)
    table = by_status_table(by_status.scores, title_table, soc2020, scheme)
    v2 = pd.read_csv(REPO / "tests" / "data" / "gb_soc2020_v2_rows.tsv", sep="\t")
    assert len(table) == 1787 == 412 * 4 + 139
    assert set(zip(table["soc2020"], table["empst3"])) == set(zip(v2["soc2020"], v2["empst3"]))
    zero = table[table["empst3"] == 0].set_index("soc2020")
    expected = title_table.set_index("soc2020").loc[zero.index]
    for column in ("mcamsis", "fcamsis", "mcam_se", "fcam_se"):
        np.testing.assert_array_equal(zero[column].to_numpy(), expected[column].to_numpy())
    scored = table[table["empst3"] > 0].set_index("soc2020_empst3")
    np.testing.assert_array_equal(scored["mcamsis"].to_numpy(), by_status.scores.loc[scored.index, "mcamsis"].to_numpy())
    assert (table["soc2020_empst3"] == table["soc2020"] * 10 + table["empst3"]).all()
    assert {"n_hbst3", "n_wbst3", "m_imputed", "f_merged", "isei", "ns_sec"} <= set(table.columns)
    assert table[["mcamsis", "fcamsis"]].notna().all().all()


def test_an_empty_status_borrows_the_shared_score_of_its_group(status_build):
    _, _, _, _, by_status = status_build
    scores = by_status.scores
    checked = 0
    for unit in scores.index[scores["m_imputed"] < 0]:
        siblings = scores[(scores["m_imputed"] == 0) & (scores.index // 10 == unit // 10)]
        siblings = siblings[siblings.index.map(lambda s: by_status_node(s)) == by_status_node(unit)]
        if len(siblings) and siblings["mcamsis"].nunique() == 1:
            assert scores.loc[unit, "mcamsis"] == pytest.approx(siblings["mcamsis"].iloc[0])
            checked += 1
    assert checked > 5


def by_status_node(unit):
    """empst3's (occupation, group) node of a combined unit: statuses 1 and 2 are group 1, 3 is group 2."""
    return (unit // 10, 1 if unit % 10 in (1, 2) else 2)


def test_by_status_file_carries_ns_sec_by_status_as_published(soc2020, empst3):
    """NS-SEC comes from occupation and status together: the by-status table takes the
    shipped per-status values, which must be those of the published v2 file, row by row."""
    import pyreadstat

    published, _ = pyreadstat.read_dta(str(REPO / "tests" / "data" / "gb_soc2020_v2.dta"))
    combined = combine(np.repeat(soc2020.units, 3), np.tile([1, 2, 3], len(soc2020.units)))
    scores = pd.DataFrame({"mcamsis": 50.0, "fcamsis": 50.0, "n_m": 1.0, "n_f": 1.0}, index=combined)
    title = pd.DataFrame({"soc2020": soc2020.frame.index, "mcamsis": 50.0, "fcamsis": 50.0, "n_m": 1.0, "n_f": 1.0})
    table = by_status_table(scores, title, soc2020, empst3)
    got = table.set_index(["soc2020", "empst3"])["ns_sec"]
    expected = published.astype({"soc2020": int, "empst3": int}).set_index(["soc2020", "empst3"])["ns_sec"]
    pd.testing.assert_series_equal(got.reindex(expected.index).astype(float), expected.astype(float),
                                   check_names=False)
    assert got[(1121, 1)] == 4 and got[(1121, 0)] == 1  # a small employer's NS-SEC is not the employee's
    # a classification without per-status links keeps the code's value at every status
    plain = replace(soc2020, status_links={})
    flat = by_status_table(scores, title, plain, empst3).set_index(["soc2020", "empst3"])["ns_sec"]
    assert flat[(1121, 1)] == flat[(1121, 0)] == 1
