"""The census workload: one IPUMS-International-style extract (DDI codebook + .dat.gz) holding six
samples of persons on ISCO-08, built from a sheet with one row per sample.

Each sample's couples are simulated with a known truth (camsis.method.synthetic) and written as
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

from camsis.scaling.scale import UnitScores
from helpers import PLAIN, error_lines, project_copy, snakemake
from ipumsfiles import CENSUS_HEADER, CENSUS_VARIABLES, census_row, write_census, write_extract

pytestmark = pytest.mark.slow  # runs Snakemake

SAMPLES = {"ar2010": 32201001, "br2010": 76201001, "ca2011": 124201101, "mx2015": 484201501,
           "za2011": 710201101, "us2010": 840201001}
COUPLES = 12_000  # per sample (the were 40,000)


@pytest.fixture(scope="module")
def census(tmp_path_factory):
    directory = project_copy(tmp_path_factory.mktemp("census"))
    truths, counts = write_census(directory, SAMPLES, COUPLES)
    # sparse samples on 436 units: a few couples can form a block of their own, left out (and counted)
    done = snakemake(directory, "--config", "scales=config/census.tsv", *PLAIN)
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


def test_a_sample_that_falls_apart_is_built_with_its_stray_block_counted_and_flagged(census):
    """By default (disconnected: drop) a stray block is left out of the CA, never silently: its units
    and pairs are counted per block in summary.json, warned of in the .dta notes, and its units
    scored from their groups and flagged."""
    import pyreadstat

    directory, _, _, _ = census
    fell_apart = 0
    for scale in SAMPLES:
        summary = json.loads((directory / f"results/{scale}/summary.json").read_text())
        dropped = summary.get("dropped_blocks")
        if dropped is None:
            continue
        fell_apart += 1
        blocks = dropped["per_block"]
        assert len(blocks) == dropped["blocks"] >= 1
        assert sum(b["pairs"] for b in blocks) == dropped["pairs"] > 0
        assert [u for b in blocks for u in b["rows"]] == dropped["rows"]
        warning = next(w for w in summary["warnings"] if "outside the main block" in w)
        _, meta = pyreadstat.read_dta(directory / f"results/{scale}/{scale}.dta", metadataonly=True)
        assert f"warning: {warning}" in meta.notes
        units = pd.read_csv(directory / f"results/{scale}/work/unit_scores.tsv", sep="\t", index_col=0)
        for side, stray in (("m", dropped["rows"]), ("f", dropped["columns"])):
            assert (units.loc[stray, f"{side}_imputed"] > 0).all() and (units.loc[stray, f"n_{side}"] == 0).all()
            assert units.loc[stray, f"{side}camsis"].notna().all()
    assert fell_apart >= 1  # these seeds give one (it stopped the build when refuse was the default)


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
    jobs = planned_job_counts(directory, "--config", "scales=config/edited.tsv", *PLAIN)
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
    write_extract(directory, "broken", frame, CENSUS_VARIABLES,
                  structure="hierarchical" if fault == "hierarchical" else "rectangular")
    if fault == "no data file":
        (directory / "broken.dat.gz").unlink()
    rows = [CENSUS_HEADER, census_row("s1", "broken.xml", 1)]
    (directory / "config/broken.tsv").write_text("".join("\t".join(row) + "\n" for row in rows))
    done = snakemake(directory, "-n", "--config", "scales=config/broken.tsv")
    lines = error_lines(done.stderr)
    assert done.returncode != 0 and len(lines) == 1 and all(w in lines[0] for w in words), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
