"""A scale's release: the same table as .dta/.sav/.tsv, readme, matching syntax, checksums, zip.

The .sav and .tsv are read back with independent readers and compared with the .dta;
the checksums are recomputed with hashlib (and `sha256sum -c` where it exists); the R
matching file is run in R and the SPSS syntax in GNU PSPP (each skipped, saying why,
when not installed) and checked against `camsis.match`; the Stata .do cannot be run here
(no Stata), so it is checked by parsing its structure and the names it uses, as the SPSS
syntax is too (PSPP is not SPSS).
"""

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from camsis.classifications.statuses import load_scheme
from camsis.publish.match import match
from camsis.publish.release import MatchFiles, numeric_columns, r_match, release_metadata, spss_match, stata_match, write_release

from helpers import REPO, TEST_DATA

DATA = REPO / "tests" / "data"
V1, V2 = DATA / "gb_soc2020_v1.dta", DATA / "gb_soc2020_v2.dta"
SUMMARY = json.loads((DATA / "release_summary.json").read_text())
# What summary.json says of a by-status build (the demo's figures, rounded).
BY_STATUS_SUMMARY = dict(SUMMARY, status_unknown=11533, by_status={
    "statuses": "empst3", "pairs_used": 182067, "dropped": {"status_unknown": 11533}, "warnings": [],
    "shared": {"m": {"units": 584, "pools": {}}, "f": {"units": 587, "pools": {}}},
    "merging": {"m": {"merged": 433}, "f": {"merged": 423}},
    "ca": {"chosen_dimension": 1, "chosen_correlation": 0.6994, "reference_measure": "isei"}})


def built_with_statuses(tmp_path):
    """A scale as the workflow builds it with statuses: {scale}.dta (title-only) and {scale}_by_status.dta.

    Made from the published v2: its status-0 rows are the title-only file (as the workflow's
    are), and the by-status file gains the combined code soc2020_empst3 after empst3.
    """
    scores, meta = pyreadstat.read_dta(str(V2))
    scores = numeric_columns(scores)
    labels = meta.column_names_to_labels
    by_status = scores.copy()
    by_status.insert(2, "soc2020_empst3", by_status.soc2020 * 10 + by_status.empst3)
    title = scores[scores.empst3 == 0].drop(columns=["empst3", "n_hbst3", "n_wbst3"]).reset_index(drop=True)
    paths = tmp_path / "gb_soc2020_built.dta", tmp_path / "gb_soc2020_built_by_status.dta"
    for frame, path in zip((title, by_status), paths):
        values = {k: v for k, v in meta.variable_value_labels.items() if k in frame}
        pyreadstat.write_dta(frame, str(path), column_labels=[labels.get(c) or "combined code" for c in frame.columns],
                             variable_value_labels=values, version=13)
    return paths


def release(tmp_path, score_file, scale, by_status_file=None):
    summary = BY_STATUS_SUMMARY if by_status_file else SUMMARY
    meta = release_metadata(scale, {"version": "2.1", "author": ""}, {"author": "Lambert, Paul; Prandy, Ken"},
                            summary, "soc2020")
    folder, zipped = tmp_path / "release", tmp_path / f"{scale}_release.zip"
    scheme = load_scheme("empst3", REPO / "data" / "statuses") if by_status_file else None
    files = write_release(score_file, summary, folder, zipped, meta, by_status_file, scheme)
    return folder, zipped, files


@pytest.fixture(params=["v1", "v2", "built"])
def published(request, tmp_path):
    """v1: title-only; v2: one by-status file; built: a title-only file and its by-status file."""
    scale = f"gb_soc2020_{request.param}"
    if request.param == "built":
        score_file, by_status_file = built_with_statuses(tmp_path)
    else:
        score_file, by_status_file = (V1 if request.param == "v1" else V2), None
    folder, zipped, files = release(tmp_path, score_file, scale, by_status_file)
    return scale, score_file, folder, zipped, files


def tables(scale, folder):
    """(stem, source .dta) of each table of a release."""
    stems = [scale] + ([f"{scale}_by_status"] if (folder / f"{scale}_by_status.dta").exists() else [])
    return stems


def numeric(frame):
    return frame.apply(lambda c: pd.to_numeric(c).astype("float64"))


def test_sav_and_tsv_hold_the_dta_values_and_labels(published):
    scale, score_file, folder, _, _ = published
    for stem in tables(scale, folder):
        source = score_file if stem == scale else score_file.with_name(f"{stem}.dta")
        dta, dmeta = pyreadstat.read_dta(str(folder / f"{stem}.dta"))
        sav, smeta = pyreadstat.read_sav(str(folder / f"{stem}.sav"))
        assert (folder / f"{stem}.dta").read_bytes() == source.read_bytes()
        assert list(sav.columns) == list(dta.columns)
        pd.testing.assert_frame_equal(numeric(sav), numeric(dta))
        assert smeta.column_names_to_labels == dmeta.column_names_to_labels
        assert smeta.creation_time.date().isoformat() == SUMMARY["built"]  # stamped with the build date
        assert smeta.variable_value_labels["soc2020"][2134] == dmeta.variable_value_labels["soc2020"][2134]
        assert smeta.variable_value_labels["ns_sec"][7] == dmeta.variable_value_labels["ns_sec"][7]
        if "empst3" in dta:
            assert smeta.variable_value_labels["empst3"] == {0: "0. Unknown", 1: "1. Self-employed",
                                                             2: "2. Manager/supervisor", 3: "3. Employee"}
        tsv = pd.read_csv(folder / f"{stem}.tsv", sep="\t")
        assert list(tsv.columns) == list(dta.columns)
        np.testing.assert_allclose(numeric(tsv).to_numpy(), numeric(dta).to_numpy(), rtol=1e-12, equal_nan=True)
        first = (folder / f"{stem}.tsv").read_text().splitlines()[1].split("\t")
        assert first[0] == "1"  # codes as the published .dat shows them, not 1.0
    assert ("empst3" in pyreadstat.read_dta(str(folder / f"{tables(scale, folder)[-1]}.dta"), metadataonly=True)[1]
            .column_names) == (not scale.endswith("v1"))


def test_checksums_and_zip_cover_every_file(published):
    scale, _, folder, zipped, files = published
    names = {p.name for p in files}
    table_names = {f"{stem}{suffix}" for stem in tables(scale, folder) for suffix in (".dta", ".sav", ".tsv")}
    assert names == table_names | {f"{scale}_readme.txt", f"{scale}_match.do", f"{scale}_match.sps",
                                   f"{scale}_match.R", "CITATION.cff", "SHA256SUMS"}
    assert (f"{scale}_by_status.sav" in names) == scale.endswith("built")
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
    if scale.endswith("v1"):
        assert "no employment status" in text and "empst3" not in text
        return
    assert "employment status empst3 (Employment status measure)" in text and "3 3. Employee" in text
    assert "one row per soc2020 x empst3, 1,787 rows" in text
    assert f"do {scale}_match.do occ empst sex" in text and "!add_camsis occ=occ status=empst sex=sex." in text
    if scale.endswith("built"):
        for fact in [f"Status 0 ('no information') rows are defined as the title-only scale: their mcamsis and "
                     f"fcamsis are those of {scale}.dta, built from the same pairs",
                     "every group code has a row for status 0 only, and takes that score whatever the status",
                     "soc2020_empst3 is the combined code soc2020*10 + empst3",
                     "from the 182,067 pairs with a scored status on both sides; 11,533 pairs without one",
                     "a blanked cell covers every status", "statuses 1 and 2 pooled first, then the whole occupation",
                     "433 units on the men's side, 423 on the women's", "584 units (men) and 587 (women)",
                     f"on soc2020 and empst3 in {scale}_by_status.dta",
                     f"camsis match mydata.dta --scores {scale}_by_status.dta --occ occ --status empst",
                     f"camsis match --scores {scale}.dta)", f"{scale}_by_status.sav"]:
            assert fact in text, fact
    else:
        assert "title-only" in text and "_by_status" not in text


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


# Codes at every level, invalid (9999, 5.5) and missing (-9, empty) ones; statuses scored (1-3),
# unknown (0), missing (empty, -1), not in the scheme (7: a unit stays unmatched, a group
# takes its status-0 score) and not a whole number (1.5: unmatched).
SURVEY = pd.DataFrame({
    "id": np.arange(12) + 1,
    "occ": [1, 11, 111, 9269, 2114, 9999, 5.5, -9, np.nan, 1111, 11, 2114],
    "emp": [1, 2, 7, 1, np.nan, 1, 1, -1, 0, 7, 1.5, 3],
    "sex": [1, 2, 1, 2, 1, 2, 1, 3, 2, 1, 2, 1],
})


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not installed (apt-get install r-base-core r-cran-haven)")
def test_r_match_file_gives_the_same_scores_as_camsis_match(published, tmp_path):
    """add_camsis in R and camsis.match on the same survey: with a status (the by-status file) and without."""
    scale, score_file, folder, _, _ = published
    has_haven = subprocess.run(["Rscript", "-e", "library(haven)"], capture_output=True)
    if has_haven.returncode:
        pytest.skip("the R package haven is not installed (apt-get install r-cran-haven)")
    pyreadstat.write_dta(SURVEY, str(tmp_path / "survey.dta"), variable_value_labels={"sex": {1: "Male", 2: "Female"}})
    by_status_file = folder / f"{scale}_by_status.dta"
    for status in ([None] if scale.endswith("v1") else ["emp", None]):
        argument = f"status = '{status}', " if status else ""
        script = (f"source('{scale}_match.R'); d <- haven::read_dta('{tmp_path / 'survey.dta'}'); "
                  f"o <- add_camsis(d, 'occ', {argument}sex = 'sex'); "
                  f"stopifnot(identical(attr(o$sex, 'labels'), attr(d$sex, 'labels')), identical(o$id, d$id)); "
                  f"write.csv(as.data.frame(lapply(o, as.numeric)), '{tmp_path / 'out.csv'}', row.names = FALSE)")
        done = subprocess.run(["Rscript", "-e", script], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        out = pd.read_csv(tmp_path / "out.csv")
        # the file camsis match is given: with a status, the by-status file where the release has one
        scores = by_status_file if status and by_status_file.exists() else score_file
        expected, summary = match(SURVEY, pyreadstat.read_dta(str(scores))[0], "occ", status=status, sex="sex")
        assert list(out.columns) == list(expected.columns)
        np.testing.assert_allclose(out.to_numpy(float), expected.to_numpy(float), equal_nan=True)
        assert f"{summary['matched']} of 12 rows matched, {summary['missing']} missing codes" in done.stderr
        assert f"not in {scores.name}" in done.stderr
        if status:  # what the statuses did, so the comparison above covers every branch
            assert summary["status_title_only"] == 3 and summary["status_missing"] == 1  # groups 1, 11, 111 at 7; 2114
            assert summary["not_in_scores"] == 4  # 9999, 5.5, 1111 at 7, 11 at 1.5
            title_only = match(SURVEY, pyreadstat.read_dta(str(scores))[0], "occ")[0]
            assert expected.mcamsis[3] != title_only.mcamsis[3]  # 9269 self-employed: the status changed the score


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


def stata_blocks(code):
    """Each line of a do-file with the headers of the blocks it is in (``if ... {``, ``else {``)."""
    stack, lines, previous = [], [], ""
    for line in code.splitlines():
        text = line.strip()
        if text == "}":
            stack.pop()
        elif text.endswith("{"):
            if text.startswith("else"):
                assert previous == "}", "else must follow the closing brace of its if"
            stack.append(text)
        else:
            lines.append((text, tuple(stack)))
        previous = text
    assert not stack
    return lines


STATUS_GIVEN = 'if "`status\'" != "" {'


def columns_of(path):
    reader = pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_sav
    return set(reader(str(path), metadataonly=True)[1].column_names)


def test_stata_do_file_structure(published):
    scale, _, folder, _, _ = published
    code = stata_structure((folder / f"{scale}_match.do").read_text())
    blocks = stata_blocks(code)
    uses = [(re.match(r"use (.+?) using", text).group(1).split(), stack) for text, stack in blocks
            if text.startswith("use ")]
    merges = [(text, stack) for text, stack in blocks if text.startswith("merge ")]
    title, by_status = columns_of(folder / f"{scale}.dta"), None
    if scale.endswith("built"):  # by status where a status is given, else the title-only file
        by_status = columns_of(folder / f"{scale}_by_status.dta")
        assert [stack[-1] for _, stack in uses] == [STATUS_GIVEN, "else {"]
        (status_used, _), (title_used, _) = uses
        assert "empst3" in status_used and set(status_used) <= by_status
        assert "empst3" not in title_used and set(title_used) <= title
        assert [stack[-1] for _, stack in merges] == [STATUS_GIVEN, STATUS_GIVEN, "else {"]
        assert "`state'" in merges[0][0] and "update" in merges[1][0] and "`state'" not in merges[2][0]
        assert (f'local scores "{scale}_by_status.dta"', (STATUS_GIVEN,)) in blocks
        assert any("CAMSIS_STATUS_SCORES" in text for text, _ in blocks)
    else:
        (used, stack), = uses
        assert all(stack == ("quietly {",) for _, stack in uses + merges)  # one look-up, no branches
        assert set(used) <= title and ("empst3" in used) == scale.endswith("v2")
        assert len(merges) == (2 if scale.endswith("v2") else 1)
    for used, _ in uses:
        assert {"soc2020", "mcamsis", "fcamsis"} <= set(used)
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
        if line.rstrip().endswith(".") or line.strip().startswith("!IF") or line.strip() in ("!IFEND", "!ELSE"):
            commands.append(" ".join(current))
            current = []
    assert not current, f"unterminated command: {current}"
    return commands


def spss_branches(commands):
    """Each command with the macro conditions it is under (an !ELSE branch as 'not <condition>')."""
    stack, out = [], []
    for command in commands:
        if command.startswith("!IF "):
            stack.append(command)
        elif command == "!ELSE":
            assert stack and not stack[-1].startswith("not "), "!ELSE without its !IF"
            stack[-1] = "not " + stack[-1]
        elif command == "!IFEND":
            stack.pop()
        else:
            out.append((command, tuple(stack)))
    assert not stack
    return out


def test_spss_syntax_structure(published):
    """Every MATCH FILES renames every column of its table (none can meet a survey variable) and
    drops all but the scores; matches sort first; each branch reads the right file."""
    scale, _, folder, _, _ = published
    commands = spss_commands((folder / f"{scale}_match.sps").read_text())
    first = [c.split()[0].upper() for c in commands]
    assert first[0] == "DEFINE" and commands[-1] == "!ENDDEFINE."
    assert sum(c.upper().startswith("DO IF") for c in commands) == sum(c.upper() == "END IF." for c in commands)
    assert not any(c.startswith(("GET ", "DATASET")) for c in commands)  # the survey stays the active dataset
    branches = spss_branches(commands[1:-1])
    status_given = "!IF (!status !NE none) !THEN"
    tables = []
    for i, (command, stack) in enumerate(branches):
        if not (command.startswith("MATCH FILES") and "/TABLE" in command):
            continue
        source = re.search(r"/TABLE=(\S+)", command).group(1)
        old, new = (part.split() for part in re.search(r"/RENAME=\((.+) = (.+?)\)", command).groups())
        by = re.search(r"/BY (.+?)(?: /DROP|\.$)", command).group(1).split()
        dropped = re.search(r"/DROP=(.+)\.$", command)
        sav = folder / (f"{scale}_by_status.sav" if source == "!byscores" else f"{scale}.sav")
        assert old == list(pyreadstat.read_sav(str(sav), metadataonly=True)[1].column_names) or set(old) == columns_of(sav)
        assert len(new) == len(old) == len(set(new)) and all(n.startswith("camsis_") for n in new)
        assert new[:len(by)] == by and branches[i - 1][0] == f"SORT CASES BY {' '.join(by)}."
        kept = set(new) - set(by) - set(dropped.group(1).split() if dropped else [])
        assert kept <= {"camsis_m", "camsis_f", "camsis_m0", "camsis_f0"}
        tables.append((source, "empst3" in old, stack))
    if scale.endswith("built"):
        assert tables[-1] == ("!scores", False, ("not " + status_given,))
        assert tables[:-1] == [("!byscores", True, (status_given,))] * 3
        assert f"!DEFAULT('{scale}_by_status.sav')" in commands[0]
    elif scale.endswith("v2"):
        assert tables == [("!scores", True, ())] * 3
    else:
        assert tables == [("!scores", False, ())] and "byscores" not in commands[0]
    own_status = [stack for c, stack in branches if c.startswith("IF (NOT MISSING(!status)")]
    assert own_status == ([] if scale.endswith("v1") else [(status_given,)])
    assert f"!DEFAULT('{scale}.sav')" in commands[0]
    assert any(c == "SORT CASES BY camsis_order." for c in commands)  # the survey's order comes back


@pytest.mark.skipif(shutil.which("pspp") is None, reason="GNU PSPP is not installed (apt-get install pspp)")
def test_spss_syntax_run_in_pspp_gives_the_same_scores_as_camsis_match(published, tmp_path):
    """!add_camsis run by GNU PSPP on the survey, with a status (the by-status file) and without."""
    scale, score_file, folder, _, _ = published
    pyreadstat.write_sav(SURVEY, str(tmp_path / "survey.sav"), variable_value_labels={"sex": {1: "Male", 2: "Female"}})
    by_status_file = folder / f"{scale}_by_status.dta"
    for status in ([None] if scale.endswith("v1") else ["emp", None]):
        syntax = tmp_path / "run.sps"
        syntax.write_text(f"GET FILE='{tmp_path / 'survey.sav'}'.\nINSERT FILE='{folder / (scale + '_match.sps')}'.\n"
                          f"!add_camsis occ=occ{' status=' + status if status else ''} sex=sex.\n"
                          f"SAVE OUTFILE='{tmp_path / 'out.sav'}'.\n")
        done = subprocess.run(["pspp", str(syntax)], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0 and "error" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
        out, meta = pyreadstat.read_sav(str(tmp_path / "out.sav"))
        scores = by_status_file if status and by_status_file.exists() else score_file
        expected, _ = match(SURVEY, pyreadstat.read_dta(str(scores))[0], "occ", status=status, sex="sex")
        assert list(out.columns) == list(expected.columns)  # the helper variables are gone
        np.testing.assert_allclose(out.to_numpy(float), expected.to_numpy(float), equal_nan=True)
        assert meta.column_names_to_labels["camsis"] == f"CAMSIS for own sex ({scale})"
        assert meta.variable_value_labels["sex"] == {1: "Male", 2: "Female"}


def test_readme_reports_blanking_rounds_and_a_weighted_input(tmp_path):
    summary = dict(SUMMARY, psd_rounds={"rounds": 2, "threshold": 4, "cells_blanked": 17, "per_round": []},
                   sheet_row=dict(SUMMARY["sheet_row"], weight="wt", diagonal_digits="1"))
    meta = release_metadata("s", {}, {}, summary, "soc2020")
    write_release(V1, summary, tmp_path / "r", tmp_path / "s_release.zip", meta)
    text = " ".join((tmp_path / "r" / "s_readme.txt").read_text().split())
    assert "2 round(s)" in text and "exceeded 4, 17 cells in all" in text
    assert "weighted by wt" in text and "last 1 digit(s) are dropped" in text


def test_a_snakemake_marker_left_in_the_folder_is_not_published(tmp_path):
    """Releases made with a directory() output left .snakemake_timestamp in the folder: the rule drops it."""
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    from results_layout import drop_snakemake_marker  # the workflow's, as the release rule's script calls it

    folder = tmp_path / "release"
    folder.mkdir()
    (folder / ".snakemake_timestamp").touch()
    drop_snakemake_marker(folder)
    meta = release_metadata("s", {}, {}, SUMMARY, "soc2020")
    files = write_release(V1, SUMMARY, folder, tmp_path / "s_release.zip", meta)
    assert {p.name for p in folder.iterdir()} == {p.name for p in files}


def test_sav_rows_are_in_key_order_for_spss_match_files(tmp_path):
    """A score file in its classification's order (not ascending) gets a .sav SPSS can use as a /TABLE."""
    scores, meta = pyreadstat.read_dta(str(V1))
    shuffled = numeric_columns(scores).sample(frac=1, random_state=3).reset_index(drop=True)
    path = tmp_path / "s.dta"
    pyreadstat.write_dta(shuffled, str(path), column_labels=[meta.column_names_to_labels[c] for c in shuffled.columns],
                         variable_value_labels=meta.variable_value_labels, version=13)
    files = write_release(path, SUMMARY, tmp_path / "r", tmp_path / "s_release.zip",
                          release_metadata("s", {}, {}, SUMMARY, "soc2020"))
    sav = pyreadstat.read_sav(str(tmp_path / "r" / "s.sav"))[0]
    assert sav.soc2020.is_monotonic_increasing and not shuffled.soc2020.is_monotonic_increasing
    expected = numeric(shuffled).sort_values("soc2020").reset_index(drop=True)
    pd.testing.assert_frame_equal(numeric(sav), expected)
    assert (tmp_path / "r" / "s.dta") in files and (tmp_path / "r" / "s.dta").read_bytes() == path.read_bytes()


def test_sav_dictionary_is_the_published_one(published):
    """Codes F6.0, scores F6.1, -777 declared missing on keys and scores, UTF-8 declared,
    the file label cut at a word; read back by pyreadstat with user-missing values."""
    scale, _, folder, _, _ = published
    for stem in tables(scale, folder):
        _, meta = pyreadstat.read_sav(str(folder / f"{stem}.sav"), user_missing=True)
        formats = meta.original_variable_types
        assert formats["soc2020"] == "F6.0" and formats["mcamsis"] == "F6.1" and formats["fcamsis"] == "F6.1"
        assert formats["ns_sec"] == "F6.0" and formats.get("mcam_se", "F8.2") == "F8.2"
        keys = ["soc2020", "mcamsis", "fcamsis"] + (["empst3"] if "empst3" in meta.column_names else [])
        assert {c: meta.missing_ranges.get(c) for c in keys} == {c: [{"lo": -777.0, "hi": -777.0}] for c in keys}
        assert meta.file_encoding == "UTF-8"
        dta_label = pyreadstat.read_dta(str(folder / f"{stem}.dta"), metadataonly=True)[1].file_label or ""
        label = meta.file_label or ""
        assert len(label.encode()) <= 64 and dta_label.startswith(label)
        assert len(dta_label) == len(label) or dta_label[len(label)] == " "  # cut at a word


@pytest.mark.skipif(shutil.which("pspp") is None, reason="GNU PSPP is not installed (apt-get install pspp)")
def test_pspp_display_dictionary_shows_integer_codes_and_declared_missing(published, tmp_path):
    scale, _, folder, _, _ = published
    stem = tables(scale, folder)[-1]
    syntax = tmp_path / "dict.sps"
    syntax.write_text(f"GET FILE='{folder / (stem + '.sav')}'.\nDISPLAY DICTIONARY.\n")
    done = subprocess.run(["pspp", "-O", "format=csv", str(syntax)], capture_output=True, text=True)
    assert done.returncode == 0 and "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    table = done.stdout.split("Table: Variables\n", 1)[1].split("\n\n", 1)[0]
    variables = pd.read_csv(io.StringIO(table), dtype=str, keep_default_na=False).set_index("Name")
    assert variables.at["soc2020", "Print Format"] == "F6.0" and variables.at["soc2020", "Missing Values"] == "-777"
    assert variables.at["mcamsis", "Print Format"] == "F6.1" and variables.at["mcamsis", "Missing Values"] == "-777"
    assert variables.at["ns_sec", "Print Format"] == "F6.0" and variables.at["ns_sec", "Missing Values"] == ""
    if "empst3" in variables.index:
        assert variables.at["empst3", "Print Format"] == "F6.0" and variables.at["empst3", "Missing Values"] == "-777"


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not installed (apt-get install r-base-core r-cran-haven)")
def test_r_haven_reads_the_sav_formats_and_missing_values(published):
    if subprocess.run(["Rscript", "-e", "library(haven)"], capture_output=True).returncode:
        pytest.skip("the R package haven is not installed (apt-get install r-cran-haven)")
    scale, _, folder, _, _ = published
    stem = tables(scale, folder)[-1]
    script = (f"d <- haven::read_sav('{folder / (stem + '.sav')}', user_na = TRUE); "
              "cat(attr(d$soc2020, 'format.spss'), attr(d$mcamsis, 'format.spss'), "
              "paste(attr(d$soc2020, 'na_values'), collapse=','), paste(attr(d$mcamsis, 'na_values'), collapse=','), "
              "class(d$soc2020)[1], sep = '\\n')")
    done = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["F6.0", "F6.1", "-777", "-777", "haven_labelled_spss"]


MATCH_COLUMNS = ("soc2020", "mcamsis", "fcamsis", "mcam_se", "fcam_se", "n_m", "n_f", "isei", "ns_sec")
MATCH_STATUS_COLUMNS = ("soc2020", "empst3", "soc2020_empst3", "mcamsis", "fcamsis", "n_hbst3", "n_wbst3", "ns_sec")


@pytest.mark.parametrize("kind, scale, files", [
    ("title", "gb_soc2020_demo", MatchFiles("soc2020", None, "gb_soc2020_demo", None, MATCH_COLUMNS)),
    ("both", "gb_soc2020_demo", MatchFiles("soc2020", "empst3", "gb_soc2020_demo", "gb_soc2020_demo_by_status",
                                           MATCH_COLUMNS, MATCH_STATUS_COLUMNS, 1)),
    ("status", "gb_soc2020_v2", MatchFiles("soc2020", "empst3", None, "gb_soc2020_v2", (), MATCH_STATUS_COLUMNS, 1)),
])
def test_matching_syntax_from_templates_is_byte_for_byte_what_the_code_wrote(kind, scale, files):
    """The Stata, SPSS and R files rendered from camsis/publish/templates/ against tests/data/match_syntax/,
    which the f-strings they replaced wrote for the demo's three kinds of release (title-only,
    title-only and by-status, a published by-status file alone). A change to the syntax is made
    in the templates and these files together; the R and SPSS files' behaviour is tested above."""
    for suffix, make in ((".do", stata_match), (".sps", spss_match), (".R", r_match)):
        expected = (TEST_DATA / "match_syntax" / f"{kind}{suffix}").read_text(encoding="utf-8")
        assert make(scale, files) == expected, f"{kind}{suffix}"
