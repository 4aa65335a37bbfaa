"""Bad input through the workflow: one `camsis: error:` line naming the culprit, no products left.

One project copy holds a scale per mistake that is found while a job runs; a single
`snakemake --keep-going` builds them all. Mistakes in the sheet stop the run before any job,
so each of those gets its own (quick) run.
"""

import json
import subprocess
import warnings

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from helpers import PLAIN, SHEET_HEADER, error_lines, planned_jobs, snakemake, toy_couples, toy_project

HEADER = SHEET_HEADER

pytestmark = pytest.mark.slow  # every test here runs Snakemake

# Mistakes found while a job runs: scale -> (text every error line about it names, the rule that fails).
JOB_CASES = {
    "badvar": (["husband_occ", "badvar.csv", "it has: hocc, wocc, wt"], "tabulate"),
    "truncated": (["truncated.dta"], "tabulate"),
    "corruptsav": (["corruptsav.sav", "not a valid SPSS file"], "tabulate"),
    "corruptparquet": (["corruptparquet.parquet", "not a valid Parquet file"], "tabulate"),
    "textdta": (["textdta.dta", "not a valid Stata file"], "tabulate"),
    "textcodes": (["textcodes.csv", "'hocc'", "'nurse'"], "tabulate"),
    "negweight": (["negweight.csv", "'wt'", "negative"], "tabulate"),
    "missweight": (["missweight.csv", "'wt'", "missing", "on_missing_weight"], "tabulate"),
    "novalid": (["novalid.csv", "no valid pairs"], "tabulate"),
    "psdheader": (["psd_header.tsv", "line 1", "expected the header"], "blank"),
    "psdbounds": (["psd_bounds.tsv", "line 2", "'x12'"], "blank"),
    "allblanked": (["allblanked.csv", "every remaining pair", "blanked"], "score_units"),
    "hugeweight": (["huge.csv", "'wt'", "overflow", "divide them by a constant"], "tabulate"),
    "tinyweight": (["tiny.csv", "'wt'", "underflow", "divide them by a constant"], "tabulate"),
    "semicolon": (["semi.csv", "looks ';'-separated", "sheet column sep"], "tabulate"),
    "latin1": (["latin.csv", "utf-8", "0xe9", "sheet column encoding"], "tabulate"),
    "dupcolumns": (["dup.csv", "two columns named 'hocc' (columns 1 and 2)"], "tabulate"),
    "psdnowhere": (["psd_wide.tsv", "none of its 2 rows covers a code"], "blank"),
}

# Not mistakes: builds that are right but surprising warn (summary.json and .dta notes);
# sheet columns that read awkward inputs build. Scale -> (extra sheet cells, warning text or None).
BUILT_CASES = {
    "psdhalf": (dict(psds="psd_half.tsv"), "1 of 2 rows cover no code of the classification"),
    "wholegroups": (dict(diagonal_digits="9", diagonal_groups="2"), "diagonal_digits 9 is at least the code width"),
    "semicolonsep": (dict(input="semi.csv", sep=";"), None),
    "latin1encoding": (dict(input="latin.csv", encoding="latin-1"), None),
    "backticks": (dict(filter="`hocc` > 0 and `région` != 'x'", input="latin.csv", encoding="latin-1"), None),
}

# Work files each rule writes; a failed rule leaves none of its own or later ones.
WORK = {
    "tabulate": ["table.parquet", "table.json"],
    "blank": ["blanked.parquet", "blanking.json"],
    "score_units": ["unit_scores.tsv", "scaling.json"],
}


def products(directory, scale):
    return [directory / f"results/{scale}/{name}" for name in (f"{scale}.dta", f"{scale}.csv", "summary.json")]


def write_job_inputs(directory):
    good = toy_couples()
    good.to_csv(directory / "good.csv", index=False)
    good.to_csv(directory / "badvar.csv", index=False)
    good.to_csv(directory / "allblanked.csv", index=False)
    pyreadstat.write_dta(good, directory / "full.dta")
    data = (directory / "full.dta").read_bytes()
    (directory / "truncated.dta").write_bytes(data[: len(data) * 2 // 3])
    (directory / "corruptsav.sav").write_bytes(b"$FL2@(#) not really SPSS" + bytes(range(256)) * 4)
    (directory / "corruptparquet.parquet").write_bytes(b"PAR1" + b"\x00\x17garbage" * 50)
    (directory / "textdta.dta").write_text("hocc,wocc\n111,112\n")
    good.assign(hocc=good["hocc"].astype(str).where(good.index != 5, "nurse")).to_csv(directory / "textcodes.csv", index=False)
    good.assign(wt=good["wt"].where(good.index != 3, -1.0)).to_csv(directory / "negweight.csv", index=False)
    good.assign(wt=good["wt"].where(good.index != 3, np.nan)).to_csv(directory / "missweight.csv", index=False)
    good.assign(hocc=999, wocc=-9).to_csv(directory / "novalid.csv", index=False)
    (directory / "psd_header.tsv").write_text("low1\tup1\tlow2\tup2\n111\t112\t111\t112\n")
    (directory / "psd_bounds.tsv").write_text("lower_1\tupper_1\tlower_2\tupper_2\nx12\t112\t111\t112\n")
    (directory / "psd_all.tsv").write_text("lower_1\tupper_1\tlower_2\tupper_2\n100\t299\t100\t299\n")
    good.assign(wt=1e306).to_csv(directory / "huge.csv", index=False)
    good.assign(wt=1e-310).to_csv(directory / "tiny.csv", index=False)
    good.to_csv(directory / "semi.csv", index=False, sep=";")
    (directory / "latin.csv").write_bytes(good.assign(région="Île").to_csv(index=False).encode("latin-1"))
    good.rename(columns={"wocc": "hocc"}).to_csv(directory / "dup.csv", index=False)
    wide = "lower_1\tupper_1\tlower_2\tupper_2\n1110\t1120\t1110\t1120\n2110\t2229\t2110\t2229\n"
    (directory / "psd_wide.tsv").write_text(wide)  # five-digit bounds for three-digit codes
    (directory / "psd_half.tsv").write_text(wide.splitlines()[0] + "\n1110\t1120\t1110\t1120\n111\t112\t111\t112\n")
    # Not a mistake: a table in two blocks, built with the default `disconnected: drop`, warns and counts.
    small = [212, 221, 222]
    inside = good["hocc"].isin(small) | good["wocc"].isin(small)
    block = pd.DataFrame([(h, w) for h in small for w in small if h != w] * 4, columns=["hocc", "wocc"])
    blocks = pd.concat([good[~inside], block.assign(wt=1.0)], ignore_index=True)
    blocks.to_csv(directory / "blocks.csv", index=False)
    # scale -> sheet cells that differ from a plain row (input good.csv, occ1 hocc, no weight, no psds)
    differs = {
        "badvar": dict(input="badvar.csv", occ1="husband_occ"),
        **{scale: dict(input=path) for scale, path in [
            ("truncated", "truncated.dta"), ("corruptsav", "corruptsav.sav"), ("corruptparquet", "corruptparquet.parquet"),
            ("textdta", "textdta.dta"), ("textcodes", "textcodes.csv"), ("novalid", "novalid.csv"),
            ("semicolon", "semi.csv"), ("latin1", "latin.csv"), ("dupcolumns", "dup.csv")]},
        **{scale: dict(input=path, weight="wt") for scale, path in [
            ("negweight", "negweight.csv"), ("missweight", "missweight.csv"), ("hugeweight", "huge.csv"),
            ("tinyweight", "tiny.csv"), ("dropblocks", "blocks.csv")]},
        **{scale: dict(input=path, psds=psds) for scale, path, psds in [
            ("psdheader", "good.csv", "psd_header.tsv"), ("psdbounds", "good.csv", "psd_bounds.tsv"),
            ("allblanked", "allblanked.csv", "psd_all.tsv"), ("psdnowhere", "good.csv", "psd_wide.tsv")]},
    }
    extra = ["diagonal_groups", "filter", "sep", "encoding"]
    lines = [HEADER.rstrip("\n") + "\t" + "\t".join(extra) + "\n"]
    for scale, cells in {**differs, **{scale: cells for scale, (cells, _) in BUILT_CASES.items()}}.items():
        row = dict(scale=scale, input="good.csv", occ1="hocc", occ2="wocc", weight="", classification="toy", psds="",
                   diagonal_digits="0") | cells
        lines.append("\t".join(row.get(column, "") for column in HEADER.split() + extra) + "\n")
    (directory / "config/bad.tsv").write_text("".join(lines))


@pytest.fixture(scope="module")
def job_run(tmp_path_factory):
    directory = toy_project(tmp_path_factory.mktemp("bad_jobs"))
    write_job_inputs(directory)
    scales = [*JOB_CASES, "dropblocks", *BUILT_CASES]
    targets = [str(p.relative_to(directory)) for scale in scales for p in products(directory, scale)]
    config = ["scales=config/bad.tsv", "min_n=0", *PLAIN]
    done = snakemake(directory, "--keep-going", "--config", *config, "--", *targets, cores=4)
    # Once in CI a --keep-going run ended without starting one scale's last job (no error line, no
    # traceback; not reproduced in dozens of runs). What is tested here is each scale's error line,
    # not Snakemake's scheduling: a scale the run did not report is built again on its own, and
    # the test says so (with what the first run printed about it).
    for scale in JOB_CASES:
        if not any(f"scale {scale} " in line for line in error_lines(done.stderr)):
            said = [line for line in done.stderr.splitlines() if scale in line]
            warnings.warn(f"scale {scale} had no error line in the --keep-going run; rebuilt alone. "
                          f"The run said of it:\n" + "\n".join(said[-20:]))
            alone = [str(p.relative_to(directory)) for p in products(directory, scale)]
            again = snakemake(directory, "--config", *config, "--", *alone, cores=1)
            done = subprocess.CompletedProcess(done.args, done.returncode, done.stdout, done.stderr + again.stderr)
    return directory, done


def test_every_job_failure_is_one_line_and_nothing_else(job_run):
    _, done = job_run
    assert done.returncode != 0
    assert len(error_lines(done.stderr)) == len(JOB_CASES), "\n".join(error_lines(done.stderr)) or done.stderr[-3000:]
    assert "Traceback (most recent call last)" not in done.stderr


@pytest.mark.parametrize("scale", JOB_CASES)
def test_bad_input_found_by_a_job(job_run, scale):
    directory, done = job_run
    culprits, rule = JOB_CASES[scale]
    mine = [line for line in error_lines(done.stderr) if all(text in line for text in culprits)]
    assert len(mine) == 1, f"no single error line naming {culprits}:\n" + "\n".join(error_lines(done.stderr))
    assert f"scale {scale}" in mine[0]  # a line from deep in a stage still says which scale of the sheet
    assert not any(path.exists() for path in products(directory, scale))
    failed_and_later = list(WORK)[list(WORK).index(rule):]
    work = directory / f"results/{scale}/work"
    left = sorted(p.name for p in work.iterdir()) if work.exists() else []
    assert not [name for name in left if any(name in WORK[r] for r in failed_and_later)], left
    assert not [name for name in left if name.startswith(".")], f"temporary files left: {left}"
    if rule != "tabulate":  # failed mid-way: what came before stays, nothing of the failed job
        assert set(WORK["tabulate"]) <= set(left)


def test_dropped_blocks_reach_summary_and_notes_as_a_warning(job_run):
    directory, _ = job_run
    summary = json.loads((directory / "results/dropblocks/summary.json").read_text())
    dropped = summary["dropped_blocks"]
    assert dropped["rows"] == [212, 221, 222] and dropped["columns"] == [212, 221, 222] and dropped["pairs"] == 24
    assert dropped["per_block"] == [{"rows": [212, 221, 222], "columns": [212, 221, 222], "pairs": 24,
                                     "pairs_weighted": 24.0}]
    warnings = [w for w in summary["warnings"] if "outside the main block" in w]
    assert len(warnings) == 1 and "occ1 212, 221, 222 with occ2 212, 221, 222" in warnings[0]
    assert "with their 24 pairs" in warnings[0]
    assert "outside the main block" in (directory / "logs/dropblocks/score_units.log").read_text()
    scores, meta = pyreadstat.read_dta(directory / "results/dropblocks/dropblocks.dta")
    assert any(note == f"warning: {warnings[0]}" for note in meta.notes)
    flagged = scores.set_index("toy").loc[[212, 221, 222], ["m_imputed", "f_imputed"]]
    assert flagged.to_numpy().tolist() == [[21, 21], [2, 2], [2, 2]]


@pytest.mark.parametrize("scale", BUILT_CASES)
def test_awkward_but_valid_builds_and_warns_where_surprising(job_run, scale):
    directory, _ = job_run
    summary = json.loads((directory / f"results/{scale}/summary.json").read_text())
    warning = BUILT_CASES[scale][1]
    if warning is None:
        assert summary["pairs_used"] == len(toy_couples()) and summary["dropped"]["filtered"] == 0
        return
    mine = [w for w in summary["warnings"] if warning in w]
    assert len(mine) == 1, summary["warnings"]
    assert mine == [w for w in summary["blanking"]["warnings"]]
    _, meta = pyreadstat.read_dta(directory / f"results/{scale}/{scale}.dta")
    assert f"warning: {mine[0]}" in meta.notes


def sheet_mistakes(directory):
    """Scale -> (sheet text, what the one error line must name)."""
    toy_couples().to_csv(directory / "good.csv", index=False)
    (directory / "empty_recodes.tsv").write_text("")
    row = "{scale}\t{input}\thocc\twocc\t\t{classification}\t{psds}\t{digits}\n"
    good = dict(input="good.csv", classification="toy", psds="", digits="0")
    return {
        "missing_input": (HEADER + row.format(scale="a", **good | {"input": "absent.csv"}),
                          ["input file absent.csv of scale a does not exist"]),
        "missing_psd": (HEADER + row.format(scale="a", **good | {"psds": "absent_psd.tsv"}),
                        ["pseudo-diagonal file absent_psd.tsv of scale a does not exist"]),
        "unknown_classification": (HEADER + row.format(scale="a", **good | {"classification": "isco99"}),
                                   ["unknown classification 'isco99'", "known: toy"]),
        "negative_digits": (HEADER + row.format(scale="a", **good | {"digits": "-1"}),
                            ["diagonal_digits of scale a", "'-1'"]),
        "duplicate_scale": (HEADER + row.format(scale="a", **good) + row.format(scale="a", **good),
                            ["scale name(s) a appear more than once"]),
        "missing_column": (HEADER.replace("\tweight", "") + "a\tgood.csv\thocc\twocc\ttoy\t\t0\n",
                           ["lacks column(s) weight"]),
        "empty_sheet": ("", ["scales sheet config/bad.tsv is empty"]),
        "long_name": (HEADER + row.format(scale="a" + "bcdefghij" * 8, **good),
                      ["scale name 'abcdefghijbcdefghijb...' is 73 characters long; at most 64"]),
        "periodic_name": (HEADER + row.format(scale="a" + "x" * 25, **good), ["repeats one piece 20 times or more"]),
        "unknown_sep": (with_columns("sep", ":"), ["sep ':' is not a separator"]),
        "unknown_encoding": (with_columns("encoding", "klingon-8"), ["encoding 'klingon-8' is unknown"]),
        "compare_not_scores": (with_columns("compare_to", "good.csv"),
                               ["scale a: compare_to file good.csv", "'toy', 'mcamsis', 'fcamsis' not in good.csv"]),
        # a traceback once its job ran, after the table was read
        "empty_recodes": (with_columns("recodes", "empty_recodes.tsv"),
                          ["scale a: recodes file empty_recodes.tsv is empty"]),
        # Snakemake's CyclicGraphException, naming rules rather than the sheet's cell
        "own_product": (HEADER + row.format(scale="a", **good | {"input": "results/a/a.csv"}),
                        ["line 2: input results/a/a.csv of scale a is made by the build of scale a itself"]),
        "cycle": (HEADER + row.format(scale="a", **good | {"input": "results/b/b.csv"})
                  + row.format(scale="b", **good | {"input": "results/a/a.csv"}),
                  ["input results/b/b.csv of scale a is made by the build of scale a itself (through scale b)"]),
    }


def with_columns(column, value):
    """A one-scale sheet whose extra column holds value."""
    return (HEADER.rstrip("\n") + f"\t{column}\n") + f"a\tgood.csv\thocc\twocc\t\ttoy\t\t0\t{value}\n"


@pytest.mark.parametrize("mistake", ["missing_input", "missing_psd", "unknown_classification", "negative_digits",
                                     "duplicate_scale", "missing_column", "empty_sheet", "long_name",
                                     "periodic_name", "unknown_sep", "unknown_encoding", "compare_not_scores",
                                     "own_product", "cycle", "empty_recodes"])
def test_bad_sheet_stops_the_run_before_any_job(tmp_path, mistake):
    directory = toy_project(tmp_path)
    text, culprits = sheet_mistakes(directory)[mistake]
    (directory / "config/bad.tsv").write_text(text)
    target = "results/a/compare.tsv" if mistake == "compare_not_scores" else "results/a/a.dta"
    done = snakemake(directory, "--config", "scales=config/bad.tsv", *PLAIN, "--", target)
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and all(c in errors[0] for c in culprits), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "MissingInputException" not in done.stderr
    assert "CyclicGraphException" not in done.stderr and not (directory / "results").exists()


@pytest.mark.parametrize("option, culprit", [
    ("bootstrap=-1", "config: bootstrap: -1 is less than the minimum of 0"),
    ("bootstrap_batch=0", "config: bootstrap_batch: 0 is less than the minimum of 1"),
    ("on_missing_weight=maybe", "config: on_missing_weight: 'maybe' is not one of"),
    ("clip=[1,99]", "config: clip/0:"),
    ("plausible_values=3", "plausible_values (3) cannot exceed bootstrap (0)"),
    ("boostrap=0", "config: Additional properties are not allowed ('boostrap' was unexpected)"),
])
def test_bad_config_is_one_line_before_any_job(tmp_path, option, culprit):
    directory = toy_project(tmp_path)
    toy_couples().to_csv(directory / "good.csv", index=False)
    (directory / "config/toy.tsv").write_text(HEADER + "a\tgood.csv\thocc\twocc\t\ttoy\t\t0\n")
    done = snakemake(directory, "--config", "scales=config/toy.tsv", *PLAIN, option, "--", "results/a/a.dta")
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and culprit in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Failed validating" not in done.stderr
    assert "No validator found" not in done.stderr  # the schemas name the draft Snakemake validates with
    assert not (directory / "results").exists()


def test_a_clip_range_that_is_backwards_is_one_line_before_any_job(tmp_path):
    directory = toy_project(tmp_path)
    toy_couples().to_csv(directory / "good.csv", index=False)
    (directory / "config/toy.tsv").write_text(HEADER + "a\tgood.csv\thocc\twocc\t\ttoy\t\t0\n")
    (directory / "clip.yaml").write_text("clip: [99, 1]\n")
    done = snakemake(directory, "--configfile", "config/config.yaml", "clip.yaml",
                     "--config", "scales=config/toy.tsv", *PLAIN, "--", "results/a/a.dta")
    errors = error_lines(done.stderr)
    assert done.returncode != 0 and len(errors) == 1, done.stderr[-2000:]
    assert "clip [99, 1] must be a range around the mean 50, lower bound first" in errors[0]
    assert not (directory / "results").exists()


def test_a_failed_rebuild_moves_the_previous_products_aside_as_stale(tmp_path):
    directory = toy_project(tmp_path)
    data = toy_couples()
    data.to_csv(directory / "good.csv", index=False)
    (directory / "config/toy.tsv").write_text(HEADER + "a\tgood.csv\thocc\twocc\twt\ttoy\t\t0\n")
    run = ["--config", "scales=config/toy.tsv", "min_n=0", *PLAIN, "--", *[str(p.relative_to(directory))
                                                                        for p in products(directory, "a")]]
    assert snakemake(directory, *run).returncode == 0
    before = (directory / "results/a/summary.json").read_text()
    data.assign(wt=data["wt"].where(data.index != 3, -1.0)).to_csv(directory / "good.csv", index=False)
    done = snakemake(directory, *run)
    assert done.returncode != 0 and "negative" in error_lines(done.stderr)[0]
    assert not any(path.exists() for path in products(directory, "a"))
    stale = directory / "results/a/stale"
    assert (stale / "summary.json").read_text() == before and (stale / "a.dta").exists()
    assert "failed or was\ninterrupted" in (stale / "README.txt").read_text()
    assert "moved to results/a/stale/" in done.stderr
    data.to_csv(directory / "good.csv", index=False)
    assert snakemake(directory, *run).returncode == 0
    assert all(path.exists() for path in products(directory, "a")) and not stale.exists()


def test_compare_to_a_file_another_scale_makes_is_not_missing(tmp_path):
    directory = toy_project(tmp_path)
    toy_couples().to_csv(directory / "good.csv", index=False)
    header = HEADER.rstrip("\n") + "\tcompare_to\n"
    (directory / "config/two.tsv").write_text(
        header + "a\tgood.csv\thocc\twocc\t\ttoy\t\t0\t\n" + "b\tgood.csv\thocc\twocc\t\ttoy\t\t0\tresults/a/a.dta\n"
    )
    done = snakemake(directory, "-n", "--config", "scales=config/two.tsv", *PLAIN)
    assert done.returncode == 0 and not error_lines(done.stderr), done.stderr[-2000:]
    assert "results/b/compare.tsv" in done.stdout + done.stderr


def test_missing_classification_metadata_stops_the_run_in_one_line(tmp_path):
    directory = toy_project(tmp_path)
    toy_couples().to_csv(directory / "good.csv", index=False)
    (directory / "data/classifications/toy.yaml").unlink()
    (directory / "config/toy.tsv").write_text(HEADER + "a\tgood.csv\thocc\twocc\t\ttoy\t\t0\n")
    done = snakemake(directory, "--config", "scales=config/toy.tsv", *PLAIN, "--", "results/a/a.dta")
    assert done.returncode != 0
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and "toy.yaml of scale a does not exist" in errors[0], done.stderr[-2000:]
    assert "MissingInputException" not in done.stderr and not (directory / "results").exists()


def test_an_input_changed_under_a_kept_mtime_is_rebuilt_and_its_checksum_recorded(tmp_path):
    """`touch -r` (cp -p, sync tools) kept the mtime of new contents: the build and its summary's
    sha256 stayed those of the old file, with exit 0."""
    import hashlib
    import os

    directory = toy_project(tmp_path)
    data = toy_couples()
    path = directory / "good.csv"
    data.to_csv(path, index=False)
    (directory / "config/toy.tsv").write_text(HEADER + "a\tgood.csv\thocc\twocc\twt\ttoy\t\t0\n")
    run = ["--config", "scales=config/toy.tsv", "min_n=0", *PLAIN, "--", "results/a/summary.json"]
    assert snakemake(directory, *run).returncode == 0
    first = json.loads((directory / "results/a/summary.json").read_text())
    assert first["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert planned_jobs(directory, *run) == set()  # the checksum reruns nothing by itself

    kept = os.stat(path)
    data.iloc[::-1].to_csv(path, index=False)  # the same pairs, other weights: same size, new contents
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    done = snakemake(directory, *run)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rule tabulate:" in done.stdout + done.stderr
    second = json.loads((directory / "results/a/summary.json").read_text())
    assert second["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() != first["input"]["sha256"]
    assert (directory / ".snakemake/camsis_input_checksums.json").is_file()
