"""Many scales in few jobs (config scales_per_job): a batch job runs a stage's rule script for each
of its scales, as the scales' own jobs would, and builds the same files."""

import json
import re
import textwrap

import pandas as pd
import pyreadstat
import pytest

from camsis.errors import CamsisError
from camsis.runner import report_error, run_batch
from helpers import PLAIN, SHEET_HEADER, error_lines, planned_jobs, snakemake, toy_couples, toy_project

SCRIPT = textwrap.dedent('''
    import logging
    from camsis.errors import CamsisError
    from camsis.runner import run

    def main(snakemake):
        logging.getLogger("camsis.test").info("building %s", snakemake.wildcards.scale)
        if snakemake.params.fail:
            raise CamsisError("input.csv has no variable 'hocc'")
        with open(snakemake.output.table, "w") as f:
            f.write(snakemake.input.data + " " + " ".join(snakemake.input.classification))

    run(main, snakemake)
''')


def job(directory, scale, fail=False):
    return {"wildcards": {"scale": scale, "variant": ""},
            "input": {"data": f"{scale}.csv", "classification": ["toy.tsv", "toy.yaml"]},
            "output": {"table": str(directory / f"{scale}.table")}, "params": {"fail": fail},
            "log": [str(directory / f"{scale}.log")]}


def test_a_batch_runs_every_scale_and_names_the_one_that_failed(tmp_path, capsys):
    (tmp_path / "tabulate.py").write_text(SCRIPT)
    jobs = [job(tmp_path, "a"), job(tmp_path, "b", fail=True), job(tmp_path, "c")]
    with pytest.raises(SystemExit) as stop:
        run_batch("scores_batch1", {"tabulate": jobs}, tmp_path)
    assert stop.value.code == 1
    assert (tmp_path / "a.table").read_text() == "a.csv toy.tsv toy.yaml"
    assert (tmp_path / "c.table").read_text() == "c.csv toy.tsv toy.yaml"  # the scale after the failure ran too
    assert not (tmp_path / "b.table").exists()
    err = capsys.readouterr().err
    assert error_lines(err) == ["camsis: error: scale b (tabulate): input.csv has no variable 'hocc'"]
    assert "camsis: 1 of the 3 scales of job scores_batch1 failed (b in tabulate)" in err
    # each scale's log holds its own lines only, as its own job's would
    assert "building a" in (tmp_path / "a.log").read_text() and "building b" not in (tmp_path / "a.log").read_text()
    assert "no variable 'hocc'" in (tmp_path / "b.log").read_text()
    assert "failed" not in (tmp_path / "c.log").read_text()


def test_a_scale_goes_through_the_stages_in_turn_and_stops_at_its_first_failure(tmp_path, capsys):
    (tmp_path / "tabulate.py").write_text(SCRIPT)
    (tmp_path / "blank.py").write_text(SCRIPT.replace(
        "with open(snakemake.output.table, \"w\") as f:", "with open(snakemake.output.table, \"a\") as f:"))
    stages = {"tabulate": [job(tmp_path, "a"), job(tmp_path, "b", fail=True)],
              "blank": [job(tmp_path, "a"), job(tmp_path, "b")]}
    with pytest.raises(SystemExit):
        run_batch("scores_batch2", stages, tmp_path)
    # a's blank ran after its tabulate (appending to its file); b's blank, after its failed tabulate, did not run
    assert (tmp_path / "a.table").read_text() == "a.csv toy.tsv toy.yamla.csv toy.tsv toy.yaml"
    err = capsys.readouterr().err
    assert error_lines(err) == ["camsis: error: scale b (tabulate): input.csv has no variable 'hocc'"]
    assert "1 of the 2 scales of job scores_batch2 failed (b in tabulate)" in err


def test_a_batch_of_good_scales_exits_quietly(tmp_path, capsys):
    (tmp_path / "tabulate.py").write_text(SCRIPT)
    run_batch("scores_batch1", {"tabulate": [job(tmp_path, "a"), job(tmp_path, "b")]}, tmp_path)
    assert (tmp_path / "b.table").exists() and not error_lines(capsys.readouterr().err)


class Writes:
    """An unbuffered stream (PYTHONUNBUFFERED): every write reaches the shared pipe on its own."""

    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.append(text)

    def flush(self):
        pass


def test_an_error_line_is_one_write_so_parallel_jobs_cannot_split_it(monkeypatch):
    # Once in CI (PYTHONUNBUFFERED=1, four jobs at once) one job's line ran into another's: print()
    # wrote the text and its newline apart, and the other job's line landed between them.
    stream = Writes()
    monkeypatch.setattr("sys.stderr", stream)
    report_error(CamsisError("scale a (tabulate): cannot read a.parquet"))
    assert stream.writes == ["camsis: error: scale a (tabulate): cannot read a.parquet\n"]


# Through Snakemake: three toy scales, two per job.
STAGES = ("tabulate", "blank", "score_units", "psd_candidates", "score_file", "plots")
# A batch's jobs: its scales' scores, then their plots (the bootstrap's and the psd rounds' rules, when
# on, come between stages and cut the scores' job where they do)
BATCH_JOBS = {"tabulate_to_score_file_batch1", "plots_batch1"}


def three_scales(directory, broken=None, options=PLAIN):
    for number, seed in enumerate((1, 2, 3), start=1):
        couples = toy_couples(n_per_cell=20, seed=seed)
        couples.rename(columns={"hocc": "husband"} if f"t{number}" == broken else {}).to_csv(
            directory / f"t{number}.csv", index=False)
    rows = "".join(f"t{k}\tt{k}.csv\thocc\twocc\twt\ttoy\t\t0\n" for k in (1, 2, 3))
    (directory / "config/three.tsv").write_text(SHEET_HEADER + rows)
    return ["--config", "scales=config/three.tsv", *options]


def build_both_and_compare(batched, alone, config, batch_jobs=BATCH_JOBS):
    """Build the sheet two scales a job and a job each; every product must be the same."""
    # t1 and t2 share the batch's jobs; t3, the last of a batch of one, has its own jobs
    planned = planned_jobs(batched, *config, "scales_per_job=2")
    assert batch_jobs | set(STAGES) | {"compare_scales", "all"} <= planned
    assert {rule for rule in planned if re.search(r"_batch\d+$", rule)} == batch_jobs
    for directory, per_job in ((batched, 2), (alone, 1)):
        done = snakemake(directory, *config, f"scales_per_job={per_job}")
        assert done.returncode == 0, done.stderr[-3000:]
    for scale in ("t1", "t2", "t3"):
        ours, theirs = batched / "results" / scale, alone / "results" / scale
        made = sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
        assert made == sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
        for path in made:
            if path.suffix == ".dta":  # its header holds the minute it was written
                (a, meta_a), (b, meta_b) = pyreadstat.read_dta(ours / path), pyreadstat.read_dta(theirs / path)
                pd.testing.assert_frame_equal(a, b)
                assert meta_a.notes == meta_b.notes and meta_a.variable_value_labels == meta_b.variable_value_labels
            elif path.suffix == ".json":  # "built": the day it was built
                assert ({**json.loads((ours / path).read_text()), "built": None}
                        == {**json.loads((theirs / path).read_text()), "built": None}), path
            else:
                assert (ours / path).read_bytes() == (theirs / path).read_bytes(), path
        assert "rows read" in (batched / "logs" / scale / "tabulate.log").read_text()


@pytest.mark.slow
def test_two_scales_a_job_build_what_their_own_jobs_build(tmp_path):
    (tmp_path / "batched").mkdir()
    (tmp_path / "alone").mkdir()
    batched, alone = toy_project(tmp_path / "batched"), toy_project(tmp_path / "alone")
    config = three_scales(batched)
    three_scales(alone)
    build_both_and_compare(batched, alone, config)
    # plots=False: no figures, batched or not
    assert planned_jobs(batched, *config, "scales_per_job=2", "plots=False", "--forceall") == (
        {"tabulate_to_score_file_batch1"} | set(STAGES[:-1]) | {"compare_scales", "all"})
    summary = json.loads((batched / "results/t1/summary.json").read_text())
    assert "scales_per_job" not in summary["config"]  # how jobs are cut makes no number
    # editing a row reruns its batch's jobs, and nothing of the other scale
    sheet = (batched / "config/three.tsv").read_text()
    (batched / "config/three.tsv").write_text(sheet.replace("t1\tt1.csv\thocc\twocc\twt", "t1\tt1.csv\thocc\twocc\t"))
    assert planned_jobs(batched, *config, "scales_per_job=2") == BATCH_JOBS | {"compare_scales", "all"}


@pytest.mark.slow
def test_batched_scales_take_their_bootstrap_plausible_values_and_psd_rounds_as_their_own_do(tmp_path):
    (tmp_path / "batched").mkdir()
    (tmp_path / "alone").mkdir()
    batched, alone = toy_project(tmp_path / "batched"), toy_project(tmp_path / "alone")
    options = ["bootstrap=4", "plausible_values=2", "psd_rounds=1"]
    config = three_scales(batched, options=options)
    three_scales(alone, options=options)
    # the psd rounds' masks come between blank and score_units, the bootstrap's summary before score_file
    build_both_and_compare(batched, alone, config, {"tabulate_to_blank_batch1", "score_units_to_psd_candidates_batch1",
                                                    "score_file_batch1", "plots_batch1"})
    assert (batched / "results/t1/plausible.dta").exists() and (batched / "results/t2/bootstrap/summary.tsv").exists()


@pytest.mark.slow
def test_a_failing_scale_is_named_and_stops_only_its_batch(tmp_path):
    directory = toy_project(tmp_path)
    config = three_scales(directory, broken="t2")
    done = snakemake(directory, "--keep-going", *config, "scales_per_job=2")
    assert done.returncode != 0
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and "scale t2 (tabulate)" in lines[0] and "'hocc'" in lines[0], done.stderr[-3000:]
    assert "1 of the 2 scales of job tabulate_to_score_file_batch1 failed (t2 in tabulate)" in done.stderr
    assert "Traceback" not in done.stderr
    assert (directory / "results/t3/t3.dta").exists()  # a scale of another job is built
    assert not (directory / "results/t1/work/table.parquet").exists()  # its batch mate waits for it
