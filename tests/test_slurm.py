"""The workflow under a real single-node SLURM, through snakemake's SLURM executor plugin.

Run with `python -m pytest -m slurm -rs` (as root: it installs and starts munged, MariaDB,
slurmdbd, slurmctld and slurmd through tests/slurm/cluster.py, and stops them afterwards).
It builds two scales on the demo data (plus bootstrap replicates where the config has
`bootstrap`) once locally and once with `--executor slurm --profile workflow/profiles/slurm`,
each in its own temporary copy of the project, checks through `sacct` that every job ran under
SLURM, and that both runs wrote the same score files. Then the same for a census sheet (issue
23): three samples of one IPUMS extract (DDI codebook + .dat.gz, tests/ipumsfiles.py), without
bootstrap, built under SLURM two scales a job (scales_per_job: 2), whose extract must be decoded
by one SLURM job and whose score files and comparison of the three scales must equal the local
build's (each scale in jobs of its own).

Environment:
  CAMSIS_SLURM_BOOTSTRAP  bootstrap replicates per scale (default 3; used once the config has `bootstrap`)
  CAMSIS_SLURM_REQUIRED   "1": fail instead of skipping when the cluster cannot be started
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from helpers import PLAIN, REPO, project_copy
from ipumsfiles import write_census

pytestmark = pytest.mark.slurm

PROJECT_FILES = ["Snakefile", "config", "workflow", "data"]
SCALES = ["gb_demo_psd", "gb_demo_diag"]
CENSUS_SAMPLES = {"ar2010": 32201001, "br2010": 76201001, "mx2015": 484201501}
CENSUS_COUPLES = 3_000  # per sample: small, so the census case adds little SLURM time
RUN_TIMEOUT = 1800


def _load_cluster_module():
    spec = importlib.util.spec_from_file_location("camsis_slurm_cluster", REPO / "tests" / "slurm" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


cluster_mod = _load_cluster_module()


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM; stopped afterwards if this fixture started it."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("snakemake-executor-plugin-slurm is not installed: pip install -e .[slurm]")
    was_running = cluster_mod.status() is not None
    try:
        cluster = cluster_mod.start()
    except cluster_mod.ClusterUnavailable as exc:
        reason = f"single-node SLURM cannot run on this machine: {exc}"
        sys.stderr.write(f"\n{reason}\n")
        if os.environ.get("CAMSIS_SLURM_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        if not was_running:
            cluster_mod.stop()


def _project_copy(where: Path, bootstrap: int) -> Path:
    """A copy of the project with a two-scale sheet on the demo data; returns its directory."""
    where.mkdir(parents=True)
    project_copy(where, parts=PROJECT_FILES)
    sheet = pd.read_csv(REPO / "config" / "scales.tsv", sep="\t", dtype=str, keep_default_na=False)
    demo = sheet.iloc[[0, 0]].copy()
    demo["scale"] = SCALES
    demo.iloc[1, demo.columns.get_loc("psds")] = ""  # the second scale blanks only the diagonal
    demo.to_csv(where / "config" / "slurm_scales.tsv", sep="\t", index=False)
    config_path = where / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["scales"] = "config/slurm_scales.tsv"
    if "bootstrap" in config:
        config["bootstrap"] = bootstrap
        if "plausible_values" in config:
            config["plausible_values"] = min(config["plausible_values"], bootstrap)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return where


def _census_copy(where: Path, scales_per_job: int = 1) -> Path:
    """A copy of the project with a census sheet of three samples of one extract; returns its directory."""
    where.mkdir(parents=True)
    project_copy(where, parts=PROJECT_FILES)
    write_census(where, CENSUS_SAMPLES, CENSUS_COUPLES)
    config_path = where / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["scales"] = "config/census.tsv"
    config |= {key: int(value) for key, value in (setting.split("=") for setting in PLAIN)}  # no bootstrap
    config["scales_per_job"] = scales_per_job
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return where


def _snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    with open(workdir / "snakemake.out", "w") as log:  # the child keeps its own copy of the file
        return subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _finish(run: subprocess.Popen, workdir: Path) -> str:
    """Wait for a snakemake run; its output, or a failure showing the end of it."""
    try:
        run.wait(timeout=RUN_TIMEOUT)
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(timeout=60)
    output = (workdir / "snakemake.out").read_text()
    assert run.returncode == 0, f"snakemake {' '.join(run.args[3:])} failed:\n{output[-6000:]}"
    return output


def _job_stats(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table snakemake prints when it starts."""
    lines = output[output.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def _sacct_jobs(cluster, run_id: str) -> pd.DataFrame:
    done = cluster.run("sacct", "-X", "--parsable2", "--noheader", "--name", run_id,
                       "--starttime", "now-1days", "--format=JobIDRaw,JobName,Comment,State,ExitCode")
    rows = [line.split("|") for line in done.stdout.splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["jobid", "name", "comment", "state", "exitcode"])


def _rule_of(comment: str, rules) -> str:
    """The rule named in the plugin's job comment 'rule_<rule>[_wildcards_<values>]'."""
    name = re.sub(r"_wildcards_.*$", "", comment.removeprefix("rule_"))
    assert name in rules, f"sacct comment {comment!r} names no rule of the workflow ({sorted(rules)})"
    return name


def _assert_same_frames(local: pd.DataFrame, remote: pd.DataFrame, what: str) -> None:
    assert list(local.columns) == list(remote.columns), what
    assert len(local) == len(remote), what
    for column in local.columns:
        a, b = local[column], remote[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9,
                                       equal_nan=True, err_msg=f"{what}: {column}")
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{what}: {column}"


def _local_and_slurm(cluster, local: Path, remote: Path) -> tuple[Path, Path, str]:
    """One build run locally and under SLURM: (local dir, slurm dir, slurm output)."""
    # Side by side: the SLURM run mostly waits on the scheduler's status checks.
    local_run = _snakemake(local, "--cores", "2")
    slurm_run = _snakemake(remote, "--executor", "slurm", "--profile", "workflow/profiles/slurm",
                           "--slurm-init-seconds-before-status-checks", "2", env=cluster.env)
    try:
        output = _finish(slurm_run, remote)
    finally:
        _finish(local_run, local)
    return local, remote, output


@pytest.fixture(scope="session")
def runs(slurm_cluster, tmp_path_factory):
    """The same two-scale build run locally and under SLURM: (local dir, slurm dir, slurm output)."""
    bootstrap = int(os.environ.get("CAMSIS_SLURM_BOOTSTRAP", "3"))
    base = tmp_path_factory.mktemp("slurm_runs")
    return _local_and_slurm(slurm_cluster, _project_copy(base / "local", bootstrap),
                            _project_copy(base / "slurm", bootstrap))


@pytest.fixture(scope="session")
def census_runs(slurm_cluster, tmp_path_factory):
    """The census sheet (three samples of one extract) built locally, each scale in jobs of its own, and
    under SLURM two scales a job (scales_per_job: the first two share their batch's jobs, the third has its own)."""
    base = tmp_path_factory.mktemp("slurm_census")
    return _local_and_slurm(slurm_cluster, _census_copy(base / "local"),
                            _census_copy(base / "slurm", scales_per_job=2))


def _jobs_per_rule(cluster, output: str) -> tuple[collections.Counter, dict[str, int], pd.DataFrame]:
    """sacct's jobs of the run per rule, the run's own job stats, and sacct's rows."""
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    jobs = _sacct_jobs(cluster, run_id)
    stats = _job_stats(output)
    assert len(jobs) > 0
    assert set(jobs["state"]) == {"COMPLETED"}, jobs.to_string()
    return collections.Counter(_rule_of(comment, stats) for comment in jobs["comment"]), stats, jobs


def test_every_job_ran_under_slurm(slurm_cluster, runs):
    _, _, output = runs
    per_rule, stats, jobs = _jobs_per_rule(slurm_cluster, output)
    # Every job but the target rule `all` (no action: run by snakemake itself) went through sbatch;
    # array tasks (the profile's slurm-array-jobs) are listed one by one.
    assert dict(per_rule) == {rule: n for rule, n in stats.items() if rule != "all"}
    for scale in SCALES:  # the comment joins the wildcards: the scale, then its (empty: title-only) variant
        assert f"rule_score_file_wildcards_{scale}_" in set(jobs["comment"])


def _assert_same_score_files(local: Path, remote: Path, scales) -> None:
    for scale in scales:
        local_files = sorted(p.relative_to(local) for p in (local / "results" / scale).glob("*.dta"))
        local_files += sorted(p.relative_to(local) for p in (local / "results" / scale).glob("*.csv"))
        assert Path("results", scale, f"{scale}.dta") in local_files
        for relative in local_files:
            assert (remote / relative).exists(), f"SLURM run did not write {relative}"
            if relative.suffix == ".dta":
                a, meta_a = pyreadstat.read_dta(local / relative)
                b, meta_b = pyreadstat.read_dta(remote / relative)
                assert meta_a.column_names_to_labels == meta_b.column_names_to_labels
                assert meta_a.variable_value_labels == meta_b.variable_value_labels
            else:
                a = pd.read_csv(local / relative)
                b = pd.read_csv(remote / relative)
            _assert_same_frames(a, b, str(relative))
        summaries = [json.loads((run / "results" / scale / "summary.json").read_text()) for run in (local, remote)]
        _assert_same_json(*summaries, where=f"{scale}/summary.json")


def test_slurm_outputs_equal_local_outputs(runs):
    local, remote, _ = runs
    _assert_same_score_files(local, remote, SCALES)


def test_census_sheet_decodes_its_extract_once_with_every_job_under_slurm(slurm_cluster, census_runs):
    _, _, output = census_runs
    per_rule, stats, jobs = _jobs_per_rule(slurm_cluster, output)
    assert dict(per_rule) == {rule: n for rule, n in stats.items() if rule != "all"}
    assert per_rule["decode_input"] == 1 and per_rule["compare_scales"] == 1
    # the first two scales' scores in one batch job, the third scale's in jobs of its own
    assert per_rule["tabulate_to_score_file_batch1"] == per_rule["tabulate"] == per_rule["score_file"] == 1, per_rule
    assert not any(rule.startswith("bootstrap") for rule in per_rule), per_rule


def test_census_outputs_under_slurm_equal_local_outputs(census_runs):
    local, remote, _ = census_runs
    _assert_same_score_files(local, remote, CENSUS_SAMPLES)
    for name in ("mcamsis.tsv", "fcamsis.tsv", "mcamsis_n.tsv", "fcamsis_n.tsv", "pairs.tsv"):
        a, b = (pd.read_csv(run / "results/comparison" / name, sep="\t") for run in (local, remote))
        assert len(a) >= len(CENSUS_SAMPLES) - 1, name
        _assert_same_frames(a, b, f"comparison/{name}")


def _assert_same_json(a, b, where: str) -> None:
    """Equal JSON trees, numbers to floating-point tolerance.

    The build date may differ, and so may the input's checksum: each run generates its own demo
    .dta, and a .dta header carries the time it was written.
    """
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            if key not in ("built", "sha256"):
                _assert_same_json(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_json(x, y, f"{where}/{i}")
    elif isinstance(a, float) or isinstance(b, float):
        assert np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), f"{where}: {a} != {b}"
    else:
        assert a == b, where
