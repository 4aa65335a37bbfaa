"""Sparse-unit merging on small hierarchies worked by hand."""


import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsis.errors import CamsisError
from camsis.method.merging import apply_merge, apply_recodes, merge_sparse_units, merge_warnings, summarise_merge

# major 1 > sub-major 11 > minors 111, 112; sub-major 12 > minor 121
# major 2 > 21 > 211;  major 3 > 31 > 311
HIERARCHY = {
    1: None, 11: 1, 12: 1, 111: 11, 112: 11, 121: 12,
    1111: 111, 1112: 111, 1113: 111, 1114: 111,
    1121: 112, 1122: 112,
    1211: 121, 1212: 121,
    2: None, 21: 2, 211: 21, 2111: 211, 2112: 211, 2113: 211,
    3: None, 31: 3, 311: 31, 3111: 311, 3112: 311,
}
PARENTS = pd.Series(HIERARCHY, dtype="Int64")
TOTALS = pd.Series({
    1111: 100, 1112: 5, 1113: 0, 1114: 30,   # 1112, 1114 (= min_n) sparse; 1113 empty
    1121: 10, 1122: 8,                        # minor 112 sparse as a whole (18): climbs to 11
    1211: 20, 1212: 15,                       # minor 121 sparse, but 35 together
    2111: 50, 2112: 50, 2113: 3,              # tie between 2111 and 2112
    3111: 4, 3112: 6,                         # major 3 below min_n altogether
}, dtype=float)
EXPECTED = {
    1111: 1111, 1112: 1111, 1113: 1113, 1114: 1111,
    1121: 1111, 1122: 1111,
    1211: 1211, 1212: 1211,
    2111: 2111, 2112: 2112, 2113: 2111,
    3111: 3112, 3112: 3112,
}


def test_hand_worked_hierarchy():
    result = merge_sparse_units(TOTALS, PARENTS, min_n=30)
    assert result.to_dict() == EXPECTED
    assert result.dtype == np.int64
    # the set still sparse at its major group is said once, with its units and pairs
    warnings = merge_warnings(summarise_merge(TOTALS, result, 30, PARENTS), "husbands (occ1)")
    assert len(warnings) == 1
    assert "husbands (occ1): 1 CA row/column set(s)" in warnings[0] and "3112 (+3111): 10 pairs" in warnings[0]
    # merges within one major group of three are not across the whole table
    assert summarise_merge(TOTALS, result, 30, PARENTS).whole_table == []


# A flat classification: five categories under one root, as a small mobility table's.
FLAT = pd.Series({0: None, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0}, dtype="Int64")


def test_merge_across_a_one_group_classification_is_named():
    totals = pd.Series({1: 12.0, 2: 200.0, 3: 150.0, 4: 90.0, 5: 40.0})
    result = merge_sparse_units(totals, FLAT, min_n=30)
    assert result.to_dict() == {1: 2, 2: 2, 3: 3, 4: 4, 5: 5}  # the top category joins the largest, a middle one
    summary = summarise_merge(totals, result, 30, FLAT)
    assert summary.whole_table == [2]
    warnings = merge_warnings(summary, "wives (occ2)")
    assert len(warnings) == 1
    assert "across the whole table" in warnings[0] and "1 into 2" in warnings[0] and "min_n 30" in warnings[0]
    # nothing is said when min_n merges nothing
    untouched = merge_sparse_units(totals, FLAT, min_n=0)
    assert merge_warnings(summarise_merge(totals, untouched, 0, FLAT), "wives (occ2)") == []


def test_single_sparse_unit_joins_most_populous_sibling():
    totals = pd.Series({1111: 40.0, 1112: 60.0, 1113: 2.0, 1114: 35.0})
    assert merge_sparse_units(totals, PARENTS, 30).to_dict() == {1111: 1111, 1112: 1112, 1113: 1112, 1114: 1114}


def test_sparse_group_climbs_to_grandparent_populous_unit_in_other_minor():
    # minor 111 holds 12 pairs in all, minor 112 has the populous unit of sub-major 11
    totals = pd.Series({1111: 5.0, 1112: 7.0, 1121: 3.0, 1122: 80.0})
    assert merge_sparse_units(totals, PARENTS, 30).to_dict() == {1111: 1122, 1112: 1122, 1121: 1122, 1122: 1122}


def test_pending_sets_from_two_minors_join_at_sub_major():
    # both minors sparse (12 and 11): at sub-major 11 they join its most populous unit 1112
    totals = pd.Series({1111: 5.0, 1112: 7.0, 1121: 6.0, 1122: 5.0, 1211: 40.0})
    result = merge_sparse_units(totals, PARENTS, 20)
    assert result.to_dict() == {1111: 1112, 1112: 1112, 1121: 1112, 1122: 1112, 1211: 1211}


def test_climb_reaches_major_group_across_sub_majors():
    # sub-major 11 holds 23 pairs; sub-major 12 has a populous unit 1212
    totals = pd.Series({1111: 10.0, 1112: 5.0, 1121: 8.0, 1211: 1.0, 1212: 90.0})
    result = merge_sparse_units(totals, PARENTS, 30)
    assert result.to_dict() == {1111: 1212, 1112: 1212, 1121: 1212, 1211: 1212, 1212: 1212}


def test_climbers_join_the_largest_merged_set_not_a_sparse_largest_unit():
    # at sub-major 11 the largest unit is 1111 (10, itself sparse), but minor 112's two units
    # already form a set of 18 pairs: 1111 joins that set rather than staying below min_n
    totals = pd.Series({1111: 10.0, 1121: 9.0, 1122: 9.0})
    result = merge_sparse_units(totals, PARENTS, 15)
    assert result.to_dict() == {1111: 1121, 1121: 1121, 1122: 1121}


def test_ties_go_to_lowest_code():
    totals = pd.Series({2111: 3.0, 2112: 3.0, 2113: 3.0})
    assert merge_sparse_units(totals, PARENTS, 5).to_dict() == {2111: 2111, 2112: 2111, 2113: 2111}
    totals = pd.Series({2111: 40.0, 2112: 40.0, 2113: 1.0})
    assert merge_sparse_units(totals, PARENTS, 30)[2113] == 2111


def test_zero_total_units_are_empty_not_merged():
    totals = pd.Series({1111: 100.0, 1112: 0.0, 1113: 0.0})
    result = merge_sparse_units(totals, PARENTS, 30)
    assert result.to_dict() == {1111: 1111, 1112: 1112, 1113: 1113}
    summary = summarise_merge(totals, result, 30)
    assert summary.empty == [1112, 1113] and summary.merged == 0


def test_min_n_zero_merges_nothing():
    assert (merge_sparse_units(TOTALS, PARENTS, 0) == TOTALS.index).all()


def test_summary_counts():
    result = merge_sparse_units(TOTALS, PARENTS, 30)
    summary = summarise_merge(TOTALS, result, 30)
    assert summary.merged == 7  # 1112 1114 1121 1122 1212 2113 3111
    assert summary.empty == [1113]
    assert summary.still_sparse == [3112]
    assert summary.targets == {1111: [1112, 1114, 1121, 1122], 1211: [1212], 2111: [2113], 3112: [3111]}
    assert summary.as_dict()["targets"]["3112"] == [3111]


def test_recodes_applied_before_the_rule():
    # 1121's 10 pairs go to 2111 by hand; 1122 (8) is then alone in minor 112 and climbs to 1111
    result = merge_sparse_units(TOTALS, PARENTS, 30, recodes={1121: 2111})
    expected = {**EXPECTED, 1121: 2111}
    assert result.to_dict() == expected
    # recoded pairs count toward their target: 1212 (15 + 40) becomes minor 121's largest
    # unit and takes 1211 (20); recoding after the merge would have sent 1212 to 1211
    totals = pd.Series({1211: 20.0, 1212: 15.0, 1111: 40.0})
    result = merge_sparse_units(totals, PARENTS, 30, recodes={1111: 1212})
    assert result.to_dict() == {1111: 1212, 1211: 1212, 1212: 1212}


def test_apply_recodes_wins_and_merged_units_follow():
    unit_map = merge_sparse_units(TOTALS, PARENTS, 30)
    recoded = apply_recodes(unit_map, {1111: 1211, 2113: 2112})
    assert recoded[1111] == 1211
    assert recoded[1112] == 1211 and recoded[1122] == 1211  # they had joined 1111
    assert recoded[2113] == 2112
    assert recoded[2111] == 2111
    assert apply_recodes(unit_map, None).equals(unit_map)


def test_bad_recodes_are_refused():
    unit_map = pd.Series({1111: 1111, 1112: 1112}, dtype="int64")
    with pytest.raises(CamsisError, match="9999"):
        apply_recodes(unit_map, {1111: 9999})
    with pytest.raises(CamsisError, match="cycle"):
        apply_recodes(unit_map, {1111: 1112, 1112: 1111})


def test_unknown_unit_is_refused():
    with pytest.raises(CamsisError, match="4111"):
        merge_sparse_units(pd.Series({4111: 3.0}), PARENTS, 30)


def test_apply_merge_sums_into_targets():
    table = pd.DataFrame(
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]], index=pd.Index([1111, 1112, 1113], name="occ1"),
        columns=pd.Index([2111, 2112, 2113], name="occ2"), dtype=float,
    )
    row_map = pd.Series({1111: 1111, 1112: 1111, 1113: 1113})
    col_map = pd.Series({2111: 2112, 2112: 2112, 2113: 2112})
    merged = apply_merge(table, row_map, col_map)
    expected = pd.DataFrame([[21.0], [24.0]], index=pd.Index([1111, 1113], name="occ1"),
                            columns=pd.Index([2112], name="occ2"))
    pd.testing.assert_frame_equal(merged, expected)
    assert merged.to_numpy().sum() == table.to_numpy().sum()


def test_apply_merge_equals_a_group_by_of_rows_then_columns():
    """The sparse-product sums against pandas group-bys, on a weighted table with maps whose
    targets are neither sorted nor the first unit of their set."""
    rng = np.random.default_rng(5)
    rows, cols = np.arange(100, 160), np.arange(500, 541)
    table = pd.DataFrame(rng.gamma(0.5, 3.0, (len(rows), len(cols))), index=pd.Index(rows, name="occ1"),
                         columns=pd.Index(cols, name="occ2"))
    row_map = pd.Series(rng.choice(rows, len(rows)), index=rows)
    col_map = pd.Series(rng.choice(cols, len(cols)), index=cols)
    expected = table.groupby(row_map.to_numpy()).sum().T.groupby(col_map.to_numpy()).sum().T
    merged = apply_merge(table, row_map, col_map)
    assert list(merged.index) == sorted(set(row_map)) and list(merged.columns) == sorted(set(col_map))
    np.testing.assert_allclose(merged.to_numpy(), expected.to_numpy(), rtol=1e-13)
    assert merged.index.name == "occ1" and merged.columns.name == "occ2"
    # Told the cells that may be non-zero (a replicate's support: some of them zero), the same sums.
    table = table.where(rng.random(table.shape) < 0.2, 0.0)
    support = np.flatnonzero(table.to_numpy() > 0)
    support = np.union1d(support, rng.choice(table.size, 50))
    from camsis.method.pairtable import Cells

    told = apply_merge(table, row_map, col_map, Cells.at(support, table.shape[1]))
    expected = table.groupby(row_map.to_numpy()).sum().T.groupby(col_map.to_numpy()).sum().T
    pd.testing.assert_index_equal(told.index, merged.index)
    pd.testing.assert_index_equal(told.columns, merged.columns)
    np.testing.assert_allclose(told.to_numpy(), expected.to_numpy(), rtol=1e-13)


@st.composite
def hierarchies(draw):
    """Random 3-level hierarchies (major > minor > unit) with random totals."""
    parents, totals = {}, {}
    for major in range(1, draw(st.integers(1, 3)) + 1):
        parents[major] = None
        for m in range(draw(st.integers(1, 3))):
            minor = major * 10 + m
            parents[minor] = major
            for u in range(draw(st.integers(1, 4))):
                unit = minor * 10 + u
                parents[unit] = minor
                totals[unit] = float(draw(st.integers(0, 40)))
    return pd.Series(parents, dtype="Int64"), pd.Series(totals)


@settings(max_examples=150, deadline=None)
@given(hierarchies(), st.integers(0, 30))
def test_merge_invariants(data, min_n):
    parents, totals = data
    result = merge_sparse_units(totals, parents, min_n)
    # targets are their own targets, within the same top-level group
    assert (result.loc[result.to_numpy()].to_numpy() == result.to_numpy()).all()
    assert all(t // 100 == u // 100 for u, t in result.items())
    # units with more than min_n pairs, and empty ones, keep their own row
    keep = totals[(totals > min_n) | (totals == 0)].index
    assert (result[keep] == keep).all()
    # every merged set holds more than min_n pairs unless its whole major group does not
    cluster = totals.groupby(result.to_numpy()).sum()
    major = totals.groupby(totals.index // 100).sum()
    for target, n in cluster.items():
        assert n > min_n or n == 0 or major[target // 100] <= min_n
    # merged table keeps every pair
    table = pd.DataFrame(np.outer(totals, totals), index=totals.index, columns=totals.index)
    assert apply_merge(table, result, result).to_numpy().sum() == pytest.approx(table.to_numpy().sum())


def merged_by_visiting_each_group(totals: pd.Series, parents: pd.Series, min_n: float) -> dict:
    """The rule of the module docstring as written: groups one at a time, finest first, then by
    code; every set still <= min_n inside a group joins its largest set, pairs added in code order."""
    from helpers import walk_up

    chain = walk_up(parents)
    sets = {int(u): [int(u)] for u, t in totals.items() if t > 0}
    pairs = {int(u): float(t) for u, t in totals.items() if t > 0}
    groups = {g for u in sets for g in chain(u)}
    for group in sorted(groups, key=lambda g: (-len(chain(g)), g)):
        inside = sorted(r for r in sets if group in chain(r))
        pending = [r for r in inside if pairs[r] <= min_n]
        if pending:
            target = max(inside, key=lambda r: (pairs[r], -r))
            for r in pending:
                if r != target:
                    sets[target] += sets.pop(r)
                    pairs[target] += pairs.pop(r)
    result = {int(u): int(u) for u in totals.index}
    result.update({u: r for r, members in sets.items() for u in members})
    return result


@st.composite
def uneven_hierarchies(draw):
    """Random hierarchies whose units sit at different depths (1 to 4 ancestors), with
    negative codes and totals that are not whole numbers: with min_n 0.3 or 0.6, whether
    0.1, 0.2 and 0.3 pairs are added in code order decides whether a set climbs on."""
    parents, totals = {}, {}
    codes = iter(range(-500, 5000, 7))

    def grow(code, depth):
        children = draw(st.integers(0 if depth > 1 else 1, 3)) if depth < 4 else 0
        if children == 0:
            totals[code] = draw(st.sampled_from([0.0, 0.1, 0.2, 0.3, 1.7, 4.9, 10.0, 12.3, 30.0, 45.5]))
        for _ in range(children):
            child = next(codes)
            parents[child] = code
            grow(child, depth + 1)

    for _ in range(draw(st.integers(1, 3))):
        top = next(codes)
        parents[top] = None
        grow(top, 0)
    return pd.Series(parents, dtype="Int64"), pd.Series(totals).sample(frac=1, random_state=draw(st.integers(0, 9)))


@settings(max_examples=200, deadline=None)
@given(uneven_hierarchies(), st.sampled_from([0, 0.3, 0.6, 1, 5, 12.3, 30, 60]))
def test_merge_equals_visiting_each_group_in_turn(data, min_n):
    """The merge done a depth at a time on arrays against the rule visited group by group,
    given the parent column or the classification's ``Hierarchy`` (kept between calls)."""
    from camsis.classifications.classification import Hierarchy

    parents, totals = data
    expected = merged_by_visiting_each_group(totals, parents, min_n)
    assert merge_sparse_units(totals, parents, min_n).to_dict() == expected
    hierarchy = Hierarchy(parents)
    for _ in range(2):
        assert merge_sparse_units(totals, hierarchy, min_n).to_dict() == expected
    # the summary against sums and chain walks on the expected map, for pair counts (whole numbers)
    totals = totals.round()
    expected = merged_by_visiting_each_group(totals, parents, min_n)
    summary = summarise_merge(totals, pd.Series(expected), min_n, hierarchy)
    from helpers import walk_up

    chain = walk_up(parents)

    def common(codes):
        shared = set.intersection(*(set(chain(c)) for c in codes))
        return next((g for g in chain(codes[0]) if g in shared), None)

    sets = totals.groupby(pd.Series(expected).reindex(totals.index).to_numpy()).sum()
    assert summary.set_pairs == sets[sets > 0].to_dict()
    assert summary.still_sparse == sorted(t for t, n in sets.items() if 0 < n <= min_n)
    assert summary.targets == {t: sorted(u for u, to in expected.items() if to == t and u != t and totals[u] > 0)
                               for t in sorted(set(expected.values()))
                               if any(to == t and u != t and totals[u] > 0 for u, to in expected.items())}
    everything = common([u for u in totals.index if totals[u] > 0]) if summary.targets else None
    assert summary.whole_table == [t for t, units in summary.targets.items()
                                   if everything is not None and common([t] + units) == everything]


def test_a_loop_in_the_parent_column_is_refused_in_one_line():
    parents = pd.Series({1: None, 11: 1, 111: 11, 5: 6, 6: 5, 51: 5}, dtype="Int64")
    assert merge_sparse_units(pd.Series({111: 3.0}), parents, 30).to_dict() == {111: 111}  # the loop is not on its way
    with pytest.raises(CamsisError) as info:
        merge_sparse_units(pd.Series({111: 3.0, 51: 2.0}), parents, 30)
    assert str(info.value) == "the parents of code 51 form a cycle through 5"


def test_joining_pairs_are_added_in_code_order():
    # 1112 and 1113 join 1111 in minor 111: (1.1 + 0.1) + 0.3 is 1.5000000000000002 in floating
    # point, above min_n 1.5, so the set stays; 1.1 + (0.1 + 0.3) would be 1.5 and climb to 1121
    totals = pd.Series({1111: 1.1, 1112: 0.1, 1113: 0.3, 1121: 50.0})
    assert merge_sparse_units(totals, PARENTS, 1.5).to_dict() == {1111: 1111, 1112: 1111, 1113: 1111, 1121: 1121}
