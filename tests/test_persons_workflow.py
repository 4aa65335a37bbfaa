"""Person files and frequency-weighted cell tables through the whole workflow.

The truth is a couples file. Person files made from it (UKHLS-style ids in a .dta,
IPUMS-style household numbers in a .parquet, each with singles, broken links, same-sex
couples and a second wave repeating couples) must give exactly its score file, and
summary.json must count every fault; a table of cells with a count column read with
`weight_type: frequency` must give exactly the score file of its couples one row each.
Every good scale is also built by status (empst3): the person files' `status` variable
must give exactly the couples file's by-status file (status1/status2), and the cell table
of (occupation, status) cells with a count that of its couples one row each.
Bad person input stops its scale with one `camsis: error:` line and no score file.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from personfiles import person_file, sheet_columns
from helpers import REPO, TOY_UNITS as UNITS, error_lines, snakemake, toy_project

pytestmark = pytest.mark.slow  # every test here runs Snakemake

HEADER = ("scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tweight_type\tlayout"
          "\tperson\tpartner\thousehold\tsex\tfirst_sex\tocc\twave\trepeat_couples\tstatus\tstatus1\tstatus2\tstatuses\n")
CONFIG = ["bootstrap=2", "plausible_values=0", "psd_rounds=0", "min_n=20"]
FAULT_CODES = (111, 222, 212)  # units of the toy classification: a wrongly kept person would move the scale


def toy_couples(seed=7):
    """A connected toy table (every cell within two units of the diagonal), dyadic weights, a few bad codes."""
    rng = np.random.default_rng(seed)
    rows = [(h, w) for i, h in enumerate(UNITS) for j, w in enumerate(UNITS) if abs(i - j) <= 2]
    couples = pd.DataFrame([rows[k] for k in rng.integers(0, len(rows), 400)], columns=["hocc", "wocc"]).astype(float)
    couples.loc[:3, "hocc"] = [-9.0, 999.0, np.nan, 111.0]
    couples["wt"] = rng.integers(2, 12, len(couples)) / 4  # sums exact in any order
    # empst3: scored 1-3, 0 (no information) and -9 (missing) counted as status_unknown
    couples["hstat"] = rng.choice([1, 2, 3, 3, 0, -9], len(couples)).astype(float)
    couples["wstat"] = rng.choice([1, 2, 3, 3, 3, 0], len(couples)).astype(float)
    return couples


def project_copy(target):
    directory = toy_project(target)
    shutil.copytree(REPO / "data/statuses", directory / "data/statuses")
    return directory


def row(scale, path, *, occ=("", ""), weight="", weight_type="", persons=None, statuses=("", "")):
    person = persons or {}
    values = [scale, path, occ[0], occ[1], weight, "toy", "", "0", weight_type, "persons" if persons else ""]
    values += [person.get(k, "") for k in ("person", "partner", "household", "sex", "first_sex", "occ", "wave",
                                           "repeat_couples", "status")]
    values += [statuses[0], statuses[1], "empst3" if person.get("status") or any(statuses) else ""]
    return "\t".join(values) + "\n"


def person_row(scale, path, style, **changes):
    v = sheet_columns(style) | {"first_sex": "1", "repeat_couples": "first"} | changes
    return row(scale, path, weight=v["weight"], persons=v)


SCALES = ["couples", "ukhls", "ipums", "rows", "cells"]
BAD = {
    "nofirst": ["nofirst.csv", "first_sex 3", "'sex'", "values: 1, 2"],
    "dupid": ["dupid.csv", "person id", "appears more than once"],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    directory = project_copy(tmp_path_factory.mktemp("persons"))
    couples = toy_couples()
    couples.to_csv(directory / "couples.csv", index=False)
    ukhls, ukhls_counts = person_file(couples, "ukhls", repeats=25, seed=1, codes=FAULT_CODES)
    pyreadstat.write_dta(ukhls, directory / "ukhls.dta")
    ipums, ipums_counts = person_file(couples, "ipums", repeats=25, seed=2, codes=FAULT_CODES)
    ipums.to_parquet(directory / "ipums.parquet", index=False)
    couples[["hocc", "wocc", "hstat", "wstat"]].to_csv(directory / "rows.csv", index=False)
    cells = couples.groupby(["hocc", "hstat", "wocc", "wstat"], dropna=False).size().rename("n").reset_index()
    assert (cells["n"] > 1).sum() > 50  # cells of several couples, so a count that were read as one row would show
    cells.to_csv(directory / "cells.csv", index=False)
    ukhls.to_csv(directory / "nofirst.csv", index=False)
    pd.concat([ukhls, ukhls.iloc[[10]]]).to_csv(directory / "dupid.csv", index=False)
    sheet = [
        HEADER,
        row("couples", "couples.csv", occ=("hocc", "wocc"), weight="wt", statuses=("hstat", "wstat")),
        person_row("ukhls", "ukhls.dta", "ukhls"),
        person_row("ipums", "ipums.parquet", "ipums"),
        row("rows", "rows.csv", occ=("hocc", "wocc"), statuses=("hstat", "wstat")),
        row("cells", "cells.csv", occ=("hocc", "wocc"), weight="n", weight_type="frequency", statuses=("hstat", "wstat")),
        person_row("nofirst", "nofirst.csv", "ukhls", first_sex="3", status=""),  # title-only: one failing job each
        person_row("dupid", "dupid.csv", "ukhls", status=""),
    ]
    (directory / "config/persons.tsv").write_text("".join(sheet))
    targets = [f"results/{s}/{s}.dta" for s in SCALES + list(BAD)] + [f"results/{s}/summary.json" for s in SCALES]
    targets += [f"results/{s}/{s}_by_status.dta" for s in SCALES]
    done = snakemake(directory, "--keep-going", "--config", "scales=config/persons.tsv", *CONFIG, "--", *targets)
    return directory, done, {"ukhls": ukhls_counts, "ipums": ipums_counts}


def scores(directory, scale, suffix=""):
    frame, _ = pyreadstat.read_dta(directory / f"results/{scale}/{scale}{suffix}.dta")
    return frame


def summary(directory, scale):
    return json.loads((directory / f"results/{scale}/summary.json").read_text())


def test_only_the_bad_scales_fail_each_in_one_line(run):
    directory, done, _ = run
    lines = error_lines(done.stderr)
    assert len(lines) == len(BAD), done.stderr[-3000:]
    for scale, words in BAD.items():
        assert sum(all(w in line for w in words) for line in lines) == 1, (scale, lines)
        assert not (directory / f"results/{scale}/{scale}.dta").exists()
        assert not (directory / f"results/{scale}/work/table.parquet").exists()
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("style", ["ukhls", "ipums"])
def test_person_file_gives_exactly_the_couples_score_file(run, style):
    directory, _, counts = run
    expected = scores(directory, "couples")
    assert expected["mcam_bse"].notna().any()  # bootstrap columns are compared too
    pd.testing.assert_frame_equal(scores(directory, style), expected, check_exact=True)
    got, want = summary(directory, style), summary(directory, "couples")
    assert got["linking"] == counts[style]
    for key in ("pairs_read", "pairs_used", "dropped", "merging", "ca", "smoothing", "blanking"):
        assert got[key] == want[key], key


def test_frequency_cell_table_gives_exactly_the_row_per_couple_score_file(run):
    directory, _, _ = run
    pd.testing.assert_frame_equal(scores(directory, "cells"), scores(directory, "rows"), check_exact=True)
    got, want = summary(directory, "cells"), summary(directory, "rows")
    for key in ("pairs_read", "pairs_used", "dropped", "merging", "ca", "smoothing", "blanking"):
        assert got[key] == want[key], key
    assert got["pairs_read"] == 400 and got["dropped"]["survey_missing"] == 2


def test_missing_person_column_is_refused_before_any_job(tmp_path):
    directory = project_copy(tmp_path)
    (directory / "config/bad.tsv").write_text(HEADER + person_row("p", "p.csv", "ukhls", sex=""))
    done = snakemake(directory, "--config", "scales=config/bad.tsv", *CONFIG)
    assert done.returncode != 0
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and "column sex is empty for scale p" in lines[0]
    assert not (directory / "results").exists()


BY_STATUS_KEYS = ("pairs_used", "dropped", "merging", "ca", "shared", "warnings")


@pytest.mark.parametrize("style", ["ukhls", "ipums"])
def test_person_file_with_status_gives_exactly_the_couples_by_status_file(run, style):
    directory, _, _ = run
    expected = scores(directory, "couples", "_by_status")
    assert expected["mcamsis"].notna().all() and (expected["empst3"] > 0).any()
    pd.testing.assert_frame_equal(scores(directory, style, "_by_status"), expected, check_exact=True)
    got, want = summary(directory, style), summary(directory, "couples")
    assert got["status_unknown"] == want["status_unknown"]
    assert {k: got["by_status"].get(k) for k in BY_STATUS_KEYS} == {k: want["by_status"].get(k) for k in BY_STATUS_KEYS}
    # counted independently: valid couples (codes of the toy classification) without a scored status on both sides
    couples = toy_couples()
    valid = couples["hocc"].isin(UNITS) & couples["wocc"].isin(UNITS)
    known = couples["hstat"].isin([1, 2, 3]) & couples["wstat"].isin([1, 2, 3])
    assert got["status_unknown"] == int((valid & ~known).sum()) > 0
    assert got["by_status"]["pairs_used"] == int((valid & known).sum())


def test_frequency_cell_table_gives_exactly_the_row_per_couple_by_status_file(run):
    directory, _, _ = run
    pd.testing.assert_frame_equal(scores(directory, "cells", "_by_status"), scores(directory, "rows", "_by_status"),
                                  check_exact=True)
    got, want = summary(directory, "cells"), summary(directory, "rows")
    assert got["status_unknown"] == want["status_unknown"] > 0
    assert {k: got["by_status"].get(k) for k in BY_STATUS_KEYS} == {k: want["by_status"].get(k) for k in BY_STATUS_KEYS}
