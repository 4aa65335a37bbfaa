import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from camsis.io.writing import atomic_path, score_file_labels, write_dta, write_json


def test_dta_round_trip_keeps_labels_and_types(tmp_path, soc2020):
    frame = pd.DataFrame(
        {
            "soc2020": np.array([1, 1111, 9269], dtype="int64"),
            "mcamsis": [50.5, 61.25, 30.0],
            "mcam_se": [np.nan, 1.5, 2.0],
            "n_m": np.array([10, 4, 0], dtype="int64"),
            "ns_sec": pd.array([pd.NA, 1, 7], dtype="Int64"),
        }
    )
    labels = score_file_labels(soc2020, frame.columns)
    value_labels = {"soc2020": soc2020.value_labels(), "ns_sec": soc2020.link_value_labels["ns_sec"]}
    path = tmp_path / "scores.dta"
    write_dta(frame, path, labels, value_labels, "CAMSIS test [camsis 0.1.0]")
    back, meta = pyreadstat.read_dta(path)
    assert meta.file_label == "CAMSIS test [camsis 0.1.0]"
    assert meta.column_names_to_labels["soc2020"] == "Standard Occupational Classification 2020 (UK)"
    assert meta.column_names_to_labels["mcamsis"] == "CAMSIS for SOC2020 for males"
    assert meta.variable_value_labels["soc2020"][1111] == soc2020.frame.loc[1111, "label"]
    assert meta.variable_value_labels["ns_sec"][7].startswith("7. Routine")
    # stored as the published v2 stores them: codes int16, small counts and categories int8
    assert meta.readstat_variable_types["soc2020"] == "int16"
    assert meta.readstat_variable_types["n_m"] == meta.readstat_variable_types["ns_sec"] == "int8"
    assert back["mcamsis"].tolist() == [50.5, 61.25, 30.0]
    assert np.isnan(back.loc[0, "mcam_se"]) and np.isnan(back.loc[0, "ns_sec"])
    assert list(back.columns) == list(frame.columns)


def test_label_sets_are_named_as_the_published_file_names_them(tmp_path, soc2020, repo):
    """gb_soc2020_v1.dta (published) names its sets soc2020a, ns_secl, ns_sec_opl; pyreadstat alone would not."""
    _, published = pyreadstat.read_dta(repo / "tests/data/gb_soc2020_v1.dta", metadataonly=True)
    frame = pd.DataFrame({"soc2020": np.array([1111, 9269], dtype="int64"), "mcamsis": [50.5, 30.0],
                          "ns_sec": pd.array([1, 7], dtype="Int64"), "ns_sec_op": pd.array([2, 13], dtype="Int64")})
    value_labels = {"soc2020": soc2020.value_labels()} | soc2020.link_value_labels
    path = tmp_path / "scores.dta"
    write_dta(frame, path, {}, value_labels, "test", notes=["a note"], label_set_names=soc2020.label_set_names())
    back, meta = pyreadstat.read_dta(path)
    assert meta.variable_to_label == published.variable_to_label == {
        "soc2020": "soc2020a", "ns_sec": "ns_secl", "ns_sec_op": "ns_sec_opl"}
    assert meta.variable_value_labels["ns_sec_op"][13] == soc2020.link_value_labels["ns_sec_op"][13]
    assert meta.variable_value_labels["soc2020"][9269] == soc2020.frame.loc[9269, "label"]
    assert meta.notes == ["a note"] and back["mcamsis"].tolist() == [50.5, 30.0]


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_json({"a": np.int64(3), "b": np.float64(0.5)}, target)
    assert json.loads(target.read_text()) == {"a": 3, "b": 0.5}


def test_json_is_strict(tmp_path):
    target = tmp_path / "summary.json"
    write_json({"r": float("nan"), "nested": {"x": [np.float64("inf"), 1.5]}}, target)
    text = target.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"r": None, "nested": {"x": [None, 1.5]}}


def dta_release(path) -> int:
    """The format number in a .dta's header: 117 is read by Stata 13+, 118 by 14+, 119 by 15+."""
    head = path.read_bytes()[:60]
    assert head.startswith(b"<stata_dta><header><release>")
    return int(head[28:31])


def test_dta_is_stata13_format_unless_text_needs_unicode(tmp_path):
    frame = pd.DataFrame({"code": [1, 2], "score": [50.0, 60.0]})
    ascii_file, unicode_file = tmp_path / "ascii.dta", tmp_path / "unicode.dta"
    write_dta(frame, ascii_file, {"code": "Code"}, {"code": {1: "One", 2: "Two"}}, "label", notes=["a note"])
    assert dta_release(ascii_file) == 117
    for labels, values, notes in [({"code": "Côde"}, {}, []), ({}, {"code": {1: "Ünit"}}, []), ({}, {}, ["café"])]:
        write_dta(frame, unicode_file, labels, values, "label", notes=notes)
        assert dta_release(unicode_file) == 118
    texts = frame.assign(name=["a", "é"])
    write_dta(texts, unicode_file, {}, {}, "label")
    assert dta_release(unicode_file) == 118
    back, meta = pyreadstat.read_dta(unicode_file)
    assert back["name"].tolist() == ["a", "é"]


def test_long_labels_are_cut_once_with_a_warning_in_the_notes(tmp_path, caplog):
    title = "A classification whose title runs well past the eighty characters a Stata variable label holds"
    frame = pd.DataFrame({"code": np.array([1, 2], dtype="int64"), "x": [1.5, 2.5]})
    path = tmp_path / "long.dta"
    long_value = "é" * 16001  # 32002 bytes in UTF-8: two more than Stata reads
    with caplog.at_level("WARNING", logger="camsis.io.writing"):
        warnings = write_dta(frame, path, {"code": title, "x": "short"}, {"code": {1: long_value, 2: "two"}},
                             "f" * 100, notes=["first note"])
    assert len(warnings) == 1
    assert "variable label of code (94 characters)" in warnings[0]
    assert "value label 1 of code (32002 bytes)" in warnings[0] and "dataset label (100 characters)" in warnings[0]
    assert any("too long" in r.getMessage() for r in caplog.records)
    back, meta = pyreadstat.read_dta(path)
    assert meta.column_names_to_labels["code"] == title[:80] and meta.column_names_to_labels["x"] == "short"
    assert meta.file_label == "f" * 80
    assert meta.variable_value_labels["code"][1] == "é" * 16000 and meta.variable_value_labels["code"][2] == "two"
    notes = meta.notes
    assert notes[0] == "first note" and notes[1] == f"warning: {warnings[0]}"


def test_labels_within_the_limits_are_written_whole_without_a_warning(tmp_path):
    frame = pd.DataFrame({"code": np.array([1], dtype="int64")})
    label = "x" * 80
    assert write_dta(frame, tmp_path / "ok.dta", {"code": label}, {}, "y" * 80) == []
    assert pyreadstat.read_dta(tmp_path / "ok.dta")[1].column_names_to_labels["code"] == label


def test_integer_columns_take_the_smallest_stata_type_with_missing_kept(tmp_path, repo):
    """Types and values against the published v2 file's own storage, read back by pyreadstat
    and, where R is installed, by haven (an independent reader of the rewritten <data>)."""
    import shutil
    import subprocess

    frame = pd.DataFrame({"code": [1111, 9269, 1], "status": [0, 3, 1], "small": pd.array([-127, pd.NA, 100], "Int64"),
                          "wide": pd.array([5, pd.NA, 70000], "Int64"), "name": ["a", "bb", "c"], "x": [0.5, np.nan, 2]})
    path = tmp_path / "t.dta"
    write_dta(frame, path, {"code": "Code"}, {"code": {1111: "Chefs \u2013 caf\u00e9"}}, "t", notes=["n\u00e9"],
              label_set_names={"code": "codea"})
    back, meta = pyreadstat.read_dta(path)
    _, published = pyreadstat.read_dta(str(repo / "tests" / "data" / "gb_soc2020_v2.dta"), metadataonly=True)
    types = meta.readstat_variable_types
    assert (types["code"], types["status"]) == (published.readstat_variable_types["soc2020"],
                                                published.readstat_variable_types["empst3"]) == ("int16", "int8")
    assert types["small"] == "int8" and types["wide"] == "int32" and types["x"] == "double"
    pd.testing.assert_frame_equal(back.astype({"code": int, "status": int}), frame.astype({"small": float, "wide": float}),
                                  check_dtype=False)
    assert meta.notes == ["n\u00e9"] and meta.variable_to_label == {"code": "codea"}
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed: the haven read-back is skipped")
    script = f"d <- haven::read_dta('{path}'); write.csv(as.data.frame(lapply(d, as.vector)), stdout(), row.names = FALSE)"
    done = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if done.returncode and "haven" in done.stderr:
        pytest.skip("the R package haven is not installed")
    import io

    from_r = pd.read_csv(io.StringIO(done.stdout))
    pd.testing.assert_frame_equal(from_r, back.astype({"code": "int64", "status": "int64"}), check_dtype=False)
