"""camsis.build_scale, the front door for Python users: the workflow's files, a known truth, one-line errors."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import camsis
from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.method.synthetic import simulate_couples
from camsis.scaling.scale import ScaleOptions
from helpers import REPO, TOY, snakemake, status_couples, toy_project, write_classification

SHEET = ("scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tdiagonal_groups"
         "\tstatus1\tstatus2\tstatuses\n"
         "plain\tcouples.csv\thocc\twocc\twt\ttoy\tpsds.tsv\t0\t\t\t\t\n"
         "grouped\tcouples.csv\thocc\twocc\t\ttoy\t\t0\t1\themp\twemp\tempst3\n")
PSDS = "lower_1\tupper_1\tlower_2\tupper_2\n111\t112\t121\t122\n211\t222\t211\t222\n"  # a block, a group with itself
FILES = ("plain.csv", "grouped.csv", "grouped_by_status.csv")


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    """The toy project's two sheet rows built by Snakemake, with a bootstrap of 4 replicates in two batches."""
    directory = toy_project(tmp_path_factory.mktemp("front_door"))
    shutil.copytree(REPO / "data/statuses", directory / "data/statuses")
    status_couples().to_csv(directory / "couples.csv", index=False)
    (directory / "psds.tsv").write_text(PSDS)
    (directory / "config/front.tsv").write_text(SHEET)
    targets = [f"results/{name.removesuffix('.csv').removesuffix('_by_status')}/{name}" for name in FILES]
    done = snakemake(directory, *targets, "results/grouped/summary.json", "--config", "scales=config/front.tsv",
                     "bootstrap=4", "bootstrap_batch=2", "plausible_values=0", "psd_rounds=0")
    assert done.returncode == 0, done.stderr[-3000:]
    return directory


def same_file(ours: pd.DataFrame, path):
    """Every column and row of the workflow's .csv, to 1e-12 (ours written and read back as the .csv is)."""
    theirs = pd.read_csv(path)
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs, check_dtype=False, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_build_scale_writes_the_workflows_score_files(workflow_run, tmp_path, monkeypatch):
    monkeypatch.chdir(workflow_run)  # names of the toy classification and empst3 resolve in the project's data/
    couples = pd.read_csv("couples.csv")
    plain = camsis.build_scale(couples, "hocc", "wocc", "toy", weight="wt", psds="psds.tsv", bootstrap=4, seed=2020,
                               options=camsis.BuildOptions(name="plain"))
    grouped = camsis.build_scale("couples.csv", "hocc", "wocc", "toy", statuses="empst3", status=("hemp", "wemp"),
                                 bootstrap=4, seed=2020, options=camsis.BuildOptions(name="grouped",
                                                                                     diagonal_groups="1"))
    assert "mcam_tse" in plain.scores and "mcam_tse" in grouped.by_status
    same_file(plain.scores, workflow_run / "results/plain/plain.csv")
    same_file(grouped.scores, workflow_run / "results/grouped/grouped.csv")
    same_file(grouped.by_status, workflow_run / "results/grouped/grouped_by_status.csv")
    same_file(pd.read_csv(plain.to_csv(tmp_path / "plain.csv")), workflow_run / "results/plain/plain.csv")

    summary = json.loads((workflow_run / "results/grouped/summary.json").read_text())
    for key in ("pairs_read", "pairs_used", "dropped", "blanking", "status_unknown", "codes_written"):
        assert grouped.summary[key] == summary[key], key
    assert grouped.summary["input"]["sha256"] == summary["input"]["sha256"]
    assert grouped.summary["bootstrap"]["replicates"] == summary["bootstrap"]["replicates"] == 4
    assert grouped.summary["by_status"]["pairs_used"] == summary["by_status"]["pairs_used"]

    # the .dta: the workflow's writer, so its values, labels and label sets are the published file's
    ours, meta = pyreadstat.read_dta(grouped.to_stata(tmp_path / "grouped.dta"))
    theirs, their_meta = pyreadstat.read_dta(workflow_run / "results/grouped/grouped.dta")
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=1e-12, atol=1e-12)
    assert meta.column_names_to_labels == their_meta.column_names_to_labels
    assert meta.variable_to_label == their_meta.variable_to_label
    assert meta.value_labels == their_meta.value_labels
    by_status, _ = pyreadstat.read_dta(grouped.to_stata(tmp_path / "by_status.dta", by_status=True))
    theirs, _ = pyreadstat.read_dta(workflow_run / "results/grouped/grouped_by_status.dta")
    pd.testing.assert_frame_equal(by_status, theirs, check_dtype=False, rtol=1e-12, atol=1e-12)


def test_recovers_the_generators_true_scores():
    """Synthetic couples drawn from known latent scores (camsis.method.synthetic): the scale recovers them."""
    soc = load_classification("soc2020", REPO / "data/classifications")
    simulated = simulate_couples(soc.units, n_couples=60_000, seed=7)
    result = camsis.build_scale(simulated.couples, "hocc", "wocc", soc, weight="weight",
                                psds=REPO / "data/psds/gb_soc2020.tsv")
    units = result.scores.set_index("soc2020").loc[simulated.truth.index]
    for column, true, cases in (("mcamsis", "male_score", "n_m"), ("fcamsis", "female_score", "n_f")):
        large = units[cases] >= 50
        assert large.sum() > 100
        assert np.corrcoef(units.loc[large, column], simulated.truth.loc[large, true])[0, 1] >= 0.95
    assert result.summary["pairs_read"] == 60_000
    assert result.summary["pairs_used"] + sum(result.summary["dropped"].values()) == 60_000
    assert result.by_status is None and result.summary["input"]["sha256"] is None


def one_line(call, *args, **kwargs) -> str:
    with pytest.raises(CamsisError) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_bad_input_is_one_line_naming_the_variable(tmp_path):
    toy = write_classification(tmp_path, "toy", TOY)
    couples = status_couples()
    assert "'husband_occ'" in one_line(camsis.build_scale, couples, "husband_occ", "wocc", toy)
    assert "'weight'" in one_line(camsis.build_scale, couples, "hocc", "wocc", toy, weight="weight")
    assert "'wife_emp'" in one_line(camsis.build_scale, couples, "hocc", "wocc", toy, statuses="empst3",
                                    status=("hemp", "wife_emp"))
    assert "status" in one_line(camsis.build_scale, couples, "hocc", "wocc", toy, statuses="empst3")
    assert "'nosuch'" in one_line(camsis.build_scale, couples, "hocc", "wocc", "nosuch")
    assert "nosuch.csv" in one_line(camsis.build_scale, tmp_path / "nosuch.csv", "hocc", "wocc", toy)
    assert "list" in one_line(camsis.build_scale, [1, 2], "hocc", "wocc", toy)
    assert "'wt'" in one_line(camsis.build_scale, couples.assign(wt=-couples["wt"]), "hocc", "wocc", toy, weight="wt")
    assert "estimator 'pca'" in one_line(camsis.BuildOptions, estimator="pca")


def test_a_classification_by_path_and_scale_options_are_taken(tmp_path):
    write_classification(tmp_path, "toy", TOY)
    couples = status_couples()
    by_path = camsis.build_scale(couples, "hocc", "wocc", tmp_path / "toy.tsv", options=ScaleOptions(mean=0, sd=1,
                                                                                                    clip=(-9, 9)))
    assert by_path.classification.name == "toy"
    units = by_path.units.scores
    assert abs(np.average(units["mcamsis"], weights=by_path.units.population["m"])) < 1e-9
    assert by_path.summary["config"]["mean"] == 0


def test_the_documented_example_runs(tmp_path, monkeypatch):
    """docs/python.md's example, run as written (in a folder whose data/ is the checkout's)."""
    text = (REPO / "docs/python.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    (tmp_path / "data").symlink_to(REPO / "data")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile("\n".join(blocks), "docs/python.md", "exec"), namespace)
    result = namespace["result"]
    assert (tmp_path / "my_scale.dta").exists() and (tmp_path / "my_scale.csv").exists()
    assert result.summary["scale"] == "my_scale" and result.by_status is not None
