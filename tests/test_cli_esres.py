"""`camsis esres` end to end: the seed's Talk 1 table through the command, outputs,
--log, and one-line errors that leave nothing behind."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from camsis.cli import main
from helpers import TEST_DATA

TALK1 = ["lrt", "girl", "schl_boys", "schl_girls"]


@pytest.fixture(scope="module")
def gcse_dta(tmp_path_factory):
    """gcse.dta with schgend turned into the two dummies, and labels on schgend."""
    df, _ = pyreadstat.read_dta(str(TEST_DATA / "gcse.dta"))
    df["schl_boys"] = (df["schgend"] == 2).astype(float)
    df["schl_girls"] = (df["schgend"] == 3).astype(float)
    df["score"] = df["gcse"] - df["gcse"].min() + 1.0
    df["one"] = 1.0
    path = tmp_path_factory.mktemp("data") / "gcse_dummies.dta"
    pyreadstat.write_dta(df, str(path), column_labels={"schgend": "School gender"},
                         variable_value_labels={"schgend": {1: "mixed", 2: "boys", 3: "girls"}})
    return path, df


def test_talk1_through_the_command(gcse_dta, tmp_path):
    path, _ = gcse_dta
    out, summary, plot = tmp_path / "s.csv", tmp_path / "s.json", tmp_path / "s.png"
    rc = main(["esres", str(path), "--outcome", "gcse", "--group", "school", "--controls", *TALK1,
               "--out", str(out), "--summary", str(summary), "--plot", str(plot)])
    assert rc == 0
    s = json.loads(summary.read_text())
    fixed = {k: (round(v["coef"], 2), round(v["se"], 2)) for k, v in s["fixed"].items()}
    assert fixed == {"const": (-1.68, 0.55), "lrt": (0.56, 0.01), "girl": (1.67, 0.34),
                     "schl_boys": (1.78, 1.13), "schl_girls": (1.59, 0.89)}
    assert (s["groups"], s["n"], round(s["icc"], 2), round(s["sigma_u"], 2), round(s["loglik"])) == \
        (65, 4059, 0.13, 2.93, -14011)
    assert s["reml"] and s["controls"] == TALK1 and s["dropped_missing"] == 0
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["school", "n", "eps", "esres", "esres_se", "lambda"]
    assert len(scores) == 65 and scores["school"].dtype.kind == "i" and scores["n"].sum() == 4059
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ml_through_a_subprocess(gcse_dta, tmp_path):
    path, _ = gcse_dta
    summary = tmp_path / "ml.json"
    proc = subprocess.run([sys.executable, "-m", "camsis.cli", "esres", str(path), "--outcome", "gcse",
                           "--group", "school", "--controls", *TALK1, "--ml", "--out", str(tmp_path / "ml.csv"),
                           "--summary", str(summary)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(summary.read_text())
    assert not s["reml"]
    # ML shrinks sigma_u below the REML 2.93; its likelihood beats the OLS model's -14182
    assert s["sigma_u"] < 2.93 and -14182 < s["loglik"] < -14000


def test_log_outcome_gives_geometric_means_and_labelled_dta(gcse_dta, tmp_path):
    path, df = gcse_dta
    out = tmp_path / "log.dta"
    assert main(["esres", str(path), "--outcome", "score", "--group", "schgend", "--log", "--out", str(out)]) == 0
    scores, meta = pyreadstat.read_dta(str(out))
    assert list(scores.columns) == ["schgend", "n", "eps", "esres", "esres_se_log", "lambda"]
    geo = np.exp(np.log(df["score"]).groupby(df["schgend"]).mean())
    np.testing.assert_allclose(scores["eps"], geo.to_numpy(), rtol=1e-10)
    # ESRES on the log scale shrinks each log-mean towards the intercept
    log_esres = np.log(scores["esres"].to_numpy())
    log_eps = np.log(geo.to_numpy())
    assert np.all(np.abs(log_esres - log_eps) < np.abs(log_eps - log_eps.mean()) + 1e-12)
    assert meta.variable_value_labels["schgend"] == {1: "mixed", 2: "boys", 3: "girls"}
    assert meta.column_names_to_labels["schgend"] == "School gender"
    assert "log scale" in meta.column_names_to_labels["esres_se_log"]
    assert "Geometric mean" in meta.column_names_to_labels["eps"]


def test_weights_and_missing_rows_from_csv(tmp_path):
    frame = pd.DataFrame({"g": [1, 1, 1, 2, 2, 2, 3, 3, None], "y": [1, 2, 3, 4, 5, None, 6, 8, 1.0],
                          "w": [1, 2, 1, 1, 3, 1, 2, 2, 1]})
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    summary = tmp_path / "s.json"
    assert main(["esres", str(data), "--outcome", "y", "--group", "g", "--weight", "w",
                 "--out", str(tmp_path / "o.csv"), "--summary", str(summary)]) == 0
    s = json.loads(summary.read_text())
    assert s["dropped_missing"] == 2 and s["n"] == 12 and s["n_rows"] == 7
    scores = pd.read_csv(tmp_path / "o.csv")
    np.testing.assert_allclose(scores["eps"], [(1 + 4 + 3) / 4, (4 + 15) / 4, 7.0])


def run_error(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if line.startswith("camsis: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_errors_are_one_line_and_leave_nothing(gcse_dta, tmp_path, capsys):
    path, _ = gcse_dta
    out = tmp_path / "out"
    out.mkdir()
    target = ["--out", str(out / "s.csv"), "--summary", str(out / "s.json"), "--plot", str(out / "s.png")]
    base = ["esres", str(path), "--group", "school"]
    msg = run_error(["esres", str(path), "--outcome", "gcse", "--group", "schol", *target], capsys)
    assert "variable 'schol' (did you mean 'school'?) not in" in msg and "it has: " in msg
    assert "non-positive" in run_error([*base, "--outcome", "gcse", "--log", *target], capsys)
    assert "'one' has a single category" in run_error(["esres", str(path), "--outcome", "gcse", "--group", "one",
                                                       *target], capsys)
    assert "does not exist" in run_error(["esres", str(tmp_path / "none.dta"), "--outcome", "y", "--group", "g",
                                        *target], capsys)
    bad = tmp_path / "text.dta"
    bad.write_text("not a stata file\n")
    assert "cannot read" in run_error(["esres", str(bad), "--outcome", "y", "--group", "g", *target], capsys)
    assert ".csv or .dta" in run_error([*base, "--outcome", "gcse", "--out", str(out / "s.xlsx")], capsys)
    assert os.listdir(out) == []


def test_an_error_keeps_an_existing_output(gcse_dta, tmp_path, capsys):
    path, _ = gcse_dta
    out = tmp_path / "s.csv"
    out.write_text("previous\n")
    run_error(["esres", str(path), "--outcome", "student", "--group", "school", "--controls", "lrt", "lrt2",
               "--out", str(out)], capsys)
    assert out.read_text() == "previous\n" and os.listdir(tmp_path) == ["s.csv"]


@pytest.fixture
def hostile(tmp_path):
    """A small valid data set, and variants that once gave tracebacks or lost a result."""
    rng = np.random.default_rng(7)
    g = rng.integers(0, 12, 300)
    data = pd.DataFrame({"g": g, "y": rng.normal(size=300) + 0.2 * g, "w": rng.uniform(0.5, 2.0, 300)})
    paths = {}
    for name, frame in {"good": data, "constant": data.assign(y=3.0), "zero_weights": data.assign(w=0.0),
                        "huge_weights": data.assign(w=1e308), "large_weights": data.assign(w=1e300),
                        "tiny_weights": data.assign(w=1e-300)}.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return tmp_path, paths


@pytest.mark.parametrize("case, argv, culprit", [
    ("constant", [], "outcome 'y' is constant"),
    ("zero_weights", ["--weight", "w"], "weight 'w' is zero on every row"),
    ("huge_weights", ["--weight", "w"], "weight 'w' overflow"),
    ("large_weights", ["--weight", "w"], "weight 'w' overflow"),
    ("tiny_weights", ["--weight", "w"], "weight 'w' sums to 3e-298"),
])
def test_degenerate_data_is_one_line_not_a_traceback(hostile, case, argv, culprit, capsys):
    folder, paths = hostile
    message = run_error(["esres", str(paths[case]), "--outcome", "y", "--group", "g", *argv,
                         "--out", str(folder / "s.csv")], capsys)
    assert culprit in message
    assert not (folder / "s.csv").exists()


@pytest.mark.parametrize("outputs, culprit", [
    (["--out", "s.csv", "--summary", "s.csv"], "--summary and --out name the same file s.csv"),
    (["--out", "s.csv", "--plot", "s.csv"], "unknown image format 'csv'"),
    (["--out", "s.dta", "--summary", "p.png", "--plot", "p.png"], "--plot and --summary name the same file"),
    (["--out", "good.csv"], "--out good.csv is an input file (DATA)"),
    (["--out", "s.csv", "--plot", "p.xyz"], "--plot p.xyz: unknown image format 'xyz'"),
])
def test_outputs_that_would_overwrite_each_other_are_refused(hostile, outputs, culprit, capsys, monkeypatch):
    folder, paths = hostile
    monkeypatch.chdir(folder)
    before = sorted(os.listdir(folder))
    message = run_error(["esres", "good.csv", "--outcome", "y", "--group", "g", *outputs], capsys)
    assert culprit in message
    assert sorted(os.listdir(folder)) == before
    assert (folder / "good.csv").read_text().startswith("g,y,w")


def test_pupils_in_schools_in_authorities(tmp_path, capsys):
    """--within: schools nested in local authorities, the same fit as lme4's
    (1 | la/school) (tests/test_esres_nested.py checks fit_nested against lme4 and statsmodels)."""
    from camsis.method.esres import NestedSums, fit_nested

    rng = np.random.default_rng(4)
    la = np.repeat(np.arange(6), 40)
    school = la * 10 + rng.integers(0, 5, size=len(la))
    pupils = pd.DataFrame({"la": la, "school": school, "girl": rng.integers(0, 2, size=len(la)).astype(float)})
    pupils["score"] = (0.5 * rng.normal(size=6)[la] + 0.3 * rng.normal(size=60)[school % 60] + pupils["girl"]
                       + rng.normal(size=len(la)))
    data = tmp_path / "pupils.dta"
    pyreadstat.write_dta(pupils, str(data))
    out, groups, summary = tmp_path / "schools.dta", tmp_path / "la.csv", tmp_path / "s.json"
    assert main(["esres", str(data), "--outcome", "score", "--group", "school", "--within", "la", "--controls", "girl",
                 "--out", str(out), "--groups-out", str(groups), "--summary", str(summary)]) == 0
    expected = fit_nested(NestedSums.from_frame(pupils, "score", ["school", "la"], ["girl"]))
    scores, _ = pyreadstat.read_dta(str(out))
    np.testing.assert_allclose(scores["esres"], expected.scores["esres"], rtol=1e-12)
    assert (scores["la"].to_numpy() == scores["school"].to_numpy() // 10).all()
    written = pd.read_csv(groups)
    np.testing.assert_allclose(written["path"], expected.groups[0]["path"], rtol=1e-12)
    s = json.loads(summary.read_text())
    assert [level["name"] for level in s["levels"]] == ["school", "la"] and s["within"] == ["la"]
    # A school in two authorities does not nest.
    pupils.loc[0, "la"] = 5
    pyreadstat.write_dta(pupils, str(data))
    line = run_error(["esres", str(data), "--outcome", "score", "--group", "school", "--within", "la",
                      "--out", str(tmp_path / "x.csv")], capsys)
    assert "lies in more than one 'la' group: nested levels must nest" in line
    line = run_error(["esres", str(data), "--outcome", "score", "--group", "school", "--groups-out", str(groups),
                      "--out", str(tmp_path / "x.csv")], capsys)
    assert "--groups-out writes the groups of --within" in line


def test_an_output_that_is_a_folder_is_refused_before_anything_is_written(hostile, capsys):
    """`--out DIR` was a traceback (IsADirectoryError) after the fit."""
    folder, paths = hostile
    (folder / "scores.csv").mkdir()
    message = run_error(["esres", str(paths["good"]), "--outcome", "y", "--group", "g", "--out", str(folder / "scores.csv"),
                         "--summary", str(folder / "s.json")], capsys)
    assert message == f"camsis: error: --out {folder / 'scores.csv'} is a folder; give a file name " \
                      f"(e.g. {folder / 'scores.csv' / 'out.csv'})"
    assert not (folder / "s.json").exists() and not any((folder / "scores.csv").iterdir())
