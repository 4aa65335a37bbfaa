"""Invariances of a build on random small tables (hypothesis), through the package API.

Couples are drawn on the toy classification's eight units (two top groups, four
sub-groups); each example goes tabulate_frame -> blank_cells -> build_unit_scores.
"""

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsis.method.blanking import blank_cells
from camsis.method.tables import tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import TOY, TOY_UNITS, write_classification

UNITS = TOY_UNITS
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Scores must agree to rounding: the same sums in another order differ in the last bits.
CLOSE = dict(check_exact=False, rtol=1e-7, atol=1e-7)


@st.composite
def couples(draw):
    """Weighted couples: every cell has a few pairs (a connected table), plus a band of association."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    band = draw(st.integers(0, 40))
    near = np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
    counts = rng.integers(1, 12, (8, 8)) + np.where(near <= 1, band, 0)
    i, j = np.nonzero(counts)
    frame = pd.DataFrame({"h": np.repeat(UNITS[i], counts[i, j]), "w": np.repeat(UNITS[j], counts[i, j])})
    frame["wt"] = rng.uniform(0.2, 3.0, len(frame))
    return frame


options_strategy = st.builds(ScaleOptions, min_n=st.sampled_from([0, 60]))


@pytest.fixture(scope="module")
def toy_module(tmp_path_factory):
    """The toy classification, written once for the module (not at import)."""
    return write_classification(tmp_path_factory.mktemp("toy"), "toy", TOY)


def build(frame, options, classification, occ1="h", occ2="w"):
    table = tabulate_frame(frame, occ1, occ2, "wt", classification.units)
    blank = blank_cells(classification.units, classification.units, diagonal_digits=0)
    return build_unit_scores(table, blank, blank, classification, options).scores


@SETTINGS
@given(couples(), options_strategy, st.integers(0, 2**32 - 1))
def test_permuting_input_rows_changes_nothing(toy_module, frame, options, seed):
    shuffled = frame.sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32)).reset_index(drop=True)
    pdt.assert_frame_equal(build(shuffled, options, toy_module), build(frame, options, toy_module), **CLOSE)


@SETTINGS
@given(couples(), options_strategy, st.sampled_from([1e-3, 0.37, 7.0, 2500.0]))
def test_scaling_all_weights_changes_no_score(toy_module, frame, options, constant):
    scaled = frame.assign(wt=frame["wt"] * constant)
    pdt.assert_frame_equal(build(scaled, options, toy_module), build(frame, options, toy_module), **CLOSE)


def swap_sides(scores):
    """Rename m <-> f in every column name."""
    def swapped(name):
        for m, f in (("mcam", "fcam"), ("n_m", "n_f"), ("m_", "f_")):
            if name.startswith(m):
                return f + name[len(m):]
            if name.startswith(f):
                return m + name[len(f):]
        return name
    return scores.rename(columns=swapped)[scores.columns]


@SETTINGS
@given(couples(), options_strategy)
def test_swapping_occ1_and_occ2_swaps_male_and_female_scores(toy_module, frame, options):
    swapped = build(frame, options, toy_module, occ1="w", occ2="h")
    pdt.assert_frame_equal(swap_sides(swapped), build(frame, options, toy_module), **CLOSE)


@SETTINGS
@given(couples(), options_strategy, st.lists(st.integers(0, 7), min_size=1, max_size=8), st.integers(1, 200))
def test_pairs_added_only_in_blanked_cells_change_no_ca_score(toy_module, frame, options, units, extra):
    # The diagonal is blanked: more couples in the same unit must not move the CA.
    added = pd.DataFrame({"h": UNITS[units], "w": UNITS[units], "wt": 1.0}).loc[lambda d: d.index.repeat(extra)]
    before = build(frame, options, toy_module)
    after = build(pd.concat([frame, added], ignore_index=True), options, toy_module)
    ca = [c for c in before.columns if c in ("m_ca", "f_ca", "m_ca2", "f_ca2")]
    assert {"m_ca", "f_ca"} <= set(ca)
    pdt.assert_frame_equal(after[ca], before[ca], **CLOSE)


@st.composite
def relabelling(draw):
    """A permutation of the units that keeps every unit in its parent group."""
    mapping = {}
    for group in (11, 12, 21, 22):
        members = [group * 10 + 1, group * 10 + 2]
        mapping.update(zip(members, draw(st.permutations(members))))
    return mapping


@SETTINGS
@given(couples(), options_strategy, relabelling())
def test_a_relabelled_unit_keeps_its_score(toy_module, tmp_path_factory, frame, options, mapping):
    isei = {code: value for code, _, _, _, value in TOY}
    # Unit `code` becomes `mapping[code]`, taking its reference value along.
    rows = [(mapping.get(code, code), level, parent, title, isei[code]) for code, level, parent, title, _ in TOY]
    relabelled = write_classification(tmp_path_factory.mktemp("relabelled"), "toy", sorted(rows))
    moved = frame.assign(h=frame["h"].map(mapping), w=frame["w"].map(mapping))
    after = build(moved, options, classification=relabelled)
    before = build(frame, options, toy_module)
    after = after.loc[[mapping[code] for code in before.index]].set_axis(before.index)
    pdt.assert_frame_equal(after, before, **CLOSE)
