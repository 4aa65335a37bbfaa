"""Stata notes added to a written .dta: read back by an independent reader, data untouched."""

import pandas as pd
import pandas.testing as pdt
import pyreadstat
import pytest

from camsis.io.writing import add_dta_notes, write_dta

FRAME = pd.DataFrame({"code": [11, 12, 21], "score": [55.5, 47.25, 30.0], "name": ["a", "bb", "ccc"]})
NOTES = ["camsis 0.1.0, built 2026-01-01", "config: min_n=30; reml=True; é ünïcode", "x" * 3000]


def written(tmp_path):
    path = tmp_path / "scores.dta"
    write_dta(FRAME, path, {"code": "Code", "score": "A score"}, {"code": {11: "Eleven", 21: "Twenty-one"}}, "label")
    return path


@pytest.mark.parametrize("version", [13, 14, 15])
def test_notes_read_back_by_readstat_and_pandas_sees_the_same_data(tmp_path, version):
    plain = tmp_path / "plain.dta"
    noted = tmp_path / "noted.dta"
    for path in (plain, noted):
        pyreadstat.write_dta(FRAME, path, file_label="label", version=version,
                             column_labels=["Code", "A score", "Name"],
                             variable_value_labels={"code": {11: "Eleven", 21: "Twenty-one"}})
    add_dta_notes(noted, NOTES)
    data, meta = pyreadstat.read_dta(noted)
    assert meta.notes == NOTES  # Stata 13 files hold Latin-1, which these notes fit
    assert meta.file_label == "label" and meta.column_labels == ["Code", "A score", "Name"]
    assert meta.variable_value_labels == {"code": {11: "Eleven", 21: "Twenty-one"}}
    pdt.assert_frame_equal(data, pyreadstat.read_dta(plain)[0])
    with pd.io.stata.StataReader(noted) as reader, pd.io.stata.StataReader(plain) as reference:
        pdt.assert_frame_equal(reader.read(convert_categoricals=False), reference.read(convert_categoricals=False))
        assert reader.data_label == "label" and reader.variable_labels() == reference.variable_labels()
        assert reader.value_labels() == reference.value_labels()


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_either_byte_order(tmp_path, byteorder):
    path = tmp_path / "pandas.dta"
    FRAME.to_stata(path, version=118, byteorder=byteorder, write_index=False)
    before = pd.read_stata(path)
    add_dta_notes(path, ["one", "two"])
    assert pyreadstat.read_dta(path)[1].notes == ["one", "two"]
    pdt.assert_frame_equal(pd.read_stata(path), before)


def test_the_score_files_writer_output_takes_notes(tmp_path):
    path = written(tmp_path)
    add_dta_notes(path, NOTES[:2])
    assert pyreadstat.read_dta(path)[1].notes == NOTES[:2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left behind"


def test_no_notes_leaves_the_file_as_it_was(tmp_path):
    path = written(tmp_path)
    before = path.read_bytes()
    add_dta_notes(path, [])
    assert path.read_bytes() == before and pyreadstat.read_dta(path)[1].notes == []


def test_a_file_with_characteristics_already_is_refused_unchanged(tmp_path):
    path = written(tmp_path)
    add_dta_notes(path, ["once"])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="already has characteristics"):
        add_dta_notes(path, ["twice"])
    assert path.read_bytes() == before


def test_not_a_modern_stata_file_is_refused(tmp_path):
    path = tmp_path / "text.dta"
    path.write_text("occ1,occ2\n1,2\n")
    with pytest.raises(ValueError, match="not a Stata"):
        add_dta_notes(path, ["x"])
