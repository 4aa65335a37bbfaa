"""compare_to: correlations by hand and against scipy, the movers, and one-line errors for bad files."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from camsis.errors import CamsisError
from camsis.publish.compare import compare_scores, comparison_html, read_score_file
from helpers import REPO, one_line_error

PUBLISHED = REPO / "tests" / "data" / "gb_soc2020_v1.dta"


def score_frame(codes, male, female, code="occ"):
    return pd.DataFrame({code: codes, "mcamsis": male, "fcamsis": female})


def row(comparison, codes, sex):
    table = comparison.correlations.set_index(["codes", "sex"])
    return table.loc[(codes, sex)]


def test_correlations_worked_by_hand():
    # male: deviations (-1, 0, 1) and (-1, 1, 0): cov 1, variances 2 and 2, r = 1/2 (ranks alike)
    # female: reversed order, r = -1; group code 9 joins "all codes" only
    new = score_frame([1, 2, 3, 9], [1.0, 2.0, 3.0, 10.0], [1.0, 2.0, 3.0, 10.0])
    old = score_frame([1, 2, 3, 9], [1.0, 3.0, 2.0, 10.0], [3.0, 2.0, 1.0, 10.0])
    comparison = compare_scores(new, old, "occ", units=[1, 2, 3], titles={1: "a", 2: "b", 3: "c", 9: "group"})
    male, female = row(comparison, "units", "male"), row(comparison, "units", "female")
    assert male["n"] == 3 and male["pearson"] == pytest.approx(0.5) and male["spearman"] == pytest.approx(0.5)
    assert female["pearson"] == pytest.approx(-1.0) and female["spearman"] == pytest.approx(-1.0)
    assert male["mean_abs_difference"] == pytest.approx(2 / 3) and male["max_abs_difference"] == pytest.approx(1.0)
    assert female["mean_abs_difference"] == pytest.approx(4 / 3) and female["max_abs_difference"] == pytest.approx(2.0)
    everything = row(comparison, "all codes", "male")
    assert everything["n"] == 4 and everything["mean_new"] == pytest.approx(4.0)
    # all four codes: new (1,2,3,10), old (1,3,2,10), means 4 and 4
    # deviations (-3,-2,-1,6), (-3,-1,-2,6): cross 9+2+2+36 = 49, squares 50 and 50
    assert everything["pearson"] == pytest.approx(49 / 50)
    assert everything["spearman"] == pytest.approx(0.8)  # ranks (1,2,3,4) and (1,3,2,4): 1 - 6*2/(4*15)


def test_movers_are_units_largest_change_first():
    new = score_frame([1, 2, 3, 9], [1.0, 2.0, 3.0, 50.0], [1.0, 2.0, 3.0, 10.0])
    old = score_frame([1, 2, 3, 9], [1.0, 3.0, 2.0, 10.0], [3.0, 2.0, 1.0, 10.0])
    comparison = compare_scores(new, old, "occ", units=[1, 2, 3], titles={1: "a", 2: "b", 3: "c", 9: "group"}, top=2)
    female = comparison.top[comparison.top["sex"] == "female"]
    assert female["occ"].tolist() == [1, 3]  # |-2| then |2|, stable order on ties; never the group
    assert female["difference"].tolist() == [-2.0, 2.0] and female["title"].tolist() == ["a", "c"]
    assert female[["new", "old"]].to_numpy().tolist() == [[1.0, 3.0], [3.0, 1.0]]
    assert list(comparison.top.columns) == ["sex", "occ", "title", "new", "old", "difference"]
    assert 9 not in comparison.top["occ"].tolist()


def test_matches_scipy_on_random_scores_with_gaps_and_ties():
    rng = np.random.default_rng(1)
    codes = np.arange(100, 400)
    old = score_frame(codes, rng.normal(50, 15, 300).round(), rng.normal(50, 15, 300))
    new = old.assign(mcamsis=old["mcamsis"] + rng.normal(0, 8, 300), fcamsis=old["fcamsis"] * 0.5 + rng.normal(0, 10, 300))
    new.loc[[3, 50], "mcamsis"] = np.nan  # scored in one file only
    new = new.drop(index=[7]).sample(frac=1, random_state=2)  # a code missing, rows shuffled
    units = codes[::2]
    comparison = compare_scores(new, old, "occ", units=units)
    merged = new.merge(old, on="occ", suffixes=("_new", "_old"))
    for label, part in (("units", merged[merged["occ"].isin(units)]), ("all codes", merged)):
        for sex, column in (("male", "mcamsis"), ("female", "fcamsis")):
            both = part[[f"{column}_new", f"{column}_old"]].dropna()
            got = row(comparison, label, sex)
            assert got["n"] == len(both)
            assert got["pearson"] == pytest.approx(stats.pearsonr(both.iloc[:, 0], both.iloc[:, 1]).statistic, abs=1e-12)
            assert got["spearman"] == pytest.approx(stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic, abs=1e-12)
    assert comparison.only_old == [107] and comparison.only_new == []


def test_without_units_every_shared_code_counts():
    new = score_frame([1, 2, 3], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    comparison = compare_scores(new, new, "occ")
    assert comparison.correlations["codes"].tolist() == ["all codes", "all codes"]
    assert comparison.correlations["pearson"].tolist() == pytest.approx([1.0, 1.0])


def test_the_published_file_against_itself():
    published = read_score_file(PUBLISHED, "soc2020")
    assert len(published) == 551 and published["soc2020"].dtype == "int64"
    comparison = compare_scores(published, published, "soc2020", units=published["soc2020"][published["soc2020"] > 1000])
    assert comparison.correlations["pearson"].tolist() == pytest.approx([1.0] * 4)
    assert row(comparison, "units", "male")["n"] == 412 and row(comparison, "all codes", "female")["n"] == 551
    assert (comparison.top["difference"] == 0).all()
    page = comparison_html(comparison, "gb", PUBLISHED)
    assert page.startswith("<!DOCTYPE html>") and "gb_soc2020_v1.dta" in page and page.count("<table") == 2


def test_reads_csv_score_files(tmp_path):
    path = tmp_path / "old.csv"
    score_frame([1, 2], [10.0, 20.0], [30.0, None], code="soc2020").assign(extra="x").to_csv(path, index=False)
    frame = read_score_file(path, "soc2020")
    assert frame.columns.tolist() == ["soc2020", "mcamsis", "fcamsis"] and np.isnan(frame.loc[1, "fcamsis"])


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("old.txt", "soc2020,mcamsis,fcamsis\n1,2,3\n", ".dta or .csv"),
        ("old.csv", "soc2020,mcamsis\n1,2\n", "fcamsis"),
        ("old.csv", "soc,mcamsis,fcamsis\n1,2,3\n", "soc2020"),
        ("old.csv", "soc2020,mcamsis,fcamsis\n1,2,3\n1,4,5\n", "more than once"),
        ("old.csv", "soc2020,mcamsis,fcamsis\nx,2,3\n", "whole-number code"),
        ("old.csv", "soc2020,mcamsis,fcamsis\n1,,3\n", "no scores"),
        ("old.dta", "not a stata file", "old.dta"),
    ],
)
def test_bad_compare_files_give_one_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    message = one_line_error(read_score_file, path, "soc2020")
    assert expected in message and name in message


def test_missing_compare_file_and_nothing_in_common(tmp_path):
    assert "does not exist" in one_line_error(read_score_file, tmp_path / "gone.dta", "soc2020")
    a, b = score_frame([1, 2], [1.0, 2.0], [1.0, 2.0]), score_frame([3, 4], [1.0, 2.0], [1.0, 2.0])
    assert "no occ code in common" in one_line_error(compare_scores, a, b, "occ")
    assert "lack column(s) fcamsis" in one_line_error(compare_scores, a, b.drop(columns="fcamsis"), "occ")


def test_a_by_status_file_is_read_as_its_status_zero_rows_or_by_combined_code(tmp_path):
    from camsis.publish.compare import by_status_rows, title_only_rows

    # The layout of gb_soc2020_v2.dta: a code repeats once per status; status 0 is the occupation's score.
    v2 = pd.DataFrame({"soc2020": [1, 1111, 1111, 1111, 1111], "empst3": [0, 0, 1, 2, 3],
                       "mcamsis": [60.0, 70.0, 71.0, 72.0, 69.0], "fcamsis": [61.0, 73.0, 74.0, 75.0, 72.0]})
    path = tmp_path / "v2.csv"
    v2.to_csv(path, index=False)
    with pytest.raises(CamsisError, match="code.s. 1111 appear more than once"):
        read_score_file(path, "soc2020")
    title = title_only_rows(path, "soc2020", [("es", 0), ("empst3", 0)])
    assert title["soc2020"].tolist() == [1, 1111] and title["mcamsis"].tolist() == [60.0, 70.0]
    combined = by_status_rows(path, "soc2020", "empst3", [1, 2, 3])
    assert combined.set_index("soc2020").loc[11112, "fcamsis"] == 75.0
    # A title-only file gives each status its occupation's score.
    plain = tmp_path / "v1.csv"
    v2[v2["empst3"] == 0].drop(columns="empst3").to_csv(plain, index=False)
    expanded = by_status_rows(plain, "soc2020", "empst3", [1, 2, 3]).set_index("soc2020")
    assert expanded.loc[[11111, 11112, 11113], "mcamsis"].tolist() == [70.0] * 3
