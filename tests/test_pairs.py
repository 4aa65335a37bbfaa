"""Pairs: numeric conversion and the drop reasons, checked on frames worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.method import pairs
from camsis.method.pairs import REASONS, clean_pairs, to_codes

UNITS = np.array([1111, 1112, 2211, 9269], dtype=np.int64)


# ---- to_codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([1111, 2211, -9], dtype="int16"),
        pd.Series([1111.0, 2211.0, -9.0]),
        pd.Series([1111, 2211, -9], dtype="Int64"),
    ],
)
def test_numeric_codes_pass(values):
    np.testing.assert_array_equal(to_codes(values, "hocc", "f.dta"), [1111.0, 2211.0, -9.0])


def test_nullable_missing_becomes_nan():
    got = to_codes(pd.Series([1111, None], dtype="Int64"), "hocc", "f.dta")
    assert got[0] == 1111 and np.isnan(got[1])


@pytest.mark.parametrize("dtype", [object, "str"])
def test_text_that_holds_numbers_converts(dtype):
    values = pd.Series(["1111", " 2211 ", "-9", "", ".", None, "9269.0"], dtype=dtype)
    got = to_codes(values, "hocc", "f.csv")
    np.testing.assert_array_equal(got, [1111, 2211, -9, np.nan, np.nan, np.nan, 9269])


def test_text_that_is_not_a_number_names_variable_file_and_value():
    values = pd.Series(["1111", "Chief executives", "2211"])
    with pytest.raises(CamsisError) as err:
        to_codes(values, "hocc", "survey.dta")
    message = str(err.value)
    assert "'hocc'" in message and "survey.dta" in message and "'Chief executives'" in message
    assert "\n" not in message


def test_labelled_categories_are_refused():
    values = pd.Series(pd.Categorical(["Doctors", "Nurses"]))
    with pytest.raises(CamsisError, match="'Doctors'"):
        to_codes(values, "wocc", "s.parquet")


# ---- clean_pairs ----------------------------------------------------------------------


def frame():
    """One row per case, with the reason each is dropped for (or None: kept)."""
    rows = [
        # hocc,   wocc,   wt,    reason
        (1111, 2211, 2.0, None),
        (9269, 1111, 0.5, None),
        (1112, 1112, 1.0, None),
        (-9, 2211, 1.0, "survey_missing"),
        (1111, -8, 0.0, "survey_missing"),  # missing first, though its weight is zero
        (np.nan, 1111, np.nan, "survey_missing"),
        (-1, 5555, 1.0, "survey_missing"),  # missing first, though 5555 is unknown too
        (5555, 1111, 1.0, "not_in_classification"),
        (1111, 1111.5, 1.0, "not_in_classification"),
        (0, 9269, np.nan, "not_in_classification"),  # unknown first, though weight missing
        (2211, 2211, np.nan, "missing_weight"),
        (2211, 9269, 0.0, "zero_weight"),
    ]
    return pd.DataFrame(rows, columns=["hocc", "wocc", "wt", "reason"])


def test_each_pair_dropped_for_exactly_one_reason_in_order():
    df = frame()
    got = clean_pairs(df, "hocc", "wocc", "wt", UNITS, "f.dta", on_missing_weight="drop")
    expected = df["reason"].value_counts().to_dict()
    assert got.dropped == {r: expected.get(r, 0) for r in REASONS}
    assert sum(got.dropped.values()) + len(got.occ1) == len(df)


def test_kept_pairs_become_unit_positions_with_their_weights():
    got = clean_pairs(frame(), "hocc", "wocc", "wt", UNITS, "f.dta", on_missing_weight="drop")
    # positions in UNITS = [1111, 1112, 2211, 9269]
    assert got.occ1.tolist() == [0, 3, 1] and got.occ2.tolist() == [2, 0, 1]
    assert got.weight.tolist() == [2.0, 0.5, 1.0]
    assert got.occ1.dtype == np.int64 and got.weight.dtype == np.float64


def test_unweighted_pairs_weigh_one():
    df = frame()
    got = clean_pairs(df, "hocc", "wocc", None, UNITS, "f.dta")
    assert got.dropped == {"survey_missing": 4, "not_in_classification": 3, "missing_weight": 0, "zero_weight": 0}
    assert got.weight.tolist() == [1.0] * 5


def test_unknown_codes_are_counted():
    got = clean_pairs(frame(), "hocc", "wocc", None, UNITS, "f.dta")
    assert got.unknown_codes == {0.0: 1, 1111.5: 1, 5555.0: 1}


def test_binary_search_for_huge_codes_agrees_with_lookup():
    """Codes beyond the lookup range take the binary search; the result must not change."""
    df = frame()
    shift = pairs.LOOKUP_MAX_CODE
    big = df.assign(hocc=df["hocc"].where(df["hocc"] < 0, df["hocc"] + shift))
    big = big.assign(wocc=df["wocc"].where(df["wocc"] < 0, df["wocc"] + shift))
    small = clean_pairs(df, "hocc", "wocc", "wt", UNITS, "f.dta", on_missing_weight="drop")
    large = clean_pairs(big, "hocc", "wocc", "wt", UNITS + shift, "f.dta", on_missing_weight="drop")
    assert large.dropped == small.dropped
    assert large.occ1.tolist() == small.occ1.tolist() and large.occ2.tolist() == small.occ2.tolist()


def test_missing_weight_is_an_error_by_default():
    df = frame()
    with pytest.raises(CamsisError) as err:
        clean_pairs(df, "hocc", "wocc", "wt", UNITS, "survey.dta")
    message = str(err.value)
    # only the one pair with valid codes counts: the others are dropped for their codes
    assert "'wt'" in message and "survey.dta" in message and "missing for 1 pairs" in message
    assert "drop" in message


@pytest.mark.parametrize("bad", [-1.0, np.inf])
def test_negative_or_infinite_weight_always_refused(bad):
    df = frame()
    df.loc[3, "wt"] = bad  # even on a pair dropped for its codes
    for mode in ("error", "drop"):
        with pytest.raises(CamsisError) as err:
            clean_pairs(df, "hocc", "wocc", "wt", UNITS, "survey.sav", on_missing_weight=mode)
        assert "'wt'" in str(err.value) and "survey.sav" in str(err.value)


def test_text_weight_that_is_not_a_number():
    df = frame().astype({"wt": object})
    df.loc[0, "wt"] = "heavy"
    with pytest.raises(CamsisError, match="'wt'.*'heavy'"):
        clean_pairs(df, "hocc", "wocc", "wt", UNITS, "f.csv", on_missing_weight="drop")


def test_missing_variable_in_chunk():
    with pytest.raises(CamsisError, match="'partner_occ' not in f.dta"):
        clean_pairs(frame(), "hocc", "partner_occ", None, UNITS, "f.dta")


def test_unknown_missing_weight_mode():
    with pytest.raises(CamsisError, match="on_missing_weight"):
        clean_pairs(frame(), "hocc", "wocc", "wt", UNITS, "f.dta", on_missing_weight="ignore")


def test_filter_with_backtick_quoted_names_reads_them_as_pandas_does():
    from camsis.method.pairs import filter_rows, filter_variables

    expression = "`hh age` < 65 and `hocc` > 0 and wave >= 2"
    assert filter_variables(expression, "sheet") == ["hh age", "hocc", "wave"]
    chunk = pd.DataFrame({"hocc": [1, 0, 3], "hh age": [30, 30, 70], "wave": [2, 2, 2]})
    assert filter_rows(chunk, expression, "data.csv").tolist() == [True, False, False]
    with pytest.raises(CamsisError, match="filter '`hh age < 65' is not a valid expression"):
        filter_variables("`hh age < 65", "sheet")
