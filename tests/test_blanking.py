"""Blanking against cells listed by hand; the published pseudo-diagonal files read as-is."""

import numpy as np
import pandas as pd
import pytest

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.method.blanking import (
    PSD_COLUMNS,
    blank_cells,
    check_psd_coverage,
    diagonal_cells,
    diagonal_rule_warnings,
    psd_cells,
    read_psd_file,
    summarise_blanking,
    uncovered_psd_rows,
)
from helpers import REPO

PSDS = REPO / "tests" / "data" / "psds"


def cells(mask: np.ndarray, rows, cols) -> set[tuple[int, int]]:
    """The (occ1, occ2) pairs a mask marks, to compare with a hand-written list."""
    return {(int(rows[i]), int(cols[j])) for i, j in zip(*np.nonzero(mask))}


@pytest.fixture(scope="module")
def soc():
    return load_classification("soc2020", REPO / "data" / "classifications")


# --- diagonal rule ---

def test_diagonal_same_unit():
    rows, cols = [11, 12, 21], [11, 12, 22]
    assert cells(diagonal_cells(rows, cols, 0), rows, cols) == {(11, 11), (12, 12)}


def test_diagonal_ignoring_one_digit():
    rows, cols = [11, 12, 21, 35], [11, 12, 22, 29, 30]
    expected = {(11, 11), (11, 12), (12, 11), (12, 12), (21, 22), (21, 29), (35, 30)}
    assert cells(diagonal_cells(rows, cols, 1), rows, cols) == expected


def test_diagonal_restricted_to_groups_by_prefix():
    codes = [1111, 1112, 1121, 2111, 3111, 3112]
    assert cells(diagonal_cells(codes, codes, 0, groups=[1, 2]), codes, codes) == {
        (1111, 1111), (1112, 1112), (1121, 1121), (2111, 2111)}
    assert cells(diagonal_cells(codes, codes, 1, groups=[1]), codes, codes) == {
        (1111, 1111), (1111, 1112), (1112, 1111), (1112, 1112), (1121, 1121)}
    assert cells(diagonal_cells(codes, codes, 1, groups=[11]), codes, codes) == {
        (1111, 1111), (1111, 1112), (1112, 1111), (1112, 1112), (1121, 1121)}
    assert not diagonal_cells(codes, codes, 0, groups=[]).any()


def test_diagonal_groups_by_ancestry(tmp_path):
    # 18 belongs to group 2 although its digits start with 1: ancestry decides, not digits
    (tmp_path / "toy.tsv").write_text(
        "code\tlevel\tparent\ttitle\tlabel\n1\t1\t\tA\tA\n2\t1\t\tB\tB\n"
        "15\t2\t1\ta\ta\n18\t2\t2\tb\tb\n27\t2\t1\tc\tc\n"
    )
    (tmp_path / "toy.yaml").write_text("variable: occ\nlabel: toy\nvalue_label_name: occl\n")
    toy = load_classification("toy", tmp_path)
    codes = [15, 18, 27]
    everywhere = {(15, 15), (15, 18), (18, 15), (18, 18), (27, 27)}
    assert cells(diagonal_cells(codes, codes, 1), codes, codes) == everywhere
    by_prefix = {(15, 15), (15, 18), (18, 15), (18, 18)}
    assert cells(diagonal_cells(codes, codes, 1, groups=[1]), codes, codes) == by_prefix
    assert cells(diagonal_cells(codes, codes, 1, groups=[1], classification=toy), codes, codes) == {(15, 15), (27, 27)}
    assert cells(diagonal_cells(codes, codes, 1, groups=[1, 2], classification=toy), codes, codes) == {
        (15, 15), (18, 18), (27, 27)}
    assert cells(diagonal_cells(codes, codes, 2, groups=[1], classification=toy), codes, codes) == {
        (15, 15), (15, 27), (27, 15), (27, 27)}


def test_soc2020_diagonals_in_major_groups_1_and_2(soc):
    units = soc.units
    mask = diagonal_cells(units, units, 0, groups=[1, 2], classification=soc)
    # independent: the identity on units below 3000 (42 managers + 97 professionals)
    assert np.array_equal(mask, np.diag(units < 3000))
    assert mask.sum() == 42 + 97


@pytest.mark.parametrize("digits", [-1, 1.5, "1", True])
def test_diagonal_digits_must_be_whole_and_non_negative(digits):
    with pytest.raises(CamsisError, match="diagonal_digits must be a whole number"):
        diagonal_cells([1], [1], digits)


def test_diagonal_group_must_be_a_code(soc):
    with pytest.raises(CamsisError, match="diagonal group 10 is not a code of classification soc2020"):
        diagonal_cells(soc.units, soc.units, 0, groups=[1, 10], classification=soc)


# --- pseudo-diagonal rectangles ---

def test_psd_cells_overlapping_rows():
    rows, cols = [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]
    psds = pd.DataFrame({"lower_1": [1, 2, 5], "upper_1": [2, 3, 5], "lower_2": [1, 2, 1], "upper_2": [2, 3, 1]})
    expected = {(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (3, 3), (5, 1)}
    assert cells(psd_cells(rows, cols, psds), rows, cols) == expected
    assert not psd_cells(rows, cols, None).any()
    assert not psd_cells(rows, cols, psds.iloc[:0]).any()


def test_blank_cells_union_and_shape():
    rows, cols = [11, 12, 21], [11, 12, 21, 22]
    psds = pd.DataFrame({"lower_1": [11], "upper_1": [11], "lower_2": [11], "upper_2": [12]})
    mask = blank_cells(rows, cols, diagonal_digits=0, psds=psds)
    assert mask.index.name == "occ1" and mask.columns.name == "occ2"
    assert list(mask.index) == rows and list(mask.columns) == cols
    assert mask.dtypes.eq(bool).all()
    assert cells(mask.to_numpy(), rows, cols) == {(11, 11), (11, 12), (12, 12), (21, 21)}
    only_groups = blank_cells(rows, cols, diagonal_digits=1, diagonal_groups=[2])
    assert cells(only_groups.to_numpy(), rows, cols) == {(21, 21), (21, 22)}
    assert not blank_cells(rows, cols).to_numpy().any()
    with pytest.raises(CamsisError, match="diagonal_digits is empty"):
        blank_cells(rows, cols, diagonal_groups=[1])


def test_summarise_blanking():
    index, columns = pd.Index([1, 2], name="occ1"), pd.Index([1, 2], name="occ2")
    mask = pd.DataFrame([[True, False], [True, True]], index=index, columns=columns)
    counts = pd.DataFrame([[3, 5], [0, 2]], index=index, columns=columns)
    weighted = pd.DataFrame([[2.5, 6.0], [0.0, 1.5]], index=index, columns=columns)
    summary = summarise_blanking(mask, weighted, counts)
    assert summary == {
        "cells_blanked": 3,
        "cells_blanked_with_pairs": 2,
        "pairs_blanked": 5,
        "pairs_blanked_weighted": 4.0,
        "share_blanked_weighted": 0.4,
    }
    assert all(type(value) in (int, float) for value in summary.values())


# --- the published example files, read as they are (CRLF, placeholder rows, no final newline) ---

def test_mexico_2010():
    psds = read_psd_file(PSDS / "camsis_psds_mx2010_2.txt")
    assert list(psds.columns) == ["lower_1", "upper_1", "lower_2", "upper_2"]
    assert psds.dtypes.eq(np.int64).all()
    assert len(psds) == 19  # 20 data lines less the -999 placeholder
    assert psds.iloc[0].tolist() == [1113, 1113, 1121, 1121]
    assert psds.iloc[-1].tolist() == [2172, 2173, 2172, 2173]  # last line has no newline
    rows = [1113, 1121, 2411, 2412, 2426, 6101, 6115, 6131, 9112, 2173]
    marked = cells(psd_cells(rows, rows, psds), rows, rows)
    for cell in [(1113, 1121), (6101, 6131), (6115, 9112), (9112, 6115), (2412, 2426), (2173, 2173)]:
        assert cell in marked
    for cell in [(1121, 1113), (2426, 2412), (6101, 9112), (9112, 6101), (2411, 2411)]:
        assert cell not in marked


def test_ghana_2000():
    psds = read_psd_file(PSDS / "camsis_psds_gh2000_3.txt")
    assert len(psds) == 15
    rows = [1, 13, 54, 60, 61, 62, 63, 64, 99]
    marked = cells(psd_cells(rows, rows, psds), rows, rows)
    for cell in [(60, 62), (62, 60), (61, 64), (13, 54), (13, 99), (61, 13), (1, 61)]:
        assert cell in marked
    for cell in [(54, 13), (99, 13), (60, 63), (63, 63), (64, 64)]:
        assert cell not in marked


def test_france_2006_placeholder_last():
    psds = read_psd_file(PSDS / "fr06_hw_pcs4_psds.txt")
    assert psds.values.tolist() == [
        [1110, 1315, 1110, 1315], [1110, 1315, 6910, 6915], [6910, 6915, 1110, 1315], [6910, 6915, 6910, 6915]]
    rows = [1100, 1110, 1315, 1316, 6910, 6916]
    marked = cells(psd_cells(rows, rows, psds), rows, rows)
    assert marked == {(a, b) for a in (1110, 1315, 6910) for b in (1110, 1315, 6910)}


def test_line_endings_do_not_matter(tmp_path):
    text = (PSDS / "fr06_hw_pcs4_psds.txt").read_bytes().decode()
    lf = tmp_path / "lf.txt"
    lf.write_text(text.replace("\r\n", "\n") + "\n\n")
    spaced = tmp_path / "spaced.txt"
    spaced.write_text(text.replace("\t", "\t ").replace("\r\n", " \r\n"))
    reference = read_psd_file(PSDS / "fr06_hw_pcs4_psds.txt")
    pd.testing.assert_frame_equal(read_psd_file(lf), reference)
    pd.testing.assert_frame_equal(read_psd_file(spaced), reference)


def test_placeholder_only_file_marks_nothing(tmp_path):
    path = tmp_path / "none.txt"
    path.write_text("lower_1\tupper_1\tlower_2\tupper_2\r\n-999\t-999\t-999\t-999")
    psds = read_psd_file(path)
    assert psds.empty and list(psds.columns) == ["lower_1", "upper_1", "lower_2", "upper_2"]
    assert psds.dtypes.eq(np.int64).all()
    assert not blank_cells([1, 2], [1, 2], psds=psds).to_numpy().any()


@pytest.mark.parametrize(
    "text, message",
    [
        ("lower_1\tupper_1\tlower_2\n1\t2\t3\n", r"bad.txt: line 1: expected the header lower_1 upper_1 lower_2 upper_2, found lower_1 upper_1 lower_2$"),
        ("", r"bad.txt: line 1: expected the header .*, found an empty file"),
        ("lower_1\tupper_1\tlower_2\tupper_2\n1\t2\t3\t4\n1\tx\t3\t4\n", r"bad.txt: line 3: upper_1 'x' is not an integer code"),
        ("lower_1\tupper_1\tlower_2\tupper_2\n1\t2\t3\t4.5\n", r"bad.txt: line 2: upper_2 '4.5' is not an integer code"),
        ("lower_1\tupper_1\tlower_2\tupper_2\n5\t2\t3\t4\n", r"bad.txt: line 2: lower_1 5 is above upper_1 2"),
        ("lower_1\tupper_1\tlower_2\tupper_2\r\n1\t2\t9\t4\r\n", r"bad.txt: line 2: lower_2 9 is above upper_2 4"),
        ("lower_1\tupper_1\tlower_2\tupper_2\n1\t2\t3\n", r"bad.txt: line 2: expected 4 bounds, found 3: 1 2 3"),
    ],
)
def test_bad_psd_files(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(CamsisError, match=message) as info:
        read_psd_file(path)
    assert "\n" not in str(info.value)


def test_missing_psd_file(tmp_path):
    with pytest.raises(CamsisError, match=r"pseudo-diagonal file .*nope.txt does not exist"):
        read_psd_file(tmp_path / "nope.txt")


# --- the SOC2020 file shipped in data/psds ---

@pytest.fixture(scope="module")
def gb():
    return read_psd_file(REPO / "data" / "psds" / "gb_soc2020.tsv")


def test_gb_soc2020_uses_only_unit_codes(gb, soc):
    bounds = np.unique(gb.to_numpy())
    assert np.isin(bounds, soc.units).all(), bounds[~np.isin(bounds, soc.units)]


def test_gb_soc2020_blocks(gb, soc):
    units = soc.units
    mask = blank_cells(units, units, diagonal_digits=0, diagonal_groups=[1, 2], psds=gb, classification=soc)
    # husbands in major group 1 with wives in major group 4: 42 x 27 units, one direction only
    majors = soc.unit_parents(1)
    h1w4 = mask.loc[majors.index[majors == 1], majors.index[majors == 4]]
    assert h1w4.shape == (42, 27) and h1w4.to_numpy().all()
    assert not mask.loc[4111, 1111] and not mask.loc[4217, 1259]
    blanked = [
        (1111, 1111), (2211, 2211), (1211, 5111), (5111, 9111), (9111, 1211), (5111, 5111),
        (2211, 2231), (2235, 2212), (6131, 2237), (2253, 6133), (6133, 2253),
        (1222, 5434), (5434, 9264), (9266, 1223), (9261, 9265),
        (2492, 2491), (3412, 2492), (3417, 2491), (1162, 3312), (6311, 1162),
        (1255, 3415), (3413, 3411), (6250, 9223), (9223, 6231), (6240, 6232),
    ]
    kept = [
        (3111, 3111), (5112, 5111), (4111, 4111), (9262, 5434), (5434, 9262), (2221, 2231),
        (2493, 2491), (3311, 3312), (3421, 3411), (9222, 6231), (2253, 6131), (2212, 2111),
    ]
    assert all(mask.loc[a, b] for a, b in blanked), [c for c in blanked if not mask.loc[c]]
    assert not any(mask.loc[a, b] for a, b in kept), [c for c in kept if mask.loc[c]]
    # every block is symmetric except the one-directional H1 x W4 block
    block_only = psd_cells(units, units, gb.iloc[1:])
    assert np.array_equal(block_only, block_only.T)


def test_diagonal_digits_beyond_the_code_width_is_refused():
    units = [1111, 1112, 2111, 9249]
    assert diagonal_cells(units, units, 3).sum() == 2 * 2 + 1 + 1  # first digit: 1111 and 1112 together
    with pytest.raises(CamsisError, match="diagonal_digits 4 ignores every digit of the 4-digit codes.*0 .* to 3"):
        diagonal_cells(units, units, 4)
    assert diagonal_rule_warnings(units, units, 3, [1, 2]) == []
    warning, = diagonal_rule_warnings(units, units, 9, [1, 2])
    assert "diagonal_digits 9 is at least the code width (4 digits)" in warning and "groups 1, 2" in warning


def test_psd_rows_that_cover_no_code_are_named_and_a_file_that_covers_none_is_refused():
    units = [1111, 1112, 2111, 2112]
    psds = pd.DataFrame([[1111, 1112, 2111, 2111], [11110, 11120, 21110, 21120], [1111, 1111, 3000, 3999]],
                        columns=PSD_COLUMNS)
    assert uncovered_psd_rows(psds, units, units) == [1, 2]
    warnings = check_psd_coverage(psds, units, units, "p.tsv")
    assert len(warnings) == 1
    assert "p.tsv: 2 of 3 rows cover no code" in warnings[0] and "11110 11120 21110 21120" in warnings[0]
    assert check_psd_coverage(psds.iloc[:1], units, units, "p.tsv") == []
    with pytest.raises(CamsisError, match="p.tsv: none of its 2 rows covers a code of the classification"):
        check_psd_coverage(psds.iloc[1:], units, units, "p.tsv")
