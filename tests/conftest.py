"""Shared fixtures: a tiny classification that tests can reason about by hand."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from camsis.classification import load_classification

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def soc2020():
    return load_classification("soc2020", REPO / "data" / "classifications")


def write_classification(directory, name, rows, reference="isei"):
    """Write a code frame: rows are (code, level, parent, title, isei)."""
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


@pytest.fixture
def toy(tmp_path):
    """Two top groups (1, 2), four sub-groups, eight units."""
    rows = [
        (1, 1, None, "High", 70.0),
        (2, 1, None, "Low", 30.0),
        (11, 2, 1, "High A", 75.0),
        (12, 2, 1, "High B", 65.0),
        (21, 2, 2, "Low A", 35.0),
        (22, 2, 2, "Low B", 25.0),
        (111, 3, 11, "u111", 80.0),
        (112, 3, 11, "u112", 72.0),
        (121, 3, 12, "u121", 66.0),
        (122, 3, 12, "u122", 60.0),
        (211, 3, 21, "u211", 40.0),
        (212, 3, 21, "u212", 33.0),
        (221, 3, 22, "u221", 28.0),
        (222, 3, 22, "u222", 20.0),
    ]
    return write_classification(tmp_path, "toy", rows)
