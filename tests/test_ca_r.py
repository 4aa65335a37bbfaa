"""The package's CA against R's ``ca::ca()`` (Nenadic and Greenacre), an independent implementation.

R's ca takes the full SVD of the standardised residuals; camsis finds the leading dimensions by
Lanczos on the smaller Gram matrix (or a dense eigendecomposition when Lanczos cannot start),
so the two share no code. Every table of the module goes to R in one Rscript (the fixture
``r_ca``); the tests then compare principal inertias, masses, and standard and principal
coordinates (up to a sign per dimension, the same for rows and columns). R's ca refuses a
table with an empty row or column, so R is given the table without them, as camsis leaves
them out itself.
"""

import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import linalg
from scipy.sparse.linalg import ArpackError, eigsh

import camsis.method.ca
from camsis.method.blanking import PSD_COLUMNS, blank_cells
from camsis.method.ca import connected_blocks, correspondence_analysis
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import TOY, TOY_UNITS, assert_same_up_to_sign, table_of


def labelled(values, first_row=1000, first_column=5000):
    values = np.asarray(values, dtype=float)
    return pd.DataFrame(values, index=pd.Index(range(first_row, first_row + values.shape[0]), name="occ1"),
                        columns=pd.Index(range(first_column, first_column + values.shape[1]), name="occ2"))


def plain_table():
    """15 x 11 weighted counts (survey weights make them fractional), every row and column with some."""
    rng = np.random.default_rng(20261207)
    return labelled(rng.poisson(6.0, size=(15, 11)) * rng.uniform(0.5, 2.0, size=(15, 11)))


def padded_table():
    """9 x 8 counts with two empty rows and one empty column inside."""
    values = np.random.default_rng(7).integers(1, 30, size=(9, 8)).astype(float)
    values[[2, 6], :] = 0.0
    values[:, 4] = 0.0
    return labelled(values)


def sparse_table():
    """400 x 400 counts of a two-dimensional association model, about 95% of the cells zero.

    The size and sparsity of a real scale's unit table: unit sizes spread over two orders of
    magnitude, some units without a partner on one side.
    """
    rng = np.random.default_rng(20261207)
    n = 400
    first, second, size = rng.normal(size=n), rng.normal(size=n), rng.lognormal(0.0, 1.2, n)
    expected = np.outer(size, size) * np.exp(0.9 * np.outer(first, first) + 0.5 * np.outer(second, second))
    return labelled(rng.poisson(30000 * expected / expected.sum()))


# The toy classification's eight units, couples on their ISEI with the diagonal inflated (shared
# workplaces): the diagonal is blanked, and so are husbands in 221-222 with wives in 111-112.
def toy_counts():
    isei = np.array([isei for code, level, _, _, isei in TOY if level == 3])
    s = (isei - isei.mean()) / isei.std()
    size = np.array([3, 1, 2, 4, 2, 3, 1, 2], dtype=float)
    expected = np.outer(size, size[::-1]) * np.exp(0.8 * np.outer(s, s)) * (1 + 3 * np.eye(len(s)))
    return np.random.default_rng(3).poisson(4000 * expected / expected.sum())


TOY_COUNTS = toy_counts()
TOY_BLANK = blank_cells(TOY_UNITS, TOY_UNITS, diagonal_digits=0,
                        psds=pd.DataFrame([[221, 222, 111, 112]], columns=PSD_COLUMNS))
TOY_ZEROED = pd.DataFrame(np.where(TOY_BLANK.to_numpy(), 0.0, TOY_COUNTS), index=TOY_BLANK.index, columns=TOY_BLANK.columns)

# name -> (the table camsis is given, dimensions compared)
CASES = {
    "plain": (plain_table(), 10),
    "padded": (padded_table(), 3),
    "sparse": (sparse_table(), 4),
    "blanked": (TOY_ZEROED, 3),
    "not_blanked": (labelled(TOY_COUNTS), 3),
}

R_SCRIPT = """
if (!requireNamespace("ca", quietly = TRUE)) quit(status = 3)
cases <- read.csv("cases.csv", stringsAsFactors = FALSE)
save <- function(x, name) {
  x <- as.matrix(x)
  x[] <- sprintf("%.17g", x)
  write.table(x, name, sep = ",", quote = FALSE, row.names = FALSE, col.names = FALSE)
}
for (i in seq_len(nrow(cases))) {
  name <- cases$name[i]
  fit <- ca::ca(as.matrix(read.csv(paste0(name, ".csv"), header = FALSE)), nd = cases$nd[i])
  save(fit$sv, paste0(name, "_sv.csv"))
  save(fit$rowmass, paste0(name, "_rowmass.csv"))
  save(fit$colmass, paste0(name, "_colmass.csv"))
  save(fit$rowcoord, paste0(name, "_rowcoord.csv"))
  save(fit$colcoord, paste0(name, "_colcoord.csv"))
}
"""


def without_empty_lines(table: pd.DataFrame) -> pd.DataFrame:
    values = table.to_numpy()
    return table.loc[values.sum(axis=1) > 0, values.sum(axis=0) > 0]


@pytest.fixture(scope="module")
def r_ca(tmp_path_factory):
    """name -> R's ca of CASES[name] without its empty rows and columns (one Rscript for all)."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed (R's ca is the reference; Debian r-base-core r-cran-ca)")
    folder = tmp_path_factory.mktemp("r_ca")
    for name, (table, _) in CASES.items():
        np.savetxt(folder / f"{name}.csv", without_empty_lines(table).to_numpy(), delimiter=",", fmt="%.17g")
    pd.DataFrame({"name": list(CASES), "nd": [nd for _, nd in CASES.values()]}).to_csv(folder / "cases.csv", index=False)
    (folder / "ca.R").write_text(R_SCRIPT)
    run = subprocess.run(["Rscript", "ca.R"], cwd=folder, capture_output=True, text=True, timeout=300)
    if run.returncode == 3:
        pytest.skip("R package ca is not installed (Debian r-cran-ca)")
    assert run.returncode == 0, run.stderr

    def read(name, part):
        return np.loadtxt(folder / f"{name}_{part}.csv", delimiter=",", ndmin=2)

    fits = {}
    for name, (table, _) in CASES.items():
        kept = without_empty_lines(table)
        fits[name] = SimpleNamespace(
            rows=kept.index, columns=kept.columns, sv=read(name, "sv").ravel(), rowmass=read(name, "rowmass").ravel(),
            colmass=read(name, "colmass").ravel(), rowcoord=read(name, "rowcoord"), colcoord=read(name, "colcoord"))
    return fits


def joint_signs(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per dimension, the sign that turns the reference's coordinates into ours."""
    return np.sign(np.einsum("ij,ij->j", ours, reference))


def assert_same_as_r(result, reference):
    """Inertias, masses and coordinates of a CAResult equal R's, each dimension up to one sign for rows and columns."""
    dims = np.asarray(result.order) - 1  # the result's columns in R's (decreasing inertia) order
    sv = reference.sv[dims]
    np.testing.assert_allclose(result.eigenvalues, sv**2, rtol=1e-10)
    np.testing.assert_allclose(result.total_inertia, np.sum(reference.sv**2), rtol=1e-10)
    np.testing.assert_allclose(result.inertia, sv**2 / np.sum(reference.sv**2), rtol=1e-10)
    np.testing.assert_allclose(result.row_masses.loc[reference.rows], reference.rowmass, rtol=1e-12)
    np.testing.assert_allclose(result.column_masses.loc[reference.columns], reference.colmass, rtol=1e-12)
    rows = result.row_scores.loc[reference.rows].to_numpy()
    columns = result.column_scores.loc[reference.columns].to_numpy()
    r_rows, r_columns = reference.rowcoord[:, dims], reference.colcoord[:, dims]
    # standard coordinates, then principal ones (standard times the singular value)
    close = {"rtol": 1e-8, "atol": 1e-10}
    assert_same_up_to_sign(rows / sv, r_rows, **close)
    assert_same_up_to_sign(columns / sv, r_columns, **close)
    assert_same_up_to_sign(rows, r_rows * sv, **close)
    assert_same_up_to_sign(columns, r_columns * sv, **close)
    # CA signs are joint: a dimension flipped on the rows is flipped on the columns too
    np.testing.assert_array_equal(joint_signs(rows, r_rows), joint_signs(columns, r_columns))


@pytest.fixture(params=["lanczos", "dense"])
def route(request, monkeypatch):
    """Which eigensolver ran: Lanczos (eigsh) as it chooses, or made to fail so the dense fallback runs."""
    calls = []

    def lanczos(*args, **kwargs):
        if request.param == "dense":
            calls.append("lanczos failed")
            raise ArpackError(-9999)
        found = eigsh(*args, **kwargs)
        calls.append("lanczos")
        return found

    def dense(*args, **kwargs):
        calls.append("dense")
        return linalg.eigh(*args, **kwargs)

    monkeypatch.setattr(camsis.method.ca, "eigsh", lanczos)
    monkeypatch.setattr(camsis.method.ca, "linalg", SimpleNamespace(eigh=dense))
    return SimpleNamespace(name=request.param, calls=calls)


def expected_calls(route):
    return ["lanczos"] if route.name == "lanczos" else ["lanczos failed", "dense"]


def test_plain_table_every_dimension(r_ca, route):
    table, nd = CASES["plain"]
    result = correspondence_analysis(table, n_components=nd)
    assert route.calls == expected_calls(route)
    assert result.row_scores.shape == (15, 10) and result.empty_rows == [] and result.empty_columns == []
    assert_same_as_r(result, r_ca["plain"])


def test_empty_rows_and_columns_leave_as_r_needs(r_ca):
    table, nd = CASES["padded"]
    result = correspondence_analysis(table, n_components=nd)
    assert result.empty_rows == [1002, 1006] and result.empty_columns == [5004]
    assert list(result.row_scores.index) == list(r_ca["padded"].rows)
    assert list(result.column_scores.index) == list(r_ca["padded"].columns)
    assert_same_as_r(result, r_ca["padded"])


def test_sparse_table_of_a_real_scale_size(r_ca, route):
    table, nd = CASES["sparse"]
    assert (table.to_numpy() == 0).mean() > 0.9 and len(connected_blocks(table)) == 1
    result = correspondence_analysis(table, n_components=nd)
    assert route.calls == expected_calls(route)
    assert result.empty_rows and result.empty_columns  # units without a partner on one side
    assert len(result.row_scores) == len(r_ca["sparse"].rows) > 380
    assert_same_as_r(result, r_ca["sparse"])


def test_blanked_cells_enter_the_ca_as_zeros(r_ca, toy):
    """docs/METHOD.md section 5: the CA is of the non-blanked table, blanked cells counted as zero."""
    built = build_unit_scores(table_of(TOY_COUNTS, TOY_UNITS), TOY_BLANK, TOY_BLANK, toy,
                              ScaleOptions(min_n=0, n_components=CASES["blanked"][1]))
    assert (built.fit.row_map == built.fit.row_map.index).all(), "the comparison needs no sparse merging"
    ca = built.fit.ca
    assert ca.chosen is not None  # dimensions chosen and oriented by the reference: order and signs may change
    assert_same_as_r(ca, r_ca["blanked"])
    # the blanking matters: the CA of the table with the blanked pairs counted is another one
    assert not np.allclose(ca.eigenvalues, r_ca["not_blanked"].sv[np.asarray(ca.order) - 1] ** 2, rtol=1e-2)
