"""Shared fixtures: a tiny classification that tests can reason about by hand."""

import pytest

from camsis.classifications.classification import load_classification
from helpers import REPO, TOY, write_classification


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def soc2020():
    return load_classification("soc2020", REPO / "data" / "classifications")


@pytest.fixture
def toy(tmp_path):
    """Two top groups (1, 2), four sub-groups, eight units."""
    return write_classification(tmp_path, "toy", TOY)
