"""`camsis match` and camsis.match: scores put on survey data, checked against the published files.

The expected scores are looked up row by row in plain dicts built from the published
score files (GB SOC2020 v1 title-only, v2 by employment status, an excerpt of DE95ISCO88
with two status schemes), not through the module's own index.
"""

import contextlib
import hashlib
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from camsis.cli import main
from camsis.errors import CamsisError
from camsis.publish.match import match, score_index

from helpers import REPO

DATA = REPO / "tests" / "data"
V1, V2, DE95 = DATA / "gb_soc2020_v1.dta", DATA / "gb_soc2020_v2.dta", DATA / "de95isco88_excerpt.sav"


def published(path):
    frame = (pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_sav)(str(path))[0]
    return frame


def lookup(path, status_column=None):
    """{code: (m, f)} or {(code, status): (m, f)} straight from the file's rows."""
    table = {}
    for row in published(path).to_dict("records"):
        row = {k.lower(): v for k, v in row.items()}
        code = int(row[next(iter(row))])
        key = code if status_column is None else (code, int(row[status_column]))
        if status_column is None or key[1] >= 0:
            table[key] = (row["mcamsis"], row["fcamsis"])
    return table


# Codes at every SOC2020 level (major 1, sub-major 11, minor 111, units 9269 and 2114),
# then invalid codes (9999 no such code, 5.5 not a code) and missing ones (-9, empty).
SURVEY = pd.DataFrame({
    "id": np.arange(9) + 100,
    "occ": [1, 11, 111, 9269, 2114, 9999, 5.5, -9, np.nan],
    "emp": [1, 2, 0, 1, np.nan, 1, 1, 1, 2],
    "sex": [1, 2, 1, 2, 1, 2, 1, 3, 2],
})


def test_title_only_every_level_plus_invalid_and_missing_codes():
    expected = lookup(V1)
    out, summary = match(SURVEY, published(V1), "occ", sex="sex")
    pd.testing.assert_frame_equal(out[SURVEY.columns], SURVEY)  # rows, columns and order kept
    assert list(out.columns) == [*SURVEY.columns, "mcamsis", "fcamsis", "camsis"]
    for i, code in enumerate([1, 11, 111, 9269, 2114]):
        assert (out.mcamsis[i], out.fcamsis[i]) == pytest.approx(expected[code])
        assert out.camsis[i] == pytest.approx(expected[code][0 if SURVEY.sex[i] == 1 else 1])
    assert out.loc[5:, ["mcamsis", "fcamsis", "camsis"]].isna().all().all()
    assert (summary["rows"], summary["matched"], summary["missing"], summary["not_in_scores"]) == (9, 5, 2, 2)
    assert [u["code"] for u in summary["unmatched_codes"]] == ["9999", "5.5"]
    assert summary["sex_other"] == 1


def test_by_status_file_matches_code_and_status_groups_and_missing_status_at_zero():
    expected = lookup(V2, "empst3")
    out, summary = match(SURVEY, published(V2), "occ", status="emp")
    # 1 and 11 are groups, scored at status 0 only in v2; 2114 has no status: status 0.
    keys = [(1, 0), (11, 0), (111, 0), (9269, 1), (2114, 0)]
    for i, key in enumerate(keys):
        assert (out.mcamsis[i], out.fcamsis[i]) == pytest.approx(expected[key])
    assert expected[(9269, 1)] != expected[(9269, 0)]  # the status made a difference
    assert summary["status_title_only"] == 2 and summary["status_missing"] == 1
    assert (summary["matched"], summary["missing"], summary["not_in_scores"]) == (5, 2, 2)


def test_by_status_file_without_status_uses_status_zero_and_invalid_status_is_unmatched():
    expected = lookup(V2, "empst3")
    out, _ = match(SURVEY.head(5), published(V2), "occ")
    for i, code in enumerate([1, 11, 111, 9269, 2114]):
        assert (out.mcamsis[i], out.fcamsis[i]) == pytest.approx(expected[(code, 0)])
    survey = pd.DataFrame({"occ": [1111, 1111], "emp": [7, 3]})
    out, summary = match(survey, published(V2), "occ", status="emp")
    assert np.isnan(out.mcamsis[0]) and out.mcamsis[1] == pytest.approx(expected[(1111, 3)][0])
    assert summary["unmatched_codes"] == [{"code": "1111 status 7", "rows": 1}]


def test_combined_code_column_of_the_workflows_by_status_file_is_not_a_status():
    """The workflow's by-status file has soc2020_empst3 (code*10 + status) between empst3 and mcamsis."""
    scores = published(V2)
    scores.insert(2, "soc2020_empst3", scores.soc2020 * 10 + scores.empst3)
    index = score_index(scores)
    assert (index.code, index.status) == ("soc2020", "empst3")
    out, _ = match(SURVEY, scores, "occ", status="emp")
    expected, _ = match(SURVEY, published(V2), "occ", status="emp")
    pd.testing.assert_frame_equal(out, expected)
    scores["other"] = scores.pop("soc2020_empst3") + 1  # not the combined code: a second status column
    scores.insert(2, "other", scores.pop("other"))
    with pytest.raises(CamsisError, match="several status columns"):
        score_index(scores)


def test_published_spss_file_with_two_status_schemes():
    scores = published(DE95)  # capitals, as published; STDEMPST and DEEMPST with negative placeholders
    with pytest.raises(CamsisError, match="several status columns"):
        score_index(scores)
    survey = pd.DataFrame({"isco": [1, 11, 1100, 2110, 2110, 2100], "empst": [4, 6, 0, 1, -1, np.nan]})
    for scheme in ("deempst", "stdempst"):
        expected = lookup(DE95, scheme)
        out, summary = match(survey, scores, "isco", status="empst", scores_status=scheme)
        for i, (code, state) in enumerate(zip(survey.isco, survey.empst)):
            key = (code, 0 if not state >= 0 else int(state))
            assert (out.mcamsis[i], out.fcamsis[i]) == pytest.approx(expected[key])
        assert summary["matched"] == 6


def test_text_codes_from_csv_and_refusals():
    survey = pd.DataFrame({"occ": ["1111", " 2114", "", "abc", "-1"]})
    out, summary = match(survey, published(V1), "occ")
    expected = lookup(V1)
    assert out.mcamsis[0] == pytest.approx(expected[1111][0]) and out.mcamsis[1] == pytest.approx(expected[2114][0])
    assert (summary["matched"], summary["missing"], summary["not_in_scores"]) == (2, 2, 1)
    with pytest.raises(CamsisError, match="no status column"):
        match(SURVEY, published(V1), "occ", status="emp")
    with pytest.raises(CamsisError, match="already has mcamsis"):
        match(SURVEY.assign(mcamsis=1.0), published(V1), "occ")
    prefixed, _ = match(SURVEY.assign(mcamsis=1.0), published(V1), "occ", prefix="sp_")
    assert {"sp_mcamsis", "sp_fcamsis"} <= set(prefixed.columns) and (prefixed.mcamsis == 1.0).all()
    with pytest.raises(CamsisError, match="no variable 'job'"):
        match(SURVEY, published(V1), "job")


def camsis(*args):
    """The command in this process (a subprocess per call costs seconds); one CLI run checks the entry point."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, code, "", stderr.getvalue())


def test_console_entry_point(tmp_path):
    survey = tmp_path / "s.csv"
    SURVEY.to_csv(survey, index=False)
    done = subprocess.run([sys.executable, "-m", "camsis.cli", "match", survey, "--scores", V1, "--occ", "occ",
                           "--out", tmp_path / "o.csv"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(tmp_path / "o.csv").mcamsis.notna().sum() == 5


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("out_suffix", [".dta", ".sav", ".csv", ".parquet"])
def test_cli_keeps_the_labelled_survey_and_never_touches_the_input(tmp_path, out_suffix):
    survey = tmp_path / "survey.dta"
    pyreadstat.write_dta(SURVEY, str(survey), file_label="My survey", version=13,
                         column_labels={"occ": "Occupation (SOC2020)", "sex": "Sex"},
                         variable_value_labels={"sex": {1: "Male", 2: "Female"}, "emp": {1: "Self-employed"}})
    before = digest(survey)
    out, summary = tmp_path / f"scored{out_suffix}", tmp_path / "summary.json"
    done = camsis("match", survey, "--scores", V2, "--occ", "occ", "--status", "emp", "--sex", "sex",
                  "--out", out, "--summary", summary)
    assert done.returncode == 0, done.stderr
    assert digest(survey) == before
    counts = json.loads(summary.read_text())
    assert (counts["matched"], counts["missing"], counts["not_in_scores"]) == (5, 2, 2)
    expected, _ = match(SURVEY, published(V2), "occ", status="emp", sex="sex")
    if out_suffix in (".dta", ".sav"):
        data, meta = (pyreadstat.read_dta if out_suffix == ".dta" else pyreadstat.read_sav)(str(out))
        assert meta.file_label == "My survey"
        assert meta.column_names_to_labels["occ"] == "Occupation (SOC2020)"
        assert meta.column_names_to_labels["camsis"].startswith("CAMSIS for own sex")
        assert meta.variable_value_labels["sex"] == {1: "Male", 2: "Female"}
        assert meta.variable_value_labels["emp"] == {1: "Self-employed"}
    else:
        data = pd.read_csv(out) if out_suffix == ".csv" else pd.read_parquet(out)
    assert list(data.columns) == list(expected.columns)
    np.testing.assert_allclose(data.to_numpy(float), expected.to_numpy(float), rtol=1e-6)
    if out_suffix == ".dta":
        assert out.read_bytes().startswith(b"<stata_dta><header><release>117</release>")


def test_cli_keeps_declared_missing_values_and_treats_them_as_missing(tmp_path):
    survey = tmp_path / "survey.sav"
    frame = pd.DataFrame({"occ": [1111.0, 9999.0, -1.0, 2114.0]})
    pyreadstat.write_sav(frame, str(survey), missing_ranges={"occ": [9999.0]})
    out, summary = tmp_path / "out.sav", tmp_path / "s.json"
    done = camsis("match", survey, "--scores", V1, "--occ", "occ", "--out", out, "--summary", summary)
    assert done.returncode == 0, done.stderr
    data, meta = pyreadstat.read_sav(str(out), user_missing=True)
    assert data.occ.tolist() == [1111.0, 9999.0, -1.0, 2114.0] and meta.missing_ranges == {"occ": [{"lo": 9999.0, "hi": 9999.0}]}
    counts = json.loads(summary.read_text())
    assert (counts["matched"], counts["missing"], counts["not_in_scores"]) == (2, 2, 0)

    stata = tmp_path / "survey.dta"  # Stata's extended missing .a stays .a
    pyreadstat.write_dta(pd.DataFrame({"occ": [1111.0, "a"]}), str(stata), missing_user_values={"occ": ["a"]})
    out = tmp_path / "out.dta"
    assert camsis("match", stata, "--scores", V1, "--occ", "occ", "--out", out).returncode == 0
    data, meta = pyreadstat.read_dta(str(out), user_missing=True)
    assert data.occ.tolist() == [1111.0, "a"] and meta.missing_user_values == {"occ": ["a"]}
    assert np.isnan(data.fcamsis[1])


def test_cli_errors_are_one_line_and_leave_nothing(tmp_path):
    survey = tmp_path / "survey.csv"
    SURVEY.to_csv(survey, index=False)
    before = digest(survey)
    for args, fragment in [
        (["--occ", "occ", "--out", survey], "is an input file"),
        (["--occ", "job", "--out", tmp_path / "o.csv"], "no variable 'job'"),
        (["--occ", "occ", "--status", "emp", "--out", tmp_path / "o.csv"], "no status column"),
        (["--occ", "occ", "--out", tmp_path / "o.xlsx"], "unknown data format"),
    ]:
        done = camsis("match", survey, "--scores", V1, *args)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("camsis: error:") and fragment in done.stderr
    assert digest(survey) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["survey.csv"]


@pytest.mark.parametrize("option", ["--out", "--summary"])
def test_an_output_that_is_a_folder_is_refused_before_anything_is_written(tmp_path, option):
    """`--summary DIR` was a traceback after --out had been written."""
    survey = tmp_path / "survey.csv"
    SURVEY.to_csv(survey, index=False)
    folder = tmp_path / "a folder.csv"
    folder.mkdir()
    outputs = {"--out": tmp_path / "o.csv", "--summary": tmp_path / "s.json", option: folder}
    done = camsis("match", survey, "--scores", V1, "--occ", "occ", *[str(x) for pair in outputs.items() for x in pair])
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"camsis: error: {option} {folder} is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a folder.csv", "survey.csv"] and not any(folder.iterdir())


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_csv_survey_comes_back_byte_for_byte_with_the_scores_appended(tmp_path, line_end):
    """000001 came back as 1, 40 as 40.0, NA and N/A as empty: the survey's own cells are text."""
    rows = ["pid,occ,emp,sex,hours,note,when",
            "000001,1,1,1,40,NA,2024-01-02",
            "000002,2114,NA,2,37.50,\"Smith, J\",",
            "000003,NA,1,1,,N/A,null",
            "000004, 9269 ,2,2,40,-,1e3"]
    survey = tmp_path / "survey.csv"
    survey.write_bytes(line_end.join(rows + [""]).encode())
    out, summary = tmp_path / "out.csv", tmp_path / "s.json"
    done = camsis("match", survey, "--scores", V2, "--occ", "occ", "--status", "emp", "--sex", "sex",
                  "--out", out, "--summary", summary)
    assert done.returncode == 0, done.stderr
    lines = out.read_bytes().decode().split(line_end)
    assert lines[-1] == "" and len(lines) == len(rows) + 1
    for original, written in zip(rows, lines):
        assert written.startswith(original + ","), (original, written)
    assert lines[0] == rows[0] + ",mcamsis,fcamsis,camsis"
    # the look-up as match() does it on the survey's codes, NA and the blank status being missing
    typed = pd.DataFrame({"occ": [1, 2114, np.nan, 9269], "emp": [1, np.nan, 1, 2], "sex": [1, 2, 1, 2]})
    expected, counts = match(typed, published(V2), "occ", status="emp", sex="sex")
    written = pd.read_csv(out, dtype={"pid": str})
    np.testing.assert_allclose(written[["mcamsis", "fcamsis", "camsis"]].to_numpy(float),
                               expected[["mcamsis", "fcamsis", "camsis"]].to_numpy(float), rtol=1e-12)
    assert json.loads(summary.read_text())["missing"] == counts["missing"] == 1


def test_a_code_column_that_is_not_codes_is_shown_as_a_number():
    """The message said np.float64(68.24)."""
    with pytest.raises(CamsisError, match=r"^score file: column x: value 68.24 is not an integer code$"):
        score_index(pd.DataFrame({"x": [68.24, 50.0], "mcamsis": [1.0, 2.0], "fcamsis": [1.0, 2.0]}))
