"""The census workload: one IPUMS-International-style extract (DDI codebook + .dat.gz) holding six
samples of persons on ISCO-08, built from a sheet with one row per sample.

Each sample's couples are simulated with a known truth (camsis.synthetic) and written as
persons with planted linking faults in known numbers (tests/personfiles.py: singles, partners
not in the file, links not returned, same-sex couples, an unknown sex written as IPUMS's 9
"Unknown"); weights carry IPUMS's two implied decimals. Each scale must recover its sample's
truth, summary.json must count exactly the planted faults (the other samples' persons as
filtered), and results/comparison/mcamsis.tsv must be the 6 x 6 matrix pandas computes from
the scales' own unit files.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest

from camsis.classification import load_classification
from camsis.scale import UnitScores
from camsis.synthetic import simulate_couples
from helpers import PLAIN, REPO, error_lines, project_copy, snakemake
from ipumsfiles import Variable, write_extract
from personfiles import person_file

pytestmark = pytest.mark.slow  # runs Snakemake

SAMPLES = {"ar2010": 32201001, "br2010": 76201001, "ca2011": 124201101, "mx2015": 484201501,
           "za2011": 710201101, "us2010": 840201001}
COUPLES = 12_000  # per sample (the were 40,000)
VARIABLES = [
    Variable("SAMPLE", 9, label="IPUMS sample identifier"),
    Variable("YEAR", 4, label="Census round"),
    Variable("SERIAL", 8, label="Household serial number"),
    Variable("PERNUM", 4, label="Person number"),
    Variable("SPLOC", 2, label="Spouse's location in household", categories={"00": "No spouse present"}),
    Variable("SEX", 1, label="Sex", categories={"1": "Male", "2": "Female", "9": "Unknown"}),
    Variable("PERWT", 8, decimals=2, label="Person weight"),
    Variable("OCC", 4, label="Occupation, ISCO-08", categories={"9998": "Unknown", "9999": "NIU (not in universe)"}),
]
HEADER = ["scale", "input", "occ1", "occ2", "weight", "classification", "psds", "diagonal_digits", "filter",
          "layout", "person", "partner", "household", "sex", "first_sex", "occ", "wave"]


@pytest.fixture(scope="module")
def census(tmp_path_factory):
    directory = project_copy(tmp_path_factory.mktemp("census"))
    isco = load_classification("isco08", REPO / "data/classifications")
    parts, truths, counts = [], {}, {}
    for k, (scale, sample) in enumerate(SAMPLES.items()):
        sim = simulate_couples(isco.units, n_couples=COUPLES, seed=300 + k, missing_share=0.0, invalid_share=0.0)
        couples = pd.DataFrame({"hocc": sim.couples["hocc"].astype(float), "wocc": sim.couples["wocc"].astype(float),
                                "wt": np.round(sim.couples["weight"], 2), "hstat": 1.0, "wstat": 1.0})
        persons, expected = person_file(couples, "ipums", repeats=0, seed=k, codes=(1111, 9211, 2211))
        parts.append(pd.DataFrame({
            "SAMPLE": sample, "YEAR": 2000 + persons["year"], "SERIAL": persons["serial"], "PERNUM": persons["pernum"],
            "SPLOC": persons["sploc"].fillna(0).clip(lower=0),  # IPUMS: 0 = no spouse present
            "SEX": persons["sex"].fillna(9), "PERWT": persons["perwt"], "OCC": persons["occ"]}))
        truths[scale], counts[scale] = sim.truth, expected
    extract = pd.concat(parts, ignore_index=True)
    write_extract(directory, "ipumsi_00023", extract, VARIABLES, samples=tuple(SAMPLES))
    for scale in SAMPLES:  # the other samples' persons are left out by the filter
        counts[scale] = counts[scale] | {"persons": len(extract),
                                         "filtered": len(extract) - counts[scale]["persons"]}
    rows = ["\t".join(HEADER)] + [
        "\t".join([scale, "ipumsi_00023.xml", "", "", "PERWT", "isco08", "", "0", f"SAMPLE == {sample}",
                   "persons", "PERNUM", "SPLOC", "SERIAL", "SEX", "1", "OCC", "YEAR"])
        for scale, sample in SAMPLES.items()]
    (directory / "config/census.tsv").write_text("\n".join(rows) + "\n")
    # sparse samples on 436 units: a few couples can form a block of their own, left out (and counted)
    done = snakemake(directory, "--config", "scales=config/census.tsv", "disconnected=drop", *PLAIN)
    return directory, done, truths, counts


def test_the_sheet_builds(census):
    directory, done, _, _ = census
    assert done.returncode == 0, done.stderr[-3000:]
    assert not error_lines(done.stderr)


def test_each_scale_recovers_its_samples_truth(census):
    directory, _, truths, _ = census
    for scale, truth in truths.items():
        scores = UnitScores.load(directory / f"results/{scale}/work/unit_scores.tsv").scores.reindex(truth.index)
        for side, column in (("m", "male_score"), ("f", "female_score")):
            seen = scores[f"n_{side}"] >= 50
            assert seen.sum() >= 40, (scale, side)
            r = np.corrcoef(scores.loc[seen, f"{side}camsis"], truth.loc[seen, column])[0, 1]
            assert r >= 0.97, (scale, side, r)


def test_linking_counts_equal_the_planted_faults(census):
    directory, _, _, counts = census
    for scale, expected in counts.items():
        summary = json.loads((directory / f"results/{scale}/summary.json").read_text())
        assert summary["linking"] == expected, scale


def test_comparison_is_the_pandas_matrix_of_the_scales_own_scores(census):
    directory, _, _, _ = census
    for side in ("m", "f"):
        own = {}
        for scale in SAMPLES:
            units = pd.read_csv(directory / f"results/{scale}/work/unit_scores.tsv", sep="\t", index_col=0)
            own[scale] = units[f"{side}camsis"].where(units[f"{side}_imputed"] == 0)
        own = pd.DataFrame(own)
        matrix = pd.read_csv(directory / f"results/comparison/{side}camsis.tsv", sep="\t", index_col="scale")
        assert list(matrix.index) == list(matrix.columns) == list(SAMPLES)
        np.testing.assert_allclose(matrix.to_numpy(), own.corr(min_periods=3).to_numpy(), atol=2e-6)
        n = pd.read_csv(directory / f"results/comparison/{side}camsis_n.tsv", sep="\t", index_col="scale")
        known = own.notna().astype(int)
        np.testing.assert_array_equal(n.to_numpy(), (known.T @ known).to_numpy())
    for figure in ("heatmap.png", "against_mean.png"):
        assert (directory / "results/comparison" / figure).stat().st_size > 10_000


def planned_job_counts(directory, *args):
    """{rule: jobs} a dry run would run, from its job stats table."""
    done = snakemake(directory, "-n", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text[text.index("Job stats:"):].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", stats, re.MULTILINE)}


def test_the_extract_is_decoded_once_and_editing_a_row_reruns_only_its_scale(census):
    directory, _, _, counts = census
    info = json.loads((directory / "results/inputs/work/ipumsi_00023.json").read_text())
    assert info["rows"] == counts["ar2010"]["persons"]
    assert info["variables"] == ["PERWT", "PERNUM", "SPLOC", "SERIAL", "SEX", "OCC", "YEAR", "SAMPLE"]
    for scale in SAMPLES:
        assert "ipumsi_00023.parquet: " in (directory / f"logs/{scale}/tabulate.log").read_text()
    sheet = pd.read_csv(directory / "config/census.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[sheet["scale"] == "br2010", "weight"] = ""  # unweighted: PERWT is still read for the others
    sheet.to_csv(directory / "config/edited.tsv", sep="\t", index=False)
    jobs = planned_job_counts(directory, "--config", "scales=config/edited.tsv", "disconnected=drop", *PLAIN)
    assert "decode_input" not in jobs
    assert jobs["tabulate"] == jobs["score_units"] == jobs["score_file"] == jobs["compare_scales"] == 1, jobs


@pytest.mark.parametrize("fault, words", [
    ("hierarchical", ["hierarchical extract", "rectangular"]),
    ("no data file", ["describes data file broken.dat, which is not beside it", "broken.dat.gz"]),
])
def test_a_broken_extract_stops_the_run_in_one_line(tmp_path, fault, words):
    directory = project_copy(tmp_path)
    frame = pd.DataFrame({name: [1, 1] for name in ("SAMPLE", "YEAR", "SERIAL", "SEX", "OCC")} | {
        "PERNUM": [1, 2], "SPLOC": [2, 1], "PERWT": [1.5, 2.25]})
    write_extract(directory, "broken", frame, VARIABLES, structure="hierarchical" if fault == "hierarchical" else "rectangular")
    if fault == "no data file":
        (directory / "broken.dat.gz").unlink()
    row = ["s1", "broken.xml", "", "", "PERWT", "isco08", "", "0", "SAMPLE == 1", "persons", "PERNUM", "SPLOC",
           "SERIAL", "SEX", "1", "OCC", "YEAR"]
    (directory / "config/broken.tsv").write_text("\t".join(HEADER) + "\n" + "\t".join(row) + "\n")
    done = snakemake(directory, "-n", "--config", "scales=config/broken.tsv")
    lines = error_lines(done.stderr)
    assert done.returncode != 0 and len(lines) == 1 and all(w in lines[0] for w in words), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
