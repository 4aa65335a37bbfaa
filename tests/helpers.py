"""What several test modules share: the repository, toy classifications and project copies, Snakemake runs.

Test modules import from here (and get fixtures from conftest.py); no test module imports another.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.method.tables import tabulate_frame

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"

# The toy classification: two top groups (1, 2), four sub-groups, eight units; rows (code, level, parent, title, isei).
TOY = [
    (1, 1, None, "High", 70.0), (2, 1, None, "Low", 30.0),
    (11, 2, 1, "High A", 75.0), (12, 2, 1, "High B", 65.0), (21, 2, 2, "Low A", 35.0), (22, 2, 2, "Low B", 25.0),
    (111, 3, 11, "u111", 80.0), (112, 3, 11, "u112", 72.0), (121, 3, 12, "u121", 66.0), (122, 3, 12, "u122", 60.0),
    (211, 3, 21, "u211", 40.0), (212, 3, 21, "u212", 33.0), (221, 3, 22, "u221", 28.0), (222, 3, 22, "u222", 20.0),
]
TOY_UNITS = np.array([code for code, level, *_ in TOY if level == 3], dtype=np.int64)

SHEET_HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n"
# Only the score files are asked for: no bootstrap replicates, plausible values or psd rounds.
PLAIN = ["bootstrap=0", "plausible_values=0", "psd_rounds=0"]


def write_classification(directory, name, rows, reference="isei"):
    """Write a code frame ``{name}.tsv`` + ``.yaml`` in ``directory``: rows are (code, level, parent, title, isei)."""
    frame = pd.DataFrame(rows, columns=["code", "level", "parent", "title", "isei"])
    frame["label"] = frame["code"].astype(str) + ". " + frame["title"]
    frame["parent"] = frame["parent"].astype("Int64")
    frame.to_csv(Path(directory) / f"{name}.tsv", sep="\t", index=False)
    meta = {
        "variable": name,
        "label": f"Toy classification {name}",
        "value_label_name": f"{name}a",
        "reference_measure": reference,
        "link_labels": {"isei": "International Socio-Economic Index"},
        "link_value_labels": {},
    }
    (Path(directory) / f"{name}.yaml").write_text(yaml.safe_dump(meta))
    return load_classification(name, directory)


def walk_up(parents: pd.Series):
    """Reference for the hierarchy code: a function code -> [parent, grandparent, ...], walked through
    the parent column (NA at the top) one step at a time."""
    parent = {int(c): (None if pd.isna(p) else int(p)) for c, p in parents.items()}

    def walk(code):
        chain = []
        while parent[code] is not None:
            code = parent[code]
            chain.append(code)
        return chain

    return walk


def project_copy(target, parts=("Snakefile", "workflow", "config", "data")):
    """A copy of the project (the quick start's files) in ``target``."""
    for part in parts:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / part)
    return target


def toy_project(target):
    """A copy of the workflow whose only classification is the toy one."""
    project_copy(target, parts=("Snakefile", "workflow", "config"))
    (target / "data/classifications").mkdir(parents=True)
    write_classification(target / "data/classifications", "toy", TOY)
    return target


def toy_couples(n_per_cell=6, seed=1):
    """A connected toy table: every cell within two units of the diagonal, with weights ``wt``."""
    rows = [(h, w) for i, h in enumerate(TOY_UNITS) for j, w in enumerate(TOY_UNITS) if abs(i - j) <= 2] * n_per_cell
    frame = pd.DataFrame(rows, columns=["hocc", "wocc"])
    frame["wt"] = np.random.default_rng(seed).uniform(0.5, 2.0, len(frame))
    return frame


def status_couples(seed=3):
    """Toy couples with empst3 statuses ``hemp``, ``wemp``: mostly scored ones, some 0 (no information) and -9 (missing)."""
    couples = toy_couples(n_per_cell=60, seed=seed)
    rng = np.random.default_rng(seed)
    for column in ("hemp", "wemp"):
        couples[column] = rng.choice([1, 2, 3, 0, -9], size=len(couples), p=[0.25, 0.25, 0.44, 0.03, 0.03])
    return couples


def snakemake(directory, *args, cores=2):
    """Run ``snakemake --cores N *args`` in ``directory``; the completed process (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), *args], cwd=directory, capture_output=True, text=True
    )


def planned_jobs(directory, *args):
    """Rules a dry run would run, from its job stats table (empty when nothing is to be done)."""
    done = snakemake(directory, "-n", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return set()
    stats = text[text.index("Job stats:"):].split("total")[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", stats, re.MULTILINE)} - {"job"}


def error_lines(stderr):
    """The `camsis: error:` lines of a run's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("camsis: error:")]


def write_data(df, path):
    """Write ``df`` in the format its suffix names (.dta, .sav, .csv, .parquet); returns the path."""
    import pyreadstat

    if path.suffix == ".dta":
        pyreadstat.write_dta(df, str(path))
    elif path.suffix == ".sav":
        pyreadstat.write_sav(df, str(path))
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def direct_ca(counts: np.ndarray):
    """Principal coordinates F, G and principal inertias from the SVD of S = D_r^-1/2 (P - r c') D_c^-1/2."""
    P = counts / counts.sum()
    r, c = P.sum(axis=1), P.sum(axis=0)
    S = np.diag(r**-0.5) @ (P - np.outer(r, c)) @ np.diag(c**-0.5)
    U, s, Vt = np.linalg.svd(S)
    F = np.diag(r**-0.5) @ U[:, : len(s)] * s
    G = np.diag(c**-0.5) @ Vt.T[:, : len(s)] * s
    return F, G, s**2


def assert_same_up_to_sign(ours: np.ndarray, reference: np.ndarray, atol: float = 1e-10, rtol: float = 1e-7):
    """Each column (a 1-d array: the one column) equal to the reference's up to its sign."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    ours, reference = ours.reshape(len(ours), -1), reference.reshape(len(reference), -1)
    for k in range(ours.shape[1]):
        sign = np.sign(ours[:, k] @ reference[:, k])
        np.testing.assert_allclose(ours[:, k], sign * reference[:, k], rtol=rtol, atol=atol)


def table_of(counts: np.ndarray, units: np.ndarray):
    """The PairTable of couples whose occ1 x occ2 counts are ``counts`` (rows, columns = units)."""
    i, j = np.nonzero(counts)
    couples = pd.DataFrame({"h": np.repeat(units[i], counts[i, j]), "w": np.repeat(units[j], counts[i, j])})
    return tabulate_frame(couples, "h", "w", None, units)


def one_line_error(call, *args, match: str | None = None, **kwargs) -> str:
    """``call(*args, **kwargs)`` raises a CamsisError (matching ``match``) of one line; its message."""
    with pytest.raises(CamsisError, match=match) as error:
        call(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    return message


def quasi_independence_fit(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Poisson GLM log mu_ij = a + b_i + c_j on the kept cells (statsmodels), predicted on every cell."""
    import statsmodels.api as sm

    i, j = np.indices(values.shape)
    cells = pd.DataFrame({"count": values.ravel(), "row": i.ravel(), "col": j.ravel(), "kept": ~missing.ravel()})
    design = pd.get_dummies(cells[["row", "col"]].astype(str), drop_first=True).astype(float)
    design.insert(0, "const", 1.0)
    kept = cells["kept"].to_numpy()
    model = sm.GLM(cells["count"][kept], design[kept], family=sm.families.Poisson()).fit(tol=1e-13)
    return model.predict(design).to_numpy().reshape(values.shape)
