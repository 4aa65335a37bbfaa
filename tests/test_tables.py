"""The occ1 x occ2 table: against hand counts and pandas' crosstab, identical in every
format and chunk size, stored and reloaded, and refused when nothing valid is left."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.method.pairtable import DROP_REASONS, PairTable
from camsis.method.tables import tabulate, tabulate_frame
from helpers import write_data

UNITS = np.array([1111, 1112, 2211, 9269], dtype=np.int64)


def couples(n=300, seed=1):
    rng = np.random.default_rng(seed)
    pick = [1111, 1112, 2211, 9269, 9269, 5555, -9, -8]
    hocc = rng.choice(pick, size=n).astype(float)
    hocc[rng.random(n) < 0.03] = np.nan
    wt = np.round(rng.uniform(0.1, 4.0, size=n), 4)
    wt[rng.random(n) < 0.05] = 0.0
    return pd.DataFrame({"hocc": hocc, "wocc": rng.choice(pick, size=n).astype(float), "wt": wt})


def reference(df, weight):
    """The table by pandas' crosstab on the rows a reader would keep."""
    ok = df["hocc"].isin(UNITS) & df["wocc"].isin(UNITS)
    if weight:
        ok &= df[weight] > 0
    kept = df[ok]
    values = kept[weight] if weight else pd.Series(1.0, index=kept.index)
    full = pd.Index(UNITS)
    weighted = pd.crosstab(kept["hocc"], kept["wocc"], values=values, aggfunc="sum")
    counts = pd.crosstab(kept["hocc"], kept["wocc"])
    return (
        weighted.reindex(index=full, columns=full).fillna(0.0).to_numpy(),
        counts.reindex(index=full, columns=full).fillna(0).to_numpy(),
    )


def reference_squares(df, weight):
    """Each cell's sum of squared weights, couple by couple, by pandas' crosstab."""
    kept = df[df["hocc"].isin(UNITS) & df["wocc"].isin(UNITS) & (df[weight] > 0)]
    squares = pd.crosstab(kept["hocc"], kept["wocc"], values=kept[weight] ** 2, aggfunc="sum")
    return squares.reindex(index=pd.Index(UNITS), columns=pd.Index(UNITS)).fillna(0.0).to_numpy()


def test_hand_built_table_from_a_tiny_frame():
    df = pd.DataFrame(
        {
            "h": [1111, 1111, 1111, 2211, 9269, -9, 5555, 2211],
            "w": [2211, 2211, 1111, 1111, 9269, 1111, 1111, 1111],
            "wt": [1.5, 2.5, 1.0, 3.0, 0.5, 1.0, 1.0, 0.0],
        }
    )
    table = tabulate_frame(df, "h", "w", "wt", UNITS, source="tiny")
    expected_counts = np.zeros((4, 4), dtype=int)
    expected_weighted = np.zeros((4, 4))
    for (i, j), n, w in [((0, 2), 2, 4.0), ((0, 0), 1, 1.0), ((2, 0), 1, 3.0), ((3, 3), 1, 0.5)]:
        expected_counts[i, j], expected_weighted[i, j] = n, w
    np.testing.assert_array_equal(table.counts.to_numpy(), expected_counts)
    np.testing.assert_array_equal(table.weighted.to_numpy(), expected_weighted)
    assert table.read == 8 and table.used == 5
    assert table.dropped == {"filtered": 0, "survey_missing": 1, "not_in_classification": 1, "missing_weight": 0, "zero_weight": 1}
    assert table.source == "tiny"
    assert table.weighted.index.name == "occ1" and table.weighted.columns.name == "occ2"
    assert table.weighted.index.tolist() == UNITS.tolist() == table.counts.columns.tolist()
    assert table.weighted.to_numpy().dtype == np.float64


@pytest.mark.parametrize("weight", [None, "wt"])
def test_frame_against_crosstab(weight):
    df = couples()
    table = tabulate_frame(df, "hocc", "wocc", weight, UNITS)
    weighted, counts = reference(df, weight)
    np.testing.assert_allclose(table.weighted.to_numpy(), weighted, rtol=1e-12)
    np.testing.assert_array_equal(table.counts.to_numpy(), counts)
    assert sum(table.dropped.values()) == table.read - table.used
    assert set(table.dropped) == set(DROP_REASONS)
    if weight is None:
        np.testing.assert_array_equal(table.weighted.to_numpy(), table.counts.to_numpy())
        assert table.weights_squared is None  # every pair counts as one
    else:
        np.testing.assert_allclose(table.weights_squared.to_numpy(), reference_squares(df, weight), rtol=1e-12)


def test_frequency_weights_keep_their_meaning_split_in_halves():
    """A frequency weight is a number of identical couples: a row of weight 2k and two rows of weight k
    are one table, with no squared weights (each couple counts as one in the smoothing)."""
    df = couples().assign(wt=lambda d: 2.0 * np.ceil(d["wt"]))
    halves = pd.concat([df.assign(wt=df["wt"] / 2)] * 2, ignore_index=True)
    whole = tabulate_frame(df, "hocc", "wocc", "wt", UNITS, weight_type="frequency")
    split = tabulate_frame(halves, "hocc", "wocc", "wt", UNITS, weight_type="frequency")
    assert whole.weights_squared is None and split.weights_squared is None
    pd.testing.assert_frame_equal(whole.weighted, split.weighted)
    pd.testing.assert_frame_equal(whole.counts, split.counts)


@pytest.mark.parametrize("suffix", [".dta", ".sav", ".csv", ".parquet"])
@pytest.mark.parametrize("chunksize", [1, 7, 1000, 10**9])
def test_every_format_and_chunk_size_gives_the_same_table(tmp_path, suffix, chunksize):
    df = couples()
    path = write_data(df, tmp_path / f"couples{suffix}")
    table = tabulate(path, "hocc", "wocc", "wt", UNITS, chunksize=chunksize)
    weighted, counts = reference(df, "wt")
    np.testing.assert_allclose(table.weighted.to_numpy(), weighted, rtol=1e-12)
    np.testing.assert_array_equal(table.counts.to_numpy(), counts)
    np.testing.assert_allclose(table.weights_squared.to_numpy(), reference_squares(df, "wt"), rtol=1e-12)
    whole = tabulate_frame(df, "hocc", "wocc", "wt", UNITS)
    assert (table.read, table.used, table.dropped) == (whole.read, whole.used, whole.dropped)
    assert table.read == len(df) and table.source == str(path)


def test_same_variable_on_both_sides(tmp_path):
    path = write_data(pd.DataFrame({"occ": [1111, 2211, 2211]}), tmp_path / "one.parquet")
    table = tabulate(path, "occ", "occ", None, UNITS)
    assert table.counts.loc[2211, 2211] == 2 and table.counts.loc[1111, 1111] == 1


def test_unknown_codes_logged_most_frequent_first(caplog):
    df = pd.DataFrame({"h": [5555, 5555, 7777, 1111, 1111], "w": [1111, 1111, 1111, 4444, 1111]})
    with caplog.at_level(logging.WARNING, logger="camsis.method.tables"):
        tabulate_frame(df, "h", "w", None, UNITS, source="s.dta")
    message = caplog.records[-1].getMessage()
    assert "s.dta" in message and message.index("5555 (2)") < message.index("4444 (1)")


def test_text_codes_that_are_numbers_are_accepted(tmp_path):
    df = pd.DataFrame({"hocc": ["1111", "2211", "-9", ""], "wocc": ["2211", "9269", "1111", "1111"]})
    path = write_data(df, tmp_path / "text.dta")
    table = tabulate(path, "hocc", "wocc", None, UNITS)
    assert table.used == 2 and table.dropped["survey_missing"] == 2
    assert table.counts.loc[1111, 2211] == 1 and table.counts.loc[2211, 9269] == 1


def test_text_codes_that_are_not_numbers(tmp_path):
    df = pd.DataFrame({"hocc": ["1111", "Doctor"], "wocc": ["2211", "9269"]})
    path = write_data(df, tmp_path / "text.dta")
    with pytest.raises(CamsisError) as err:
        tabulate(path, "hocc", "wocc", None, UNITS)
    message = str(err.value)
    assert "'hocc'" in message and "text.dta" in message and "'Doctor'" in message and "\n" not in message


def test_negative_weight_in_a_file(tmp_path):
    df = couples(50)
    df.loc[10, "wt"] = -2.0
    path = write_data(df, tmp_path / "w.parquet")
    with pytest.raises(CamsisError, match=r"'wt' in .*w\.parquet.*negative"):
        tabulate(path, "hocc", "wocc", "wt", UNITS, chunksize=7)


def test_missing_weight_error_or_drop(tmp_path):
    df = pd.DataFrame({"hocc": [1111, 2211, 9269, -9], "wocc": [1111, 2211, 1112, 1111], "wt": [1.0, np.nan, 2.0, np.nan]})
    path = write_data(df, tmp_path / "w.sav")
    with pytest.raises(CamsisError, match=r"'wt' in .*w\.sav is missing for 1 pairs"):
        tabulate(path, "hocc", "wocc", "wt", UNITS)
    table = tabulate(path, "hocc", "wocc", "wt", UNITS, on_missing_weight="drop")
    assert table.dropped == {"filtered": 0, "survey_missing": 1, "not_in_classification": 0, "missing_weight": 1, "zero_weight": 0}
    assert table.weighted.loc[9269, 1112] == 2.0 and table.used == 2


def test_no_valid_pairs_left(tmp_path):
    df = pd.DataFrame({"hocc": [-9, 5555, 1111], "wocc": [1111, 1111, -8]})
    path = write_data(df, tmp_path / "none.csv")
    with pytest.raises(CamsisError) as err:
        tabulate(path, "hocc", "wocc", None, UNITS)
    message = str(err.value)
    assert message.startswith(f"no valid pairs left in {path} after dropping")
    assert "survey_missing 2" in message and "not_in_classification 1" in message


def test_missing_variable_in_a_frame():
    with pytest.raises(CamsisError, match="'wt' not in synthetic"):
        tabulate_frame(couples(5).drop(columns="wt"), "hocc", "wocc", "wt", UNITS, source="synthetic")


# ---- long form and storage ------------------------------------------------------------


def test_long_form_round_trip():
    table = tabulate_frame(couples(), "hocc", "wocc", "wt", UNITS)
    long = table.to_long()
    assert list(long.columns) == ["occ1", "occ2", "weighted", "counts", "weights_squared"]
    assert (long["counts"] > 0).all() and len(long) == int((table.counts.to_numpy() > 0).sum())
    back = PairTable.from_long(long, UNITS, table.read, table.dropped, table.source)
    pd.testing.assert_frame_equal(back.weighted, table.weighted)
    pd.testing.assert_frame_equal(back.counts, table.counts)
    pd.testing.assert_frame_equal(back.weights_squared, table.weights_squared)
    assert (back.read, back.used, back.dropped, back.source) == (table.read, table.used, table.dropped, table.source)


def test_cells_are_the_non_empty_cells_and_a_replicate_carries_the_observed_ones():
    from camsis.scaling.uncertainty import CoupleDraw, replicate_rng

    table = tabulate_frame(couples(), "hocc", "wocc", "wt", UNITS)
    rows, cols = table.cells().rows, table.cells().columns
    filled = (table.counts.to_numpy() != 0) | (table.weighted.to_numpy() != 0)
    assert filled[rows, cols].all() and len(rows) == filled.sum()
    assert (np.diff(rows * len(UNITS) + cols) > 0).all()  # row-major order
    drawn = CoupleDraw(table)(replicate_rng(3, 1))
    drawn_rows, drawn_cols = drawn.cells().rows, drawn.cells().columns
    np.testing.assert_array_equal(drawn_rows, rows)
    np.testing.assert_array_equal(drawn_cols, cols)
    outside = np.ones(filled.shape, dtype=bool)
    outside[rows, cols] = False
    assert not drawn.counts.to_numpy()[outside].any()  # a redraw fills no other cell


def test_save_and_load(tmp_path):
    table = tabulate_frame(couples(), "hocc", "wocc", "wt", UNITS, source="couples.dta")
    table.save(tmp_path / "t.parquet", tmp_path / "t.json")
    back = PairTable.load(tmp_path / "t.parquet", tmp_path / "t.json", UNITS)
    pd.testing.assert_frame_equal(back.weighted, table.weighted)
    pd.testing.assert_frame_equal(back.counts, table.counts)
    assert (back.read, back.used, back.dropped, back.source) == (table.read, table.used, table.dropped, table.source)
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["read"] - meta["used"] == sum(meta["dropped"].values())


def test_save_records_extra_bookkeeping_and_leaves_no_temporary_files(tmp_path):
    table = tabulate_frame(couples(), "hocc", "wocc", None, UNITS, source="a")
    table.save(tmp_path / "t.parquet", tmp_path / "t.json", input_sha256="abc123")
    assert json.loads((tmp_path / "t.json").read_text())["input_sha256"] == "abc123"
    assert PairTable.load(tmp_path / "t.parquet", tmp_path / "t.json", UNITS).used == table.used
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.parquet"]


def test_load_refuses_mismatched_files(tmp_path):
    table = tabulate_frame(couples(), "hocc", "wocc", None, UNITS, source="a")
    table.save(tmp_path / "t.parquet", tmp_path / "t.json")
    meta = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "t.json").write_text(json.dumps({**meta, "used": meta["used"] + 1}))
    with pytest.raises(CamsisError, match="t.parquet holds"):
        PairTable.load(tmp_path / "t.parquet", tmp_path / "t.json", UNITS)


def test_from_long_refuses_codes_outside_the_units():
    long = pd.DataFrame({"occ1": [1111, 4444], "occ2": [1111, 1111], "weighted": [1.0, 1.0], "counts": [1, 1]})
    with pytest.raises(CamsisError, match="4444"):
        PairTable.from_long(long, UNITS, 2, {}, "x")


def test_filter_keeps_rows_and_counts_the_rest(tmp_path):
    frame = pd.DataFrame(
        {"h": [1111, 1112, 2211, 9269, -9, 1111], "w": [1112, 2211, 2211, 1111, 1111, 7], "wave": [1, 2, 3, 3, 3, np.nan]}
    )
    path = tmp_path / "couples.csv"
    frame.to_csv(path, index=False)
    table = tabulate(path, "h", "w", None, UNITS, where="wave >= 2")
    # rows 0 (wave 1) and 5 (wave missing) are filtered before any other reason is checked
    assert table.dropped["filtered"] == 2 and table.dropped["survey_missing"] == 1
    assert table.used == 3 and table.read == 6
    assert table.counts.loc[1112, 2211] == 1 and table.counts.loc[1111, 1112] == 0
    with pytest.raises(CamsisError, match="'age' not in"):
        tabulate(path, "h", "w", None, UNITS, where="age < 65")
    with pytest.raises(CamsisError, match="not a valid expression"):
        tabulate(path, "h", "w", None, UNITS, where="wave >=")
    with pytest.raises(CamsisError, match="true or false"):
        tabulate(path, "h", "w", None, UNITS, where="wave + 1")


def collapse(df, where=None):
    """The couples of `df` as a table of cells with a count column n (groupby, missing codes kept)."""
    return df.fillna({"hocc": -99.0}).groupby(["hocc", "wocc"], dropna=False).size().rename("n").reset_index().replace({"hocc": {-99.0: np.nan}})


@pytest.mark.parametrize("suffix", [".csv", ".dta", ".parquet"])
def test_frequency_weights_give_the_table_of_the_couples_one_row_each(tmp_path, suffix):
    rows = couples(n=500, seed=4)[["hocc", "wocc"]]
    cells = collapse(rows)
    assert len(cells) < len(rows) / 4 and cells["n"].max() > 10
    by_row = tabulate_frame(rows, "hocc", "wocc", None, UNITS)
    by_cell = tabulate(write_data(cells, tmp_path / f"cells{suffix}"), "hocc", "wocc", "n", UNITS, chunksize=7, weight_type="frequency")
    pd.testing.assert_frame_equal(by_row.counts, by_cell.counts)
    pd.testing.assert_frame_equal(by_row.weighted, by_cell.weighted)
    assert (by_row.read, by_row.used, by_row.dropped) == (by_cell.read, by_cell.used, by_cell.dropped)
    assert by_cell.read == 500 and by_cell.dropped["survey_missing"] > 0
    # read as survey weights the same file counts cells, not couples: what the option fixes
    surveyed = tabulate(tmp_path / f"cells{suffix}", "hocc", "wocc", "n", UNITS)
    assert surveyed.read == len(cells) and surveyed.used < by_row.used


def test_frequency_weights_count_filtered_and_zero_rows_as_couples():
    cells = pd.DataFrame({"hocc": [1111, 1111, 2211, 9269], "wocc": [1111, 2211, 2211, 1111], "n": [3, 0, 5, 2], "wave": [1, 1, 2, 1]})
    table = tabulate_frame(cells, "hocc", "wocc", "n", UNITS, where="wave == 1", weight_type="frequency")
    assert table.read == 10 and table.dropped["filtered"] == 5 and table.dropped["zero_weight"] == 0 and table.used == 5


@pytest.mark.parametrize("value, words", [(1.5, ["not whole numbers", "e.g. 1.5"]), (-2.0, ["negative"]), (np.nan, ["missing"])])
def test_bad_frequency_weight_is_one_line_naming_file_and_variable(value, words):
    cells = pd.DataFrame({"hocc": [1111, 2211, 9269], "wocc": [1111, 2211, 5555], "n": [3.0, value, 2.0]})
    with pytest.raises(CamsisError) as error:
        tabulate_frame(cells, "hocc", "wocc", "n", UNITS, source="cells.csv", weight_type="frequency")
    message = str(error.value)
    assert "\n" not in message and "cells.csv" in message and "'n'" in message
    assert all(word in message for word in words)
