"""The whole workflow through Snakemake's command line, on copies of the project in tmp dirs."""

import json
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from helpers import REPO, planned_jobs, project_copy, snakemake

pytestmark = pytest.mark.slow  # every test here runs Snakemake


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The quick start's run: `snakemake --cores 2` with nothing else."""
    directory = project_copy(tmp_path_factory.mktemp("demo"))
    done = snakemake(directory)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory


def read_demo(directory):
    scores, meta = pyreadstat.read_dta(directory / "results/gb_soc2020_demo/gb_soc2020_demo.dta")
    couples, _ = pyreadstat.read_dta(directory / "resources/demo/gb_soc2020_demo.dta")
    truth = pd.read_csv(directory / "resources/demo/gb_soc2020_demo_truth.tsv", sep="\t", index_col=0)
    summary = json.loads((directory / "results/gb_soc2020_demo/summary.json").read_text())
    return scores, meta, couples, truth, summary


def test_score_file_matches_the_published_format(demo, soc2020):
    scores, meta, _, _, _ = read_demo(demo)
    assert len(scores) == 551 and scores["soc2020"].tolist() == soc2020.frame.index.tolist()
    assert meta.variable_value_labels["soc2020"][2134] == soc2020.frame.loc[2134, "label"]
    assert meta.variable_to_label["soc2020"] == "soc2020a" and meta.variable_to_label["ns_sec"] == "ns_secl"
    for column in scores.columns:
        assert meta.column_names_to_labels[column], f"{column} has no label"
    assert "gb_soc2020_demo" in meta.file_label and "camsis" in meta.file_label
    assert scores[["mcamsis", "fcamsis"]].notna().all().all()
    assert scores[["mcamsis", "fcamsis"]].stack().between(1, 99).all()
    for link in ["isei", "siops", "icam", "ns_sec", "ns_sec_op", "isco08", "isco88"]:
        assert link in scores.columns
    csv = pd.read_csv(demo / "results/gb_soc2020_demo/gb_soc2020_demo.csv")
    assert np.allclose(csv["mcamsis"], scores["mcamsis"]) and list(csv.columns) == list(scores.columns)


def test_every_dta_the_workflow_writes_is_readable_by_stata_13(demo):
    written = sorted(demo.glob("results/**/*.dta")) + sorted(demo.glob("resources/**/*.dta"))
    assert any(path.name == "gb_soc2020_demo.dta" for path in written)
    for path in written:  # format 117 = Stata 13+ (118 only where text needs Unicode; none here)
        assert path.read_bytes()[:31] == b"<stata_dta><header><release>117", path


def test_release_target_publishes_every_scale(demo):
    """`snakemake release` after the quick start: only the release jobs run, from the build's own files.

    The demo is built with statuses, so its release has the by-status tables too. The folder
    holds exactly the release (every file in SHA256SUMS and the zip, no Snakemake marker).
    """
    import subprocess
    import zipfile

    done = snakemake(demo, "release")
    assert done.returncode == 0, done.stderr[-3000:]
    folder = demo / "results/gb_soc2020_demo/release"
    names = {p.name for p in folder.iterdir()}
    tables = {f"gb_soc2020_demo{kind}.{ext}" for kind in ("", "_by_status") for ext in ("dta", "sav", "tsv")}
    assert tables | {"gb_soc2020_demo_readme.txt", "gb_soc2020_demo_match.do", "gb_soc2020_demo_match.sps",
                     "gb_soc2020_demo_match.R", "CITATION.cff", "SHA256SUMS"} == names
    for table in ("gb_soc2020_demo.dta", "gb_soc2020_demo_by_status.dta"):
        assert (folder / table).read_bytes() == (demo / "results/gb_soc2020_demo" / table).read_bytes()
    listed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert listed == names - {"SHA256SUMS"}
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder).returncode == 0
    summary = json.loads((demo / "results/gb_soc2020_demo/summary.json").read_text())
    readme = " ".join((folder / "gb_soc2020_demo_readme.txt").read_text().split())
    assert f"Pairs read {summary['pairs_read']:,}, used {summary['pairs_used']:,}" in readme
    assert "version 1.0" in readme and summary["input"]["sha256"] in readme
    assert f"from the {summary['by_status']['pairs_used']:,} pairs with a scored status on both sides" in readme
    assert "Status 0 ('no information') rows are defined as the title-only scale" in readme
    assert "statuses 1 and 2 pooled first" in readme  # empst3's groups, from the scheme
    assert "gb_soc2020_demo_by_status.dta" in (folder / "gb_soc2020_demo_match.R").read_text()
    with zipfile.ZipFile(demo / "results/gb_soc2020_demo/gb_soc2020_demo_release.zip") as archive:
        assert {n.split("/", 1)[1] for n in archive.namelist()} == names
    assert planned_jobs(demo, "release") == set()  # every file of the release is a tracked output


def test_released_r_file_matches_the_demo_couples_as_camsis_match_does(demo, tmp_path):
    """The demo release's add_camsis in R, by code and status (the by-status file) and by code alone."""
    import subprocess

    from camsis.publish.match import match

    if shutil.which("Rscript") is None or subprocess.run(["Rscript", "-e", "library(haven)"], capture_output=True).returncode:
        pytest.skip("Rscript with haven is not installed (apt-get install r-base-core r-cran-haven)")
    if not (demo / "results/gb_soc2020_demo/release/SHA256SUMS").exists():
        assert snakemake(demo, "release").returncode == 0
    folder = demo / "results/gb_soc2020_demo/release"
    couples, _ = pyreadstat.read_dta(demo / "resources/demo/gb_soc2020_demo.dta", row_limit=5000)
    survey = couples[["hocc", "hemp"]].rename(columns={"hocc": "occ", "hemp": "emp"}).assign(sex=1)
    pyreadstat.write_dta(survey, str(tmp_path / "survey.dta"))
    for status, scores in (("emp", "gb_soc2020_demo_by_status.dta"), (None, "gb_soc2020_demo.dta")):
        argument = f"status = '{status}', " if status else ""
        script = (f"source('gb_soc2020_demo_match.R'); d <- haven::read_dta('{tmp_path / 'survey.dta'}'); "
                  f"o <- add_camsis(d, 'occ', {argument}sex = 'sex'); "
                  f"write.csv(as.data.frame(lapply(o, as.numeric)), '{tmp_path / 'out.csv'}', row.names = FALSE)")
        done = subprocess.run(["Rscript", "-e", script], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0 and f"not in {scores}" in done.stderr, done.stderr
        expected, summary = match(survey, pyreadstat.read_dta(folder / scores)[0], "occ", status=status, sex="sex")
        assert summary["matched"] > 0.9 * len(survey)
        np.testing.assert_allclose(pd.read_csv(tmp_path / "out.csv").to_numpy(float), expected.to_numpy(float),
                                   equal_nan=True)


def test_units_have_mean_50_sd_15_over_the_input_population(demo):
    scores, _, couples, _, _ = read_demo(demo)
    units = scores.set_index("soc2020")
    valid = couples["hocc"].isin(units.index[units.index > 1000]) & couples["wocc"].isin(units.index[units.index > 1000])
    for code, column in (("hocc", "mcamsis"), ("wocc", "fcamsis")):
        # every person of a valid pair counts, blanked pairs included
        person_scores = units.loc[couples.loc[valid, code], column].to_numpy()
        assert not units[column].isin([1, 99]).any(), "clipping would move the moments"
        assert person_scores.mean() == pytest.approx(50, abs=1e-6)
        assert person_scores.std() == pytest.approx(15, abs=1e-6)


def test_every_dropped_pair_counted_once(demo):
    _, _, couples, _, summary = read_demo(demo)
    units = set(pd.read_csv(REPO / "data/classifications/soc2020.tsv", sep="\t").query("level == 4")["code"])
    missing = (couples["hocc"].isna() | couples["wocc"].isna() | (couples["hocc"] < 0) | (couples["wocc"] < 0))
    unknown = ~missing & ~(couples["hocc"].isin(units) & couples["wocc"].isin(units))
    assert summary["pairs_read"] == len(couples)
    assert summary["dropped"]["survey_missing"] == missing.sum()
    assert summary["dropped"]["not_in_classification"] == unknown.sum()
    assert summary["pairs_used"] == len(couples) - sum(summary["dropped"].values())
    assert summary["input"]["sha256"] and summary["camsis_version"]


def test_recovers_the_generators_true_scores(demo):
    scores, _, _, truth, _ = read_demo(demo)
    units = scores.set_index("soc2020").loc[truth.index]
    for column, true, cases in (("mcamsis", "male_score", "n_m"), ("fcamsis", "female_score", "n_f")):
        large = units[cases] >= 50
        assert large.sum() > 150
        assert np.corrcoef(units.loc[large, column], truth.loc[large, true])[0, 1] >= 0.97


def test_demo_writes_the_by_status_file_beside_the_title_only_one(demo):
    """The default sheet row names statuses: the quick start also writes the v2-layout by-status file."""
    scores, _, couples, _, summary = read_demo(demo)
    by_status, meta = pyreadstat.read_dta(demo / "results/gb_soc2020_demo/gb_soc2020_demo_by_status.dta")
    v2 = pd.read_csv(REPO / "tests/data/gb_soc2020_v2_rows.tsv", sep="\t")
    assert set(zip(by_status["soc2020"], by_status["empst3"])) == set(zip(v2["soc2020"], v2["empst3"]))
    # as published: label sets soc2020a/empst3/ns_secl, codes int16, statuses int8, NS-SEC by status as in v2
    assert {k: meta.variable_to_label[k] for k in ("soc2020", "empst3", "ns_sec")} == {
        "soc2020": "soc2020a", "empst3": "empst3", "ns_sec": "ns_secl"}
    assert meta.readstat_variable_types["soc2020"] == "int16" and meta.readstat_variable_types["empst3"] == "int8"
    published, _ = pyreadstat.read_dta(REPO / "tests/data/gb_soc2020_v2.dta")
    ns_sec = by_status.set_index(["soc2020", "empst3"])["ns_sec"]
    expected = published.set_index(["soc2020", "empst3"])["ns_sec"]
    np.testing.assert_array_equal(ns_sec.reindex(expected.index).to_numpy(float), expected.to_numpy(float))
    zero = by_status[by_status["empst3"] == 0].set_index("soc2020")
    title = scores.set_index("soc2020").loc[zero.index]
    np.testing.assert_allclose(zero[["mcamsis", "fcamsis"]].to_numpy(), title[["mcamsis", "fcamsis"]].to_numpy())
    # Pairs of the title-only scale without a scored status on both sides are counted, not lost.
    units = set(pd.read_csv(REPO / "data/classifications/soc2020.tsv", sep="\t").query("level == 4")["code"])
    valid = couples[couples["hocc"].isin(units) & couples["wocc"].isin(units)]
    unknown = ~(valid["hemp"].isin([1, 2, 3]) & valid["wemp"].isin([1, 2, 3]))
    assert summary["status_unknown"] == int(unknown.sum()) > 0
    assert summary["by_status"]["pairs_used"] == summary["pairs_used"] - summary["status_unknown"]
    truth = pd.read_csv(demo / "resources/demo/gb_soc2020_demo_truth_by_status.tsv", sep="\t", index_col=0)
    scored = by_status[by_status["empst3"] > 0].set_index("soc2020_empst3")
    large = scored["n_hbst3"] >= 50
    assert large.sum() > 150
    assert np.corrcoef(scored.loc[large, "mcamsis"], truth.loc[scored.index[large], "male_score"])[0, 1] >= 0.97


def test_bad_variable_stops_the_run_with_one_line(tmp_path):
    directory = project_copy(tmp_path)
    couples = pd.DataFrame({"hocc": [1111, 2111] * 50, "wocc": [2111, 1111] * 50})
    couples.to_csv(directory / "couples.csv", index=False)
    (directory / "config/bad.tsv").write_text(
        "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n"
        "bad\tcouples.csv\thusband_occ\twocc\t\tsoc2020\t\t0\n"
    )
    done = snakemake(directory, "--config", "scales=config/bad.tsv")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("camsis: error:")]
    assert len(errors) == 1 and "husband_occ" in errors[0] and "couples.csv" in errors[0]
    assert not (directory / "results/bad/bad.dta").exists()
    assert not (directory / "results/bad/work/table.parquet").exists()


def test_bad_sheet_is_refused_before_any_job(tmp_path):
    directory = project_copy(tmp_path)
    (directory / "config/dup.tsv").write_text(
        "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n"
        "a\tx.csv\th\tw\t\tsoc2020\t\t0\na\ty.csv\th\tw\t\tsoc2020\t\t0\n"
    )
    done = snakemake(directory, "--config", "scales=config/dup.tsv")
    assert done.returncode != 0
    assert "camsis: error: scales sheet config/dup.tsv: scale name(s) a appear more than once" in done.stderr


def sheet_with(directory, name, **cells):
    """A copy of the demo's sheet with some cells changed, as config/{name}.tsv; returns the --config option."""
    sheet = pd.read_csv(directory / "config/scales.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet.assign(**cells).to_csv(directory / f"config/{name}.tsv", sep="\t", index=False)
    return f"scales=config/{name}.tsv"


@pytest.mark.slow
def test_a_change_reruns_only_the_rules_that_use_it(demo):
    """The README's promise: Snakemake reruns only what a change affects (a dry run after the build)."""
    assert planned_jobs(demo) == set()
    # The demo is built with statuses: rules tabulate and score_units run for both variants.
    scoring = {"tabulate", "blank", "score_units"}
    shutil.copy(REPO / "tests/data/gb_soc2020_v1.dta", demo / "old.dta")
    compared = sheet_with(demo, "compared", compare_to="old.dta")
    changes = {
        "compare_to in the sheet": ["--config", compared],
        "compare_to in the config": ["--config", "compare_to=old.dta"],
        "bootstrap_seed": ["--config", "bootstrap_seed=7"],
        "psd_top": ["--config", "psd_top=10"],
        "psd_min_count": ["--config", "psd_min_count=3"],
        "plot option": ["--config", "plot_dpi=50"],
    }
    # They change no number of the score file, so its provenance (notes, summary.json) leaves them out.
    downstream = {"compare_to in the sheet", "compare_to in the config", "plot option", "psd_top", "psd_min_count"}
    planned = {change: planned_jobs(demo, *args) for change, args in changes.items()}
    for change, jobs in planned.items():
        assert jobs, f"changing {change} reruns nothing: the dry run did not see it"
        assert not jobs & scoring, f"changing {change} would rerun {sorted(jobs & scoring)}"
        if change in downstream:
            assert "score_file" not in jobs, f"changing {change} would rerun score_file"
    assert "psd_candidates" in planned["psd_top"] & planned["psd_min_count"]
    assert "compare" in planned["compare_to in the sheet"] & planned["compare_to in the config"]
    assert "plots" in planned["plot option"] and "score_file" in planned["bootstrap_seed"]

    psds = (REPO / "data/psds/gb_soc2020.tsv").read_text()
    (demo / "more_psds.tsv").write_text(psds.rstrip("\n") + "\n1111\t1111\t1112\t1112\n")
    jobs = planned_jobs(demo, "--config", sheet_with(demo, "psds", psds="more_psds.tsv"))
    assert "blank" in jobs and "tabulate" not in jobs


@pytest.mark.slow
def test_rc2_estimator_from_the_sheet_with_bootstrap_plots_and_compare(tmp_path):
    """One run, two scales on the demo input: the CA, and the RC(1) model compared with it."""
    directory = project_copy(tmp_path)
    header = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups\testimator\tcompare_to\n"
    common = "resources/demo/gb_soc2020_demo.dta\thocc\twocc\t\tsoc2020\tdata/psds/gb_soc2020.tsv\t0\t1,2"
    (directory / "config/two.tsv").write_text(
        header + f"byca\t{common}\t\t\n" + f"byrc\t{common}\trc2\tresults/byca/byca.dta\n"
    )
    done = snakemake(directory, "--config", "scales=config/two.tsv", "bootstrap=2", "plausible_values=2")
    assert done.returncode == 0, done.stderr[-3000:]
    results = directory / "results"
    summary = json.loads((results / "byrc/summary.json").read_text())
    assert {"deviance", "df", "iterations", "converged", "phi"} <= set(summary["rc2"])
    assert summary["rc2"]["converged"] and len(summary["rc2"]["phi"]) == 1 and summary["rc2"]["df"] > 0
    assert "rc2" not in json.loads((results / "byca/summary.json").read_text())
    rc, _ = pyreadstat.read_dta(results / "byrc/byrc.dta")
    ca, _ = pyreadstat.read_dta(results / "byca/byca.dta")
    assert rc["mcamsis2"].isna().all() and ca["mcamsis2"].notna().all()
    assert rc[["mcam_bse", "fcam_bse"]].notna().any().all()
    for side in ("m", "f"):
        assert np.corrcoef(rc[f"{side}camsis"], ca[f"{side}camsis"])[0, 1] > 0.95
    units = pd.read_csv(results / "byrc/work/unit_scores.tsv", sep="\t", index_col=0)
    assert {"m_raw", "f_raw", "m_ca", "f_ca", "m_ca2", "f_ca2"} <= set(units.columns)
    assert (results / "byrc/plots/shrinkage.png").stat().st_size > 0
    assert (results / "byrc/plots/ca_map.png").stat().st_size > 0
    assert (results / "byrc/compare.tsv").exists() and (results / "byrc/plausible.dta").exists()
