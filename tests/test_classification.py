"""The code frame: SOC2020 against values read by hand from the published file, and the
checks that stop a malformed frame."""

import numpy as np
import pandas as pd
import pytest

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from helpers import REPO

DATA = REPO / "data" / "classifications"


@pytest.fixture(scope="module")
def soc():
    return load_classification("soc2020", DATA)


def test_soc2020_counts_per_level(soc):
    assert soc.frame["level"].value_counts().sort_index().to_dict() == {1: 9, 2: 26, 3: 104, 4: 412}
    assert len(soc.frame) == 551
    assert soc.units.dtype == np.int64
    assert len(soc.units) == 412
    assert soc.units[0] == 1111 and soc.units[-1] == 9269
    assert np.all(np.diff(soc.units) > 0)


def test_soc2020_titles_and_labels_as_published(soc):
    # looked up in gb_soc2020_v1.dta's value label soc2020a
    frame = soc.frame
    assert frame.at[1111, "label"] == "1111. Chief executives and senior officials"
    assert frame.at[1111, "title"] == "Chief executives and senior officials"
    assert frame.at[5111, "title"] == "Farmers"
    assert frame.at[9269, "label"] == "9269. Other elementary services occupations n.e.c."
    assert frame.at[92, "title"] == "ELEMENTARY ADMINISTRATION AND SERVICE OCCUPATIONS"
    assert frame.at[411, "label"] == "411. Administrative Occupations  Government and Related Organisations"
    assert frame.at[1, "label"] == "1. MANAGERS, DIRECTORS AND SENIOR OFFICIALS"
    assert soc.value_labels()[2211] == "2211. Generalist medical practitioners"
    assert len(soc.value_labels()) == 551


def test_soc2020_links_as_published(soc):
    # values read from gb_soc2020_v1.dta (float32 there, so compared to 2 decimals)
    frame = soc.frame
    expected = {
        1111: (78.76, 66.84, 70.84, 1, 2, 1112, 1120),
        5111: (17.79, 43.53, 41.55, 4, 9, 6130, 6130),
        2211: (88.70, 78.01, 78.57, 1, 3, 2211, 2221),
        4217: (48.27, 42.00, 59.26, 6, 12, 4131, 4112),
        9269: (27.91, 24.00, 28.70, 7, 13, 9629, 9100),
    }
    for code, (isei, siops, icam, ns_sec, ns_sec_op, isco08, isco88) in expected.items():
        row = frame.loc[code]
        assert row["isei"] == pytest.approx(isei, abs=0.005)
        assert row["siops"] == pytest.approx(siops, abs=0.005)
        assert row["icam"] == pytest.approx(icam, abs=0.005)
        assert (row["ns_sec"], row["ns_sec_op"], row["isco08"], row["isco88"]) == (ns_sec, ns_sec_op, isco08, isco88)
    # armed forces: no ICAM; ISCO-08 0110 stored as the integer 110
    assert pd.isna(frame.at[3311, "icam"]) and frame.at[3311, "isco08"] == 310 and frame.at[3311, "isco88"] == 110
    # groups carry isei but no NS-SEC or ISCO
    assert frame.at[92, "isei"] == pytest.approx(20.48, abs=0.005)
    assert pd.isna(frame.at[92, "ns_sec"]) and pd.isna(frame.at[92, "isco08"])
    assert frame["isco08"].notna().sum() == 412
    assert frame["icam"].isna().sum() == 2
    assert str(frame["ns_sec"].dtype) == "Int64" and frame["isei"].dtype == np.float64


def test_soc2020_metadata(soc):
    assert soc.variable == "soc2020"
    assert soc.label == "Standard Occupational Classification 2020 (UK)"
    assert soc.value_label_name == "soc2020a"
    assert soc.reference_measure == "isei"
    assert soc.links == ["isei", "siops", "icam", "ns_sec", "ns_sec_op", "isco08", "isco88"]
    assert soc.link_labels["ns_sec"] == "NS-SEC (analytical)"
    assert soc.link_labels["isco08"] == "ISCO08 (approximation based on modal coding index per SOC2020)"
    assert soc.link_value_labels["ns_sec"][4] == "4. Small employers and own account workers"
    assert len(soc.link_value_labels["ns_sec"]) == 7
    assert len(soc.link_value_labels["ns_sec_op"]) == 13


def test_soc2020_hierarchy(soc):
    assert soc.ancestors(1111) == [111, 11, 1]
    assert soc.ancestors(2240) == [224, 22, 2]
    assert soc.ancestors(92) == [9]
    assert soc.ancestors(5) == []
    majors = soc.unit_parents(1)
    assert majors.loc[1259] == 1 and majors.loc[4111] == 4 and majors.loc[9269] == 9
    assert list(majors.index) == list(soc.units)
    assert (majors.index // 1000 == majors.to_numpy()).all()
    minors = soc.unit_parents(3)
    assert (minors.index // 10 == minors.to_numpy()).all()
    assert (soc.unit_parents(4).to_numpy() == soc.units).all()
    with pytest.raises(CamsisError, match="no level 5"):
        soc.unit_parents(5)
    with pytest.raises(CamsisError, match="code 1110 is not in classification soc2020"):
        soc.ancestors(1110)


# --- a small frame written per test, to check the loader's rules ---

HEADER = "code\tlevel\tparent\ttitle\tlabel\tscore\tclass\n"
GOOD = HEADER + "1\t1\t\tOne\t1. One\t10.5\t\n11\t2\t1\tEleven\t11. Eleven\t20\t3\n12\t2\t1\tNA\t12. NA\t30\t4\n"
META = "variable: occ\nlabel: Toy\nvalue_label_name: occl\nreference_measure: score\nlink_value_labels:\n  class: {3: three, 4: four}\n"


def write(tmp_path, tsv=GOOD, meta=META, name="toy"):
    (tmp_path / f"{name}.tsv").write_text(tsv, encoding="utf-8")
    (tmp_path / f"{name}.yaml").write_text(meta, encoding="utf-8")
    return tmp_path


def test_small_frame(tmp_path):
    toy = load_classification("toy", write(tmp_path))
    assert list(toy.units) == [11, 12]
    assert toy.frame.at[12, "title"] == "NA"  # a title is never read as missing
    assert toy.frame["score"].dtype == np.float64
    assert str(toy.frame["class"].dtype) == "Int64" and pd.isna(toy.frame.at[1, "class"])
    assert toy.link_value_labels == {"class": {3: "three", 4: "four"}}
    assert toy.link_labels == {}
    assert toy.unit_parents(1).to_dict() == {11: 1, 12: 1}


def test_a_file_read_again_gives_its_contents_now_and_a_copy_of_its_own(tmp_path):
    # Reads are remembered (a job of many scales reads a frame once); a rewrite must still be seen,
    # even one of the same size within the resolution of the file's modification time.
    first = load_classification("toy", write(tmp_path))
    first.frame.loc[11, "title"] = "changed by a caller"
    assert load_classification("toy", tmp_path).frame.at[11, "title"] == "Eleven"
    write(tmp_path, tsv=GOOD.replace("Eleven", "Elevem"))
    assert load_classification("toy", tmp_path).frame.at[11, "title"] == "Elevem"
    write(tmp_path, meta=META.replace("label: Toy", "label: Yot"))
    assert load_classification("toy", tmp_path).label == "Yot"


@pytest.mark.parametrize(
    "tsv, message",
    [
        (GOOD + "11\t2\t1\tAgain\t11. Again\t1\t\n", r"toy.tsv: code 11 appears more than once"),
        (GOOD + "13\t2\t2\tX\t13. X\t1\t\n", r"toy.tsv: code 13 has parent 2, which is not a code"),
        (GOOD + "111\t2\t11\tX\t111. X\t1\t\n", r"toy.tsv: code 111 is at level 2 but its parent 11 is at level 2"),
        (GOOD + "2\t1\t1\tX\t2. X\t1\t\n", r"toy.tsv: code 2 is at level 1 but has parent 1"),
        (GOOD + "13\t2\t\tX\t13. X\t1\t\n", r"toy.tsv: code 13 is at level 2 but has no parent"),
        (GOOD + "1x\t2\t1\tX\t1x. X\t1\t\n", r"toy.tsv: line 5: code '1x' is not an integer"),
        (GOOD.replace("\tlabel", "\tlabels"), r"toy.tsv: missing column\(s\) label"),
    ],
)
def test_malformed_frame(tmp_path, tsv, message):
    with pytest.raises(CamsisError, match=message):
        load_classification("toy", write(tmp_path, tsv=tsv))


@pytest.mark.parametrize(
    "meta, message",
    [
        ("variable: occ\nlabel: Toy\n", r"toy.yaml: missing key\(s\) value_label_name"),
        (META.replace("reference_measure: score", "reference_measure: isei"), r"reference_measure 'isei' is not a link column"),
        (META + "link_labels: {nope: x}\n", r"link_labels names 'nope'"),
        ("variable: [unclosed\n", r"toy.yaml: not valid YAML"),
    ],
)
def test_malformed_metadata(tmp_path, meta, message):
    with pytest.raises(CamsisError, match=message):
        load_classification("toy", write(tmp_path, meta=meta))


def test_unknown_classification_lists_available(tmp_path):
    write(tmp_path)
    write(tmp_path, name="other")
    with pytest.raises(CamsisError, match=r"unknown classification 'isco08' in .* \(available: other, toy\)") as info:
        load_classification("isco08", tmp_path)
    assert "\n" not in str(info.value)


def test_units_are_checked_one_way_for_the_table_and_the_simulator():
    from camsis.classifications.classification import check_units
    from camsis.method.tables import tabulate_frame

    assert check_units(np.array([12, 3, 7])).tolist() == [3, 7, 12]
    couples = pd.DataFrame({"h": [1, 2], "w": [2, 1]})
    for units, message in (([1, 1, 2], "distinct"), ([-9, 1, 2], "negative"), (np.array([1.0, 2.0]), "integer")):
        with pytest.raises(CamsisError, match=message):
            tabulate_frame(couples, "h", "w", None, units)


@pytest.mark.parametrize("scheme", [None, "empst3", "es5"])
def test_unit_parents_equal_a_plain_walk_up_the_hierarchy(soc, scheme):
    """The array walk of ``unit_parents`` (all units a level at a time) against ``ancestors``, a
    walk one code at a time through the frame's parent column, on SOC2020 and on its by-status
    classifications (two more levels, negative group-node codes)."""
    from camsis.classifications.statuses import by_status_classification, load_scheme

    frame = soc if scheme is None else by_status_classification(soc, load_scheme(scheme, DATA.parent / "statuses"))
    levels = frame.frame["level"]
    for level in sorted(set(levels)):
        groups = frame.unit_parents(level)
        assert list(groups.index) == list(frame.units) and groups.dtype == np.int64
        walked = [next(c for c in [int(u)] + frame.ancestors(int(u)) if levels[c] == level) for u in frame.units]
        assert groups.tolist() == walked


@pytest.mark.parametrize("scheme", [None, "empst3"])
def test_hierarchy_equals_a_walk_up_the_parent_column(soc, scheme):
    """``Hierarchy`` (chains kept and reused by the next walk, ``by_depth`` arrays) against a
    plain walk through the frame's parent column, code by code, asked for in an order that
    meets units before their groups, on SOC2020 and its by-status classification (negative codes)."""
    from camsis.classifications.statuses import by_status_classification, load_scheme

    frame = soc if scheme is None else by_status_classification(soc, load_scheme(scheme, DATA.parent / "statuses"))
    from helpers import walk_up

    walk = walk_up(frame.frame["parent"])
    hierarchy = frame.hierarchy
    codes = list(frame.units[::-7]) + list(frame.frame.index[::-1])
    assert all(list(hierarchy.ancestors(int(c))) == walk(int(c)) for c in codes)
    assert all(hierarchy.depth(int(c)) == frame.frame.at[c, "level"] - 1 for c in codes)
    table, depth = hierarchy.by_depth(frame.units)
    assert depth.tolist() == [len(walk(int(u))) for u in frame.units]
    assert all(table[row, :d].tolist() == walk(int(u))[::-1] for row, (u, d) in enumerate(zip(frame.units, depth)))
    assert frame.ancestors(int(frame.units[3])) == walk(int(frame.units[3]))


def test_hierarchy_refuses_a_loop_or_an_unknown_parent_in_one_line():
    from camsis.classifications.classification import Hierarchy

    hierarchy = Hierarchy(pd.Series({1: None, 11: 1, 111: 11, 5: 6, 6: 7, 7: 5, 8: 9}, dtype="Int64"))
    assert hierarchy.ancestors(111) == (11, 1) and hierarchy.ancestors(1) == ()
    for code, message in ((5, "the parents of code 5 form a cycle through 5"),
                          (8, "code 9 is not in the classification's parent column"),
                          (4, "code 4 is not in the classification's parent column")):
        for _ in range(2):  # the second time too: a failed walk is not kept
            with pytest.raises(CamsisError) as info:
                hierarchy.ancestors(code)
            assert str(info.value) == message
    assert hierarchy.ancestors(111) == (11, 1)


def test_unit_groups_equal_unit_parents(soc):
    """The filling's membership per level against ``unit_parents``: codes sorted, each unit's row, one 1 per unit."""
    for level in (1, 2, 3, 4):
        parents = soc.unit_parents(level).to_numpy()
        groups = soc.unit_groups(level)
        assert groups.codes.tolist() == sorted(set(parents.tolist()))
        assert (groups.codes[groups.position] == parents).all()
        dense = groups.member.toarray()
        assert (dense.sum(axis=0) == 1).all() and (dense[groups.position, np.arange(len(parents))] == 1).all()
    with pytest.raises(CamsisError, match="no level 5"):
        soc.unit_groups(5)


def test_soc2020_ns_sec_by_status_is_the_published_v2(tmp_path):
    """soc2020_empst3.tsv is what make_soc2020.py derives from the published v2 file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_soc2020", REPO / "data" / "classifications" / "make_soc2020.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = pd.read_csv(REPO / "data" / "classifications" / "soc2020_empst3.tsv", sep="\t")
    pd.testing.assert_frame_equal(shipped, module.status_links(REPO / "tests" / "data" / "gb_soc2020_v2.dta"))
    links = load_classification("soc2020", REPO / "data" / "classifications").status_links["empst3"]
    assert len(links) == 412 * 3 and links.loc[(1121, 1), "ns_sec"] == 4


def test_status_links_are_checked(tmp_path):
    from helpers import TOY, write_classification

    write_classification(tmp_path, "toy", TOY)
    meta = (tmp_path / "toy.yaml").read_text() + "status_links:\n  empst3: toy_empst3.tsv\n"
    (tmp_path / "toy.yaml").write_text(meta)
    with pytest.raises(CamsisError, match="status_links names .*toy_empst3.tsv, which does not exist"):
        load_classification("toy", tmp_path)
    for body, message in (("code\tstatus\tisei\n111\t1\t5\n111\t1\t6\n", "appears more than once"),
                          ("code\tstatus\tisei\n11\t1\t5\n", "not units of the frame: 11"),
                          ("code\tstatus\tnope\n111\t1\t5\n", "expected the columns code, status")):
        (tmp_path / "toy_empst3.tsv").write_text(body)
        with pytest.raises(CamsisError, match=message):
            load_classification("toy", tmp_path)
    (tmp_path / "toy_empst3.tsv").write_text("code\tstatus\tisei\n111\t1\t5\n")
    assert load_classification("toy", tmp_path).status_links["empst3"].loc[(111, 1), "isei"] == 5
    (tmp_path / "toy_empst3.tsv").write_text("code\tstatus\tisei\n111\t1\t7\n")  # same size: seen by its contents
    assert load_classification("toy", tmp_path).status_links["empst3"].loc[(111, 1), "isei"] == 7
