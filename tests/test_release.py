"""A scale's release: the same table as .dta/.sav/.tsv, readme, matching syntax, checksums, zip.

The .sav and .tsv are read back with independent readers and compared with the .dta;
the checksums are recomputed with hashlib (and `sha256sum -c` where it exists); the R
matching file is run in R (skipped, saying why, without Rscript) and checked against
`camsis.match`; the Stata .do and SPSS .sps cannot be run here (no Stata or SPSS), so
they are checked by parsing their structure and the names they use.
"""

import hashlib
import json
import re
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from camsis.match import match
from camsis.release import release_metadata, write_release

from helpers import REPO

DATA = REPO / "tests" / "data"
V1, V2 = DATA / "gb_soc2020_v1.dta", DATA / "gb_soc2020_v2.dta"
SUMMARY = json.loads((DATA / "release_summary.json").read_text())


def release(tmp_path, score_file, scale):
    meta = release_metadata(scale, {"version": "2.1", "author": ""}, {"author": "Lambert, Paul; Prandy, Ken"},
                            SUMMARY, "soc2020")
    folder, zipped = tmp_path / "release", tmp_path / f"{scale}_release.zip"
    files = write_release(score_file, SUMMARY, folder, zipped, meta)
    return folder, zipped, files


@pytest.fixture(params=["v1", "v2"])
def published(request, tmp_path):
    score_file = V1 if request.param == "v1" else V2
    scale = f"gb_soc2020_{request.param}"
    folder, zipped, files = release(tmp_path, score_file, scale)
    return scale, score_file, folder, zipped, files


def numeric(frame):
    return frame.apply(lambda c: pd.to_numeric(c).astype("float64"))


def test_sav_and_tsv_hold_the_dta_values_and_labels(published):
    scale, score_file, folder, _, _ = published
    dta, dmeta = pyreadstat.read_dta(str(folder / f"{scale}.dta"))
    sav, smeta = pyreadstat.read_sav(str(folder / f"{scale}.sav"))
    assert (folder / f"{scale}.dta").read_bytes() == score_file.read_bytes()
    assert list(sav.columns) == list(dta.columns)
    pd.testing.assert_frame_equal(numeric(sav), numeric(dta))
    assert smeta.column_names_to_labels == dmeta.column_names_to_labels
    assert smeta.creation_time.date().isoformat() == SUMMARY["built"]  # stamped with the build date
    assert smeta.variable_value_labels["soc2020"][2134] == dmeta.variable_value_labels["soc2020"][2134]
    assert smeta.variable_value_labels["ns_sec"][7] == dmeta.variable_value_labels["ns_sec"][7]
    if "empst3" in dta:
        assert smeta.variable_value_labels["empst3"] == {0: "0. Unknown", 1: "1. Self-employed",
                                                         2: "2. Manager/supervisor", 3: "3. Employee"}
    tsv = pd.read_csv(folder / f"{scale}.tsv", sep="\t")
    assert list(tsv.columns) == list(dta.columns)
    np.testing.assert_allclose(numeric(tsv).to_numpy(), numeric(dta).to_numpy(), rtol=1e-12, equal_nan=True)
    first = (folder / f"{scale}.tsv").read_text().splitlines()[1].split("\t")
    assert first[0] == "1"  # codes as the published .dat shows them, not 1.0


def test_checksums_and_zip_cover_every_file(published):
    scale, _, folder, zipped, files = published
    names = {p.name for p in files}
    assert names == {f"{scale}.dta", f"{scale}.sav", f"{scale}.tsv", f"{scale}_readme.txt", f"{scale}_match.do",
                     f"{scale}_match.sps", f"{scale}_match.R", "CITATION.cff", "SHA256SUMS"}
    assert {p.name for p in folder.iterdir()} == names
    listed = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert set(listed) == names - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    if shutil.which("sha256sum"):
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder).returncode == 0
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == sorted(f"{scale}_release/{name}" for name in names)
        for name in names:
            assert archive.read(f"{scale}_release/{name}") == (folder / name).read_bytes()


def test_release_is_reproducible(tmp_path):
    _, first, _ = release(tmp_path / "a", V2, "gb_soc2020_v2")
    _, second, _ = release(tmp_path / "b", V2, "gb_soc2020_v2")
    assert first.read_bytes() == second.read_bytes()


def test_readme_states_the_builds_own_facts(published):
    scale, _, folder, _, _ = published
    text = " ".join((folder / f"{scale}_readme.txt").read_text().split())
    for fact in ["version 2.1", "Pairs read 200,000, used 193,600", SUMMARY["input"]["sha256"],
                 "dimension 1 was taken as the scale (correlation 0.709 with isei", "REML",
                 "mean 50 and standard deviation 15", "cropped to 1-99", "data/psds/gb_soc2020.tsv",
                 "1,599 cells were blanked", "104 on the men's side, 88 on the women's",
                 "a warning the build raised (test)", "Couples are unweighted", "Lambert, Paul; Prandy, Ken (2026)",
                 f"do {scale}_match.do", "Prandy, K. and Lambert, P. (2003)"]:
        assert fact in text, fact
    if scale.endswith("v2"):
        assert "employment status empst3" in text and "3 3. Employee" in text
    else:
        assert "no employment status" in text


def test_citation_cff_is_valid_yaml_with_the_metadata(published):
    _, _, folder, _, _ = published
    cff = yaml.safe_load((folder / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == "2.1" and cff["date-released"] == SUMMARY["built"]
    assert cff["authors"] == [{"family-names": "Lambert", "given-names": "Paul"},
                              {"family-names": "Prandy", "given-names": "Ken"}]
    assert {"message", "title", "type"} <= set(cff)


def test_metadata_sheet_first_then_config_then_defaults():
    meta = release_metadata("s", {"version": "3", "title": ""}, {"title": "T", "author": "A"}, {"built": "2026-01-02"}, "soc2020")
    assert (meta["version"], meta["title"], meta["author"], meta["date"]) == ("3", "T", "A", "2026-01-02")
    meta = release_metadata("s", {}, {}, {}, "soc2020")
    assert meta["title"] == "CAMSIS scale s for SOC2020" and meta["version"] == "1.0"


SURVEY = pd.DataFrame({
    "id": np.arange(9) + 1,
    "occ": [1, 11, 111, 9269, 2114, 9999, 5.5, -9, np.nan],
    "emp": [1, 2, 0, 1, np.nan, 1, 1, -1, 7],
    "sex": [1, 2, 1, 2, 1, 2, 1, 3, 2],
})


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not installed (apt-get install r-base-core r-cran-haven)")
def test_r_match_file_gives_the_same_scores_as_camsis_match(published, tmp_path):
    scale, score_file, folder, _, _ = published
    has_haven = subprocess.run(["Rscript", "-e", "library(haven)"], capture_output=True)
    if has_haven.returncode:
        pytest.skip("the R package haven is not installed (apt-get install r-cran-haven)")
    survey = SURVEY.assign(emp=SURVEY.emp.where(SURVEY.emp != 7, 2))  # invalid statuses behave differently by design
    pyreadstat.write_dta(survey, str(tmp_path / "survey.dta"), variable_value_labels={"sex": {1: "Male", 2: "Female"}})
    status = "status = 'emp', " if scale.endswith("v2") else ""
    script = (f"source('{scale}_match.R'); d <- haven::read_dta('{tmp_path / 'survey.dta'}'); "
              f"o <- add_camsis(d, 'occ', {status}sex = 'sex'); "
              f"stopifnot(identical(attr(o$sex, 'labels'), attr(d$sex, 'labels')), identical(o$id, d$id)); "
              f"write.csv(as.data.frame(lapply(o, as.numeric)), '{tmp_path / 'out.csv'}', row.names = FALSE)")
    done = subprocess.run(["Rscript", "-e", script], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    expected, summary = match(survey, pyreadstat.read_dta(str(score_file))[0], "occ",
                              status="emp" if status else None, sex="sex")
    assert list(out.columns) == list(expected.columns)
    np.testing.assert_allclose(out.to_numpy(float), expected.to_numpy(float), equal_nan=True)
    assert f"{summary['matched']} of 9 rows matched, {summary['missing']} missing codes" in done.stderr


def stata_structure(text):
    """Braces and `local' quotes balanced, every block closed: what Stata would refuse first."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("*"))
    assert code.count("{") == code.count("}")
    depth = 0
    for line in code.splitlines():
        depth += line.count("{") - line.count("}")
        assert depth >= 0
    assert code.count("`") == len(re.findall(r"`[A-Za-z_0-9]+'|`\"", code)) + code.count("`=")
    return code


def test_stata_do_file_structure(published):
    scale, _, folder, _, _ = published
    code = stata_structure((folder / f"{scale}_match.do").read_text())
    dta_columns = pyreadstat.read_dta(str(folder / f"{scale}.dta"), metadataonly=True)[1].column_names
    used = re.search(r"^\s*use (.+?) using", code, re.M).group(1).split()
    assert set(used) <= set(dta_columns) and {"soc2020", "mcamsis", "fcamsis"} <= set(used)
    assert ("empst3" in used) == scale.endswith("v2")
    assert re.search(r"^version 13$", code, re.M) and re.search(r"^args occ status sex$", code, re.M)
    assert f'local scores "{scale}.dta"' in code
    assert code.count("preserve") == code.count("restore") == 1
    assert "sort `order'" in code  # the survey's order comes back after merge sorts it
    assert all(len(line) < 245 for line in code.splitlines())


def spss_commands(text):
    """SPSS commands of a syntax file: comments dropped, continuation lines joined, each ended by '.'."""
    commands, current = [], []
    for line in text.splitlines():
        if not line.strip() or line.startswith("*"):
            assert not current, f"comment inside a command: {line}"
            continue
        current.append(line.strip())
        if line.rstrip().endswith(".") or line.strip().startswith("!IF") or line.strip() == "!IFEND":
            commands.append(" ".join(current))
            current = []
    assert not current, f"unterminated command: {current}"
    return commands


def test_spss_syntax_structure(published):
    scale, _, folder, _, _ = published
    commands = spss_commands((folder / f"{scale}_match.sps").read_text())
    first = [c.split()[0].upper() for c in commands]
    assert first[0] == "DEFINE" and commands[-1] == "!ENDDEFINE."
    assert first.count("!IF") == first.count("!IFEND")
    assert sum(c.upper().startswith("DO IF") for c in commands) == sum(c.upper() == "END IF." for c in commands)
    sav_columns = pyreadstat.read_sav(str(folder / f"{scale}.sav"), metadataonly=True)[1].column_names
    get = next(c for c in commands if c.startswith("GET FILE"))
    kept = re.search(r"/KEEP=(.+?) /RENAME", get).group(1).split()
    assert set(kept) <= set(sav_columns) and ("empst3" in kept) == scale.endswith("v2")
    renamed = re.search(r"/RENAME=\((.+) = (.+)\)", get)
    assert renamed.group(1).split() == kept and len(renamed.group(2).split()) == len(kept)
    matches = [c for c in commands if c.startswith("MATCH FILES") and "/TABLE" in c]
    assert matches and all("/BY camsis_code" in c for c in matches)
    assert f"!DEFAULT('{scale}.sav')" in commands[0]
    assert any(c == "SORT CASES BY camsis_order." for c in commands)  # the survey's order comes back


def test_readme_reports_blanking_rounds_and_a_weighted_input(tmp_path):
    summary = dict(SUMMARY, psd_rounds={"rounds": 2, "threshold": 4, "cells_blanked": 17, "per_round": []},
                   sheet_row=dict(SUMMARY["sheet_row"], weight="wt", diagonal_digits="1"))
    meta = release_metadata("s", {}, {}, summary, "soc2020")
    write_release(V1, summary, tmp_path / "r", tmp_path / "s_release.zip", meta)
    text = " ".join((tmp_path / "r" / "s_readme.txt").read_text().split())
    assert "2 round(s)" in text and "exceeded 4, 17 cells in all" in text
    assert "weighted by wt" in text and "last 1 digit(s) are dropped" in text
