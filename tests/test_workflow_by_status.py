"""The by-status build through Snakemake: a toy scale with statuses, and the sheet and input errors."""

import json
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from helpers import PLAIN, REPO, TOY, TOY_UNITS, error_lines, snakemake, status_couples, toy_project

pytestmark = pytest.mark.slow  # every test here runs Snakemake

HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tstatus1\tstatus2\tstatuses\n"
SCORED = (1, 2, 3)  # empst3's scored statuses


def toy_status_project(target):
    directory = toy_project(target)
    shutil.copytree(REPO / "data/statuses", directory / "data/statuses")
    status_couples().to_csv(directory / "couples.csv", index=False)
    return directory


def published_by_status():
    """A compare_to file in the layout of the published v2 (code, empst3, mcamsis, fcamsis): every toy unit
    with every status, and the groups with status 0, scores made up from the code and the status."""
    rows = [(u, s) for u in TOY_UNITS for s in (0, *SCORED)] + [(code, 0) for code, level, *_ in TOY if level < 3]
    frame = pd.DataFrame(rows, columns=["toy", "empst3"])
    frame["mcamsis"] = 30 + (frame["toy"] % 97) * 0.4 + frame["empst3"] * 3.0
    frame["fcamsis"] = 70 - (frame["toy"] % 89) * 0.3 - frame["empst3"] ** 2
    return frame


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """Two scales of one run: 'good' with statuses (bootstrap, plausible values, compared with a by-status
    file), 'nostatus' naming a status variable the input lacks."""
    directory = toy_status_project(tmp_path_factory.mktemp("by_status"))
    published_by_status().to_csv(directory / "v2.csv", index=False)
    (directory / "config/toy.tsv").write_text(
        HEADER.rstrip("\n") + "\tcompare_to\n"
        + "good\tcouples.csv\thocc\twocc\twt\ttoy\t\t0\themp\twemp\tempst3\tv2.csv\n"
        + "nostatus\tcouples.csv\thocc\twocc\twt\ttoy\t\t0\themp\twife_emp\tempst3\t\n"
    )
    done = snakemake(directory, "--keep-going", "--config", "scales=config/toy.tsv", "bootstrap=4",
                     "plausible_values=2", "psd_rounds=0")
    return directory, done


def test_by_status_file_has_every_unit_with_every_status(toy_run):
    directory, done = toy_run
    path = directory / "results/good/good_by_status.dta"
    assert path.exists(), done.stderr[-3000:]
    frame, meta = pyreadstat.read_dta(path)
    groups = [code for code, level, *_ in TOY if level < 3]
    expected = {(u, s) for u in TOY_UNITS for s in (0, *SCORED)} | {(g, 0) for g in groups}
    assert set(zip(frame["toy"].astype(int), frame["empst3"].astype(int))) == expected and len(frame) == len(expected)
    assert (frame["toy_empst3"] == frame["toy"] * 10 + frame["empst3"]).all()
    assert meta.variable_value_labels["empst3"] == {0: "0. Unknown", 1: "1. Self-employed",
                                                    2: "2. Manager/supervisor", 3: "3. Employee"}
    # the label sets are named as in the published v2 and the title-only file, not toy0/empst31
    assert meta.variable_to_label == {"toy": "toya", "empst3": "empst3"}
    scored = frame[frame["empst3"] > 0]
    assert scored[["mcamsis", "fcamsis"]].notna().all().all()
    csv = pd.read_csv(directory / "results/good/good_by_status.csv")
    np.testing.assert_allclose(csv["mcamsis"], frame["mcamsis"])


def test_status_zero_rows_are_the_title_only_scale(toy_run):
    directory, done = toy_run
    frame, _ = pyreadstat.read_dta(directory / "results/good/good_by_status.dta")
    title, _ = pyreadstat.read_dta(directory / "results/good/good.dta")
    zero = frame[frame["empst3"] == 0].set_index("toy").sort_index()
    title = title.set_index("toy").loc[zero.index]
    np.testing.assert_allclose(zero[["mcamsis", "fcamsis"]].to_numpy(), title[["mcamsis", "fcamsis"]].to_numpy())


def test_pairs_without_a_scored_status_are_counted_in_the_summary(toy_run):
    directory, _ = toy_run
    summary = json.loads((directory / "results/good/summary.json").read_text())
    couples = status_couples()  # every toy pair is valid for the title-only scale
    unknown = ~(couples["hemp"].isin(SCORED) & couples["wemp"].isin(SCORED))
    assert summary["pairs_used"] == len(couples)
    assert summary["status_unknown"] == int(unknown.sum()) > 0
    assert summary["by_status"]["pairs_used"] == len(couples) - int(unknown.sum())
    assert summary["by_status"]["statuses"] == "empst3"
    # The by-status score file's own summary is the same record, named after its scale.
    own = json.loads((directory / "results/good/summary_by_status.json").read_text())
    assert own["scale"] == "good" and own["built"] == summary["built"]
    assert {key: own[key] for key in summary["by_status"]} == summary["by_status"]


def test_by_status_bootstrap_fills_the_scored_statuses_and_keeps_the_title_only_rows(toy_run):
    directory, done = toy_run
    results = directory / "results/good"
    frame, meta = pyreadstat.read_dta(results / "good_by_status.dta")
    title, _ = pyreadstat.read_dta(results / "good.dta")
    replicates = pd.read_parquet(results / "bootstrap_by_status/replicates.parquet")
    assert sorted(replicates["replicate"].unique()) == [1, 2, 3, 4]
    scored = frame[frame["empst3"] > 0].set_index("toy_empst3")
    units = pd.read_csv(results / "work_by_status/unit_scores.tsv", sep="\t", index_col=0)
    for side in "mf":
        # the SD over the by-status replicates, recomputed here from the replicates file
        spread = replicates.pivot(index="code", columns="replicate", values=f"{side}camsis").std(axis=1, ddof=1)
        np.testing.assert_allclose(scored[f"{side}cam_bse"], spread.reindex(scored.index), rtol=1e-6)
        assert (scored[f"{side}cam_lo"] <= scored[f"{side}cam_hi"]).all() and scored[f"{side}cam_bse"].gt(0).all()
        zero = frame[frame["empst3"] == 0].set_index("toy")[f"{side}cam_bse"]
        np.testing.assert_allclose(zero, title.set_index("toy")[f"{side}cam_bse"].reindex(zero.index))
        # The total SE (METHOD 10), recomputed from the by-status unit file's shrinkage factors.
        shrinkage = units[f"{side}_lambda"].reindex(scored.index)
        se, bse = scored[f"{side}cam_se"], scored[f"{side}cam_bse"]
        own_var = (units[f"{side}_own_se"].reindex(scored.index) ** 2).fillna(shrinkage.fillna(0.0) * se**2)
        expected = np.sqrt(se**2 + np.maximum(0.0, bse**2 - own_var)).where(se.notna(), bse)
        np.testing.assert_allclose(scored[f"{side}cam_tse"], expected, rtol=1e-5)
        # the interval offered: each status unit's score -/+ 1.96 x its total SE
        half = 1.959963984540054 * scored[f"{side}cam_tse"]
        np.testing.assert_allclose(scored[f"{side}cam_lo"], scored[f"{side}camsis"] - half, rtol=1e-5)
        np.testing.assert_allclose(scored[f"{side}cam_hi"], scored[f"{side}camsis"] + half, rtol=1e-5)
    assert any(note.startswith("intervals: mcam_lo-mcam_hi (fcam_lo-fcam_hi) is score +/- 1.96 x mcam_tse")
               for note in meta.notes)
    summary = json.loads((results / "summary.json").read_text())
    assert summary["by_status"]["bootstrap"]["replicates"] == 4
    assert "title-only replicate" in summary["by_status"]["bootstrap"]["resampling"]


def test_by_status_plausible_values_rest_on_whole_replicates_of_both_bootstraps(toy_run):
    directory, _ = toy_run
    results = directory / "results/good"
    values, meta = pyreadstat.read_dta(results / "plausible_by_status.dta")
    frame, _ = pyreadstat.read_dta(results / "good_by_status.dta")
    assert list(values.columns) == ["toy", "empst3", "sex", "pv", "camsis"]
    assert len(values) == len(frame) * 2 * 2
    assert set(zip(values["toy"], values["empst3"])) == set(zip(frame["toy"], frame["empst3"]))
    assert meta.variable_value_labels["empst3"][1] == "1. Self-employed"
    # status 0 is the title-only scale: its pv is the title-only file's pv (the same replicate)
    title, _ = pyreadstat.read_dta(results / "plausible.dta")
    zero = values[values["empst3"] == 0].drop(columns="empst3").reset_index(drop=True)
    pd.testing.assert_frame_equal(zero, title[zero.columns].reset_index(drop=True), check_dtype=False)
    # a scored status's pv 1 rests on one whole by-status replicate, the one whose title-only twin made status 0's
    # pv 1: off by a N(0, tse^2 - bse^2) draw per unit (none where tse <= bse), so that replicate is the one
    # nearest in sum of squared standardised gaps (a chi-square with one df per unit; another replicate adds its spread)
    replicates = pd.read_parquet(results / "bootstrap_by_status/replicates.parquet")
    title_replicates = pd.read_parquet(results / "bootstrap/replicates.parquet")
    errors = frame.set_index(frame["toy"] * 10 + frame["empst3"])
    rest = np.sqrt(np.clip(errors["fcam_tse"] ** 2 - errors["fcam_bse"] ** 2, 0, None))

    def nearest(pv, long, codes):
        gaps = {}
        for r, rows in long.groupby("replicate"):
            gap, spread = pv - rows.set_index("code")["fcamsis"].reindex(pv.index), rest.reindex(codes).to_numpy()
            plain = spread < 1e-6
            gaps[r] = np.inf if not np.allclose(gap[plain], 0) else float(np.sum((gap[~plain] / spread[~plain]) ** 2))
        return min(gaps, key=gaps.get), gaps

    first = values[(values["pv"] == 1) & (values["sex"] == 2) & (values["empst3"] > 0)]
    first = first.set_index(first["toy"] * 10 + first["empst3"])["camsis"]
    match, gaps = nearest(first, replicates, first.index)
    zero_first = zero[(zero["pv"] == 1) & (zero["sex"] == 2)].set_index("toy")["camsis"]
    twin, _ = nearest(zero_first, title_replicates, zero_first.index * 10)
    assert match == twin and gaps[match] < 4 * len(first), gaps


def test_compare_to_a_by_status_file_matches_code_and_status(toy_run):
    directory, _ = toy_run
    results = directory / "results/good"
    published = published_by_status()
    ours = pd.read_csv(results / "good_by_status.csv")
    title = pd.read_csv(results / "good.csv")
    by_status = pd.read_csv(results / "compare_by_status.tsv", sep="\t").set_index(["codes", "sex"])
    title_only = pd.read_csv(results / "compare.tsv", sep="\t").set_index(["codes", "sex"])
    for sex, column in (("male", "mcamsis"), ("female", "fcamsis")):
        # unit x status against the file's unit x status rows (status 0 left to the title-only comparison)
        both = ours[ours["empst3"] > 0].merge(published, on=["toy", "empst3"], suffixes=("", "_old"))
        assert by_status.loc[("units", sex), "n"] == len(both) == len(TOY_UNITS) * len(SCORED)
        expected = np.corrcoef(both[column], both[f"{column}_old"])[0, 1]
        assert by_status.loc[("units", sex), "pearson"] == pytest.approx(expected, rel=1e-9)
        # the title-only scale against the file's status-0 rows
        zero = title.merge(published[published["empst3"] == 0], on="toy", suffixes=("", "_old"))
        units = zero[zero["toy"].isin(TOY_UNITS)]
        expected = np.corrcoef(units[column], units[f"{column}_old"])[0, 1]
        assert title_only.loc[("units", sex), "pearson"] == pytest.approx(expected, rel=1e-9)
        assert title_only.loc[("all codes", sex), "n"] == len(TOY)
    for name in ("caterpillar_m", "caterpillar_f", "shrinkage", "male_female", "ca_map", "linked_measures", "compare"):
        assert (results / f"plots_by_status/{name}.png").stat().st_size > 0, name


def test_a_missing_status_variable_is_one_line_and_no_score_file(toy_run):
    directory, done = toy_run
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1, "\n".join(errors) or done.stderr[-3000:]
    assert "wife_emp" in errors[0] and "couples.csv" in errors[0]
    assert "Traceback (most recent call last)" not in done.stderr
    for name in ("nostatus.dta", "nostatus_by_status.dta", "summary.json"):
        assert not (directory / "results/nostatus" / name).exists(), name


@pytest.mark.parametrize(
    "cells, message",
    [
        ("hemp\t\tempst3", "scale a gives status1 and statuses but not status2"),
        ("hemp\twemp\t", "scale a gives status1 and status2 but not statuses"),
        ("hemp\twemp\tempst9", "unknown status scheme 'empst9' for scale a (known in data/statuses: empst3, es5)"),
    ],
)
def test_incomplete_or_unknown_statuses_stop_the_run_before_any_job(tmp_path, cells, message):
    directory = toy_status_project(tmp_path)
    (directory / "config/bad.tsv").write_text(HEADER + f"a\tcouples.csv\thocc\twocc\t\ttoy\t\t0\t{cells}\n")
    done = snakemake(directory, "--config", "scales=config/bad.tsv", *PLAIN)
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and message in errors[0], done.stderr[-2000:]
    assert not (directory / "results").exists()
