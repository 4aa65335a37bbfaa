"""Small real tables, each with its own small classification, built both ways.

The tables (tests/data/small_tables/, each file citing its source) are printed mobility
tables from the literature and the husbands' x wives' occupations of statsmodels' ``fair``
data. Each build is checked against an independent reference: with ``blanked_cells: zero``
the CA scores against a direct SVD of the table with its diagonal zeroed; with
``reconstitute`` against a direct SVD of the quasi-independence table (blanked cells filled
by statsmodels' Poisson GLM with row and column effects on the kept cells). And on every
table, in both modes, a scale whose husbands' and wives' scores run opposite ways must carry
a warning saying so.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import statsmodels.api as sm

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells
from camsis.method.tables import tabulate_frame
from camsis.scaling.candidates import expected_counts
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import TEST_DATA, direct_ca, project_copy, quasi_independence_fit

SMALL_TABLES = TEST_DATA / "small_tables"
CLASSIFICATIONS = SMALL_TABLES / "classifications"
TABLES = {
    "glass1954": "glass5",
    "hauser1979": "mobility5",
    "yamaguchi1987_us": "mobility5",
    "yamaguchi1987_uk": "mobility5",
    "yamaguchi1987_japan": "mobility5",
    "erikson1982_ew": "egp9",
    "erikson1982_f": "egp9",
    "erikson1982_s": "egp9",
    "fair": "fair6",
}
OPPOSITE = ("point opposite ways", "agreeing in sign")


def read_table(name: str) -> pd.DataFrame:
    """occ1 x occ2 counts of a small table (the fair data tabulated from statsmodels)."""
    if name == "fair":
        data = sm.datasets.fair.load_pandas().data
        table = pd.crosstab(data["occupation_husb"].astype(int), data["occupation"].astype(int))
    else:
        table = pd.read_csv(SMALL_TABLES / f"{name}.tsv", sep="\t", comment="#", index_col=0)
    table.columns = table.columns.astype(int)
    table.index = table.index.astype(int)
    return table


def build(name: str, **options):
    classification = load_classification(TABLES[name], CLASSIFICATIONS)
    counts = read_table(name).reindex(index=classification.units, columns=classification.units, fill_value=0)
    i, j = np.nonzero(counts.to_numpy())
    n = counts.to_numpy()[i, j]
    couples = pd.DataFrame({"h": np.repeat(counts.index.to_numpy()[i], n), "w": np.repeat(counts.columns.to_numpy()[j], n)})
    table = tabulate_frame(couples, "h", "w", None, classification.units)
    blank = blank_cells(classification.units, classification.units, diagonal_digits=0)
    return counts, classification, build_unit_scores(table, blank, blank, classification, ScaleOptions(**options))


def test_fair_classification_reference_is_the_wives_mean_education():
    data = sm.datasets.fair.load_pandas().data
    stored = load_classification("fair6", CLASSIFICATIONS).frame["status"]
    means = data.groupby(data["occupation"].astype(int))["educ"].mean()
    np.testing.assert_allclose(stored.loc[means.index].to_numpy(float), means.to_numpy(), atol=1e-6)


def assert_ca_matches(result, reference_table: np.ndarray, units):
    """The build's raw CA scores of the chosen dimension equal the direct SVD's, up to one joint sign."""
    ca = result.fit.ca
    F, G, eig = direct_ca(reference_table)
    d = ca.chosen - 1
    rows = result.scores["m_ca"].reindex(units).to_numpy()
    cols = result.scores["f_ca"].reindex(units).to_numpy()
    sign = np.sign(rows @ F[:, d])
    np.testing.assert_allclose(rows, sign * F[:, d], atol=1e-9)
    np.testing.assert_allclose(cols, sign * G[:, d], atol=1e-9)  # rows and columns flipped together
    assert ca.eigenvalues[0] == pytest.approx(eig[d], rel=1e-9)


def diagonal_filled(counts: pd.DataFrame) -> np.ndarray:
    """The table with its diagonal filled by the quasi-independence fit (statsmodels' Poisson GLM)."""
    values = counts.to_numpy(float)
    missing = np.eye(len(values), dtype=bool)
    return np.where(missing, quasi_independence_fit(values, missing), values)


def sides_agree(scores: pd.DataFrame) -> float:
    return float(np.corrcoef(scores["mcamsis"], scores["fcamsis"])[0, 1])


@pytest.mark.parametrize("name", list(TABLES))
def test_zero_is_the_svd_of_the_table_with_its_diagonal_zeroed_and_warns_when_sides_disagree(name):
    counts, classification, result = build(name, min_n=0)
    zeroed = counts.to_numpy(float).copy()
    np.fill_diagonal(zeroed, 0.0)
    assert_ca_matches(result, zeroed, classification.units)
    warnings = result.diagnostics.warnings
    if sides_agree(result.scores) < 0:
        assert any(any(text in w for text in OPPOSITE) for w in warnings), (name, warnings)
        assert any(f"{result.diagnostics.male_female_correlation:.3f}" in w for w in warnings)


@pytest.mark.parametrize("name", list(TABLES))
def test_reconstitute_is_the_svd_of_the_quasi_independence_table_and_its_scales_agree(name):
    counts, classification, result = build(name, min_n=0, blanked_cells="reconstitute")
    filled = diagonal_filled(counts)
    missing = np.eye(len(filled), dtype=bool)
    assert_ca_matches(result, filled, classification.units)
    info = result.diagnostics.reconstitution
    assert info["converged"] and info["iterations"] > 1 and info["cells_filled"] == len(filled)
    assert info["pairs_filled"] == pytest.approx(filled[missing].sum(), rel=1e-6)
    # Sensible: both sides rise with the reference, and with each other; nothing to warn about.
    scores = result.scores
    status = classification.frame.loc[classification.units, "status"].astype(float)
    assert sides_agree(scores) > 0.3, name
    assert np.corrcoef(scores["mcamsis"], status)[0, 1] > 0.5 and np.corrcoef(scores["fcamsis"], status)[0, 1] > 0.5
    assert result.diagnostics.warnings == []


@pytest.mark.parametrize("name", list(TABLES))
def test_rc2_scores_get_the_same_direction_checks(name):
    # estimator: rc2 chooses and orients the RC dimension with the CA's rules: its husbands'
    # and wives' raw scores both rise with the reference (weighted as the choice weights them,
    # by the pairs left after blanking); a finished scale whose sides disagree warns, naming
    # the RC dimension, and one whose sides agree does not.
    for mode in ("zero", "reconstitute"):
        counts, classification, result = build(name, min_n=0, estimator="rc2", blanked_cells=mode)
        kept = counts.to_numpy(float).copy()
        np.fill_diagonal(kept, 0.0)
        status = classification.frame.loc[classification.units, "status"].to_numpy(float)
        scores = result.scores
        for column, weights in (("m_raw", kept.sum(axis=1)), ("f_raw", kept.sum(axis=0))):
            raw = scores[column].to_numpy(float)
            ok = ~np.isnan(raw) & (weights > 0)
            r = np.cov(raw[ok], status[ok], aweights=weights[ok])
            assert r[0, 1] / np.sqrt(r[0, 0] * r[1, 1]) > 0, (name, mode, column)
        warnings = result.diagnostics.warnings
        population = counts.to_numpy(float).sum(axis=1) + counts.to_numpy(float).sum(axis=0)
        c = np.cov(scores["mcamsis"], scores["fcamsis"], aweights=population)
        disagree = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]) < 0.3
        assert disagree == any("chosen RC dimension" in w for w in warnings), (name, mode, warnings)
        if mode == "reconstitute":
            assert not disagree, name


def test_reconstitute_smoothing_sees_the_filled_table():
    # Before shrinkage a husband unit's score is the mean of its partners' CA scores over the
    # filled table, diagonal included: the transition formula, a direct computation here.
    counts, classification, result = build("glass1954", min_n=0, blanked_cells="reconstitute")
    filled = diagonal_filled(counts)
    F, G, eig = direct_ca(filled)
    d = result.fit.ca.chosen - 1
    partners_mean = filled @ G[:, d] / filled.sum(axis=1)
    raw = result.scores["m_ca"].to_numpy()
    np.testing.assert_allclose(partners_mean * np.sign(raw @ F[:, d]), raw * np.sqrt(eig[d]), atol=1e-8)
    # The scale is that mean shrunk by the model (ESRES = b + lambda (mean - b)) and standardised:
    # a linear function of it wherever the clip to [1, 99] does not bite.
    b = result.diagnostics.smoothing["m"]["fixed"]["const"]["coef"]
    lam = result.scores["m_lambda"].to_numpy()
    shrunk = b + lam * (partners_mean * np.sign(raw @ F[:, d]) - b)
    scale = result.scores["mcamsis"].to_numpy()
    inside = (scale > 1) & (scale < 99)
    assert inside.sum() >= 3
    slope, intercept = np.polyfit(shrunk[inside], scale[inside], 1)
    np.testing.assert_allclose(intercept + slope * shrunk[inside], scale[inside], atol=1e-8)
    assert slope > 0


def test_merging_across_a_one_group_classification_warns():
    # glass5 is flat: five categories under one root. The top row keeps 79 pairs off the diagonal.
    _, _, result = build("glass1954", min_n=100)
    warnings = [w for w in result.diagnostics.warnings if "across the whole table" in w]
    assert len(warnings) == 2  # husbands' and wives' sides
    assert "1 into 4" in warnings[0] and "min_n 100" in warnings[0]
    assert result.diagnostics.merging["m"]["whole_table"] == [4]


def test_merging_everything_is_an_error_naming_the_merging():
    with pytest.raises(CamsisError) as error:
        build("glass1954", min_n=10**6)
    message = str(error.value)
    assert "after sparse merging (min_n 1e+06)" in message and "blanking" not in message
    assert "lower min_n" in message


def project(directory: Path) -> Path:
    project_copy(directory, parts=("Snakefile", "workflow", "config"))
    shutil.copytree(CLASSIFICATIONS, directory / "data/classifications")
    # A title longer than a Stata variable label: it used to crash plausible_values.
    meta = directory / "data/classifications/glass5.yaml"
    meta.write_text(meta.read_text().replace(
        "label: Glass (1954) occupational status category",
        "label: Glass (1954) occupational status category of fathers and sons in England and Wales, five groups"))
    counts = read_table("glass1954")
    i, j = np.nonzero(counts.to_numpy())
    n = counts.to_numpy()[i, j]
    pd.DataFrame({"father": np.repeat(counts.index[i], n), "son": np.repeat(counts.columns[j], n)}).to_csv(
        directory / "glass.csv", index=False)
    (directory / "config/small.tsv").write_text(
        "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tblanked_cells\n"
        "glass_zero\tglass.csv\tfather\tson\t\tglass5\t\t0\t\n"
        "glass_qi\tglass.csv\tfather\tson\t\tglass5\t\t0\treconstitute\n"
    )
    return directory


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    directory = project(tmp_path_factory.mktemp("small"))
    targets = [f"results/{s}/{f}" for s in ("glass_zero", "glass_qi") for f in (f"{s}.dta", "summary.json", "plausible.dta")]
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "scales=config/small.tsv", "bootstrap=2",
         "plausible_values=1", "--", *targets], cwd=directory, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return directory


@pytest.mark.slow
def test_workflow_warnings_reach_summary_notes_and_log(workflow_run):
    summary = json.loads((workflow_run / "results/glass_zero/summary.json").read_text())
    direction = [w for w in summary["warnings"] if any(text in w for text in OPPOSITE)]
    assert direction, summary["warnings"]
    labels = [w for w in summary["warnings"] if "too long for a Stata .dta" in w]
    assert len(labels) == 1 and "variable label of glass5" in labels[0]
    notes = pyreadstat.read_dta(workflow_run / "results/glass_zero/glass_zero.dta")[1].notes
    for warning in direction + labels:
        assert f"warning: {warning}" in notes
    log = (workflow_run / "logs/glass_zero/score_units.log").read_text()
    assert all(w in log for w in direction)
    assert summary["ca"]["blanked_cells"] == "zero"


@pytest.mark.slow
def test_workflow_reconstitute_from_the_sheet_reports_its_iterations(workflow_run):
    summary = json.loads((workflow_run / "results/glass_qi/summary.json").read_text())
    assert summary["ca"]["blanked_cells"] == "reconstitute"
    assert summary["reconstitution"]["converged"] is True and summary["reconstitution"]["iterations"] > 1
    assert not [w for w in summary["warnings"] if any(text in w for text in OPPOSITE)]
    assert summary["male_female_correlation"] > 0.3


@pytest.mark.slow
def test_workflow_plausible_values_cut_a_long_title_with_a_note(workflow_run):
    data, meta = pyreadstat.read_dta(workflow_run / "results/glass_qi/plausible.dta")
    assert len(meta.column_names_to_labels["glass5"]) == 80
    assert any("too long for a Stata .dta" in note for note in meta.notes)


def test_reconstitute_candidate_residuals_are_those_of_the_table_the_ca_saw():
    counts, classification, result = build("hauser1979", min_n=0, blanked_cells="reconstitute")
    filled = diagonal_filled(counts)
    F, G, eig = direct_ca(filled)
    n = filled.sum()
    r, c = filled.sum(axis=1) / n, filled.sum(axis=0) / n
    reference = n * np.outer(r, c) * (1 + (F[:, :2] / np.sqrt(eig[:2])) @ G[:, :2].T)
    np.testing.assert_allclose(expected_counts(result.fit).to_numpy(), reference, rtol=1e-7)
