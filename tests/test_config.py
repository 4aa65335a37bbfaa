import pytest

from camsis.config import load_scales, parse_groups, read_recodes
from camsis.errors import CamsisError

HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\n"


def sheet(tmp_path, body, header=HEADER):
    path = tmp_path / "scales.tsv"
    path.write_text(header + body)
    return path


def test_default_sheet_reads(repo):
    scales = load_scales(repo / "config" / "scales.tsv", repo / "data" / "classifications")
    assert list(scales.index) == ["gb_soc2020_demo"]
    assert parse_groups(scales.loc["gb_soc2020_demo", "diagonal_groups"], "x") == [1, 2]


PERSONS = HEADER.replace("\n", "\tlayout\tperson\tpartner\tsex\tfirst_sex\tocc\twave\tweight_type\trepeat_couples\n")


@pytest.mark.parametrize(
    "body, message",
    [
        ("a\tp.dta\t\t\t\tsoc2020\t\t0\tpersons\t\tppid\tsex\t1\tocc\t\t\t\n",
         "column person is empty for scale a \\(layout persons needs person, partner, sex, first_sex, occ\\)"),
        ("a\tp.dta\t\t\t\tsoc2020\t\t0\tpersons\tpidp\tppid\t\t1\tocc\t\t\t\n", "column sex is empty"),
        ("a\tp.dta\t\t\t\tsoc2020\t\t0\tpersons\tpidp\tppid\tsex\tmale\tocc\t\t\t\n",
         "first_sex of scale a must be a number.*'male'"),
        ("a\tp.dta\th\tw\t\tsoc2020\t\t0\tpersons\tpidp\tppid\tsex\t1\tocc\t\t\t\n",
         "column occ1 of scale a is not used with layout persons"),
        ("a\tp.dta\th\tw\t\tsoc2020\t\t0\t\tpidp\t\t\t\t\t\t\t\n", "column person of scale a is not used with layout couples"),
        ("a\tp.dta\th\tw\t\tsoc2020\t\t0\tperson\t\t\t\t\t\t\t\t\n", "layout of scale a must be couples or persons, got 'person'"),
        ("a\tp.dta\th\tw\t\tsoc2020\t\t0\t\t\t\t\t\t\t\tfweight\t\n", "weight_type of scale a must be survey or frequency"),
        ("a\tp.dta\th\tw\t\tsoc2020\t\t0\t\t\t\t\t\t\t\tfrequency\t\n", "weight_type frequency of scale a needs a weight variable"),
        ("a\tp.dta\t\t\t\tsoc2020\t\t0\tpersons\tpidp\tppid\tsex\t1\tocc\twave\t\tlast\n",
         "repeat_couples of scale a must be all or first"),
    ],
)
def test_bad_person_and_weight_columns_are_refused_in_one_line(tmp_path, repo, body, message):
    with pytest.raises(CamsisError, match=message) as error:
        load_scales(sheet(tmp_path, body, PERSONS), repo / "data" / "classifications")
    assert "\n" not in str(error.value)


def test_person_rows_read(tmp_path, repo):
    body = ("u\tp.dta\t\t\tw\tsoc2020\t\t0\tpersons\tpidp\tppid\tsex\t1\tocc\twave\tfrequency\tfirst\n"
            "c\tc.dta\th\tw\t\tsoc2020\t\t0\t\t\t\t\t\t\t\t\t\n")
    scales = load_scales(sheet(tmp_path, body, PERSONS), repo / "data" / "classifications")
    assert scales.loc["u", "layout"] == "persons" and scales.loc["u", "repeat_couples"] == "first"
    assert scales.loc["c", "household"] == "" and scales.loc["c", "status"] == ""


@pytest.mark.parametrize(
    "body, header, message",
    [
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\na\ty.dta\th\tw\t\tsoc2020\t\t0\n", HEADER, "a appear more than once"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t-1\n", HEADER, "diagonal_digits of scale a must be a whole number"),
        ("a\tx.dta\th\tw\t\tsoc1990\t\t0\n", HEADER, "unknown classification 'soc1990'.*known: .*soc2020"),
        ("a\tx.dta\th\tw\t\n", "scale\tinput\tocc1\tocc2\tweight\n", "lacks column.*classification, psds, diagonal_digits"),
        ("a b\tx.dta\th\tw\t\tsoc2020\t\t0\n", HEADER, "scale name 'a b'"),
        ("a\tx.dta\t\tw\t\tsoc2020\t\t0\n", HEADER, "column occ1 is empty for scale a"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\tdata/psd4b.tsv\n", HEADER.replace("\n", "\tpsd_smooth\n"),
         "unknown column.*psd_smooth \\(did you mean psds_smooth\\?\\)"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\tdata/psd.tsv\n", HEADER, "line 2: 9 cells but the header names 8 columns"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\t\t\n", HEADER, None),
        ("", HEADER.replace(HEADER, ""), "is empty: it needs a header line"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\t:\n", HEADER.replace("\n", "\tsep\n"), "sep ':' is not a separator"),
        ("a\tx.dta\th\tw\t\tsoc2020\t\t0\tutf-9\n", HEADER.replace("\n", "\tencoding\n"), "encoding 'utf-9' is unknown"),
        ("ab\tx.dta\th\tw\t\tsoc2020\t\t0\n".replace("ab", "a" * 65), HEADER, "65 characters long; at most 64"),
    ],
)
def test_bad_sheets_are_refused_in_one_line(tmp_path, repo, body, header, message):
    if message is None:  # empty trailing cells, as spreadsheets export them, are not a mistake
        assert len(load_scales(sheet(tmp_path, body, header), repo / "data" / "classifications")) == 1
        return
    with pytest.raises(CamsisError, match=message) as error:
        load_scales(sheet(tmp_path, body, header), repo / "data" / "classifications")
    assert "\n" not in str(error.value)


def test_recodes(tmp_path):
    path = tmp_path / "recodes.tsv"
    path.write_text("from\tto\n1111\t1112\n")
    assert read_recodes(path) == {1111: 1112}
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(CamsisError, match="header"):
        read_recodes(path)


def test_an_empty_trailing_column_is_not_an_unknown_column(tmp_path, repo):
    path = sheet(tmp_path, "a\tx.dta\th\tw\t\tsoc2020\t\t0\t\n", HEADER.replace("\n", "\t\n"))
    assert list(load_scales(path, repo / "data" / "classifications").index) == ["a"]


def test_the_package_defaults_are_the_configs(repo):
    """A default lives in the package; config.yaml and the schema must say the same, or they drift."""
    import dataclasses

    import yaml

    from camsis.scaling import candidates
    from camsis.io import reading
    from camsis.scaling.scale import ScaleOptions

    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    schema = yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text())["properties"]
    options = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
               for f in dataclasses.fields(ScaleOptions)}
    package = {key: options[key] for key in ("min_n", "reference_measure", "disconnected", "reml", "smoothing",
                                             "smoothing_levels", "mean", "sd",
                                             "estimator", "rc_dimensions",
                                             "blanked_cells", "reconstitution_order")}
    package |= {"clip": list(options["clip"]), "ca_dimensions": options["n_components"],
                "chunksize": reading.CHUNKSIZE, "psd_top": candidates.TOP, "psd_min_count": candidates.MIN_COUNT}
    for key, value in package.items():
        assert config[key] == value, f"config.yaml {key}: {config[key]} but the package's default is {value}"
        assert schema[key]["default"] == value, f"schema {key}: {schema[key]['default']} but the package's is {value}"


STATUS_HEADER = "scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tstatus1\tstatus2\tstatuses\n"


@pytest.mark.parametrize(
    "statuses, message",
    [
        ("hemp\t\tempst3", "scale a gives status1 and statuses but not status2"),
        ("\t\tempst3", "scale a gives statuses but not status1 and status2"),
        ("hemp\twemp\t", "scale a gives status1 and status2 but not statuses"),
        ("hemp\twemp\tempst9", "unknown status scheme 'empst9' for scale a"),
    ],
)
def test_incomplete_or_unknown_statuses_are_refused(tmp_path, repo, statuses, message):
    path = tmp_path / "s.tsv"
    path.write_text(STATUS_HEADER + f"a\tx.csv\th\tw\t\tsoc2020\t\t0\t{statuses}\n")
    with pytest.raises(CamsisError, match=message):
        load_scales(path, repo / "data" / "classifications")


def test_a_complete_status_row_is_accepted(tmp_path, repo):
    path = tmp_path / "s.tsv"
    path.write_text(STATUS_HEADER + "a\tx.csv\th\tw\t\tsoc2020\t\t0\themp\twemp\tes5\n")
    assert load_scales(path, repo / "data" / "classifications").loc["a", "statuses"] == "es5"


PERSON_STATUS_HEADER = ("scale\tinput\tocc1\tocc2\tweight\tclassification\tpsds\tdiagonal_digits\tlayout\tperson"
                        "\tpartner\tsex\tfirst_sex\tocc\tstatus\tstatuses\tstatus1\tstatus2\n")
PERSON_ROW = "a\tp.dta\t\t\t\tsoc2020\t\t0\tpersons\tpidp\tppid\tsex\t1\tocc\t"


@pytest.mark.parametrize(
    "cells, message",
    [
        ("jbstat\t\t\t", "scale a gives status but not statuses \\(a by-status person file needs status and statuses\\)"),
        ("\tempst3\t\t", "scale a gives statuses but not status \\(a by-status person file needs status and statuses\\)"),
        ("jbstat\tempst9\t\t", "unknown status scheme 'empst9' for scale a"),
        ("\tempst3\themp\twemp", "column status1 of scale a is not used with layout persons"),
    ],
)
def test_person_file_statuses_are_checked_in_one_line(tmp_path, repo, cells, message):
    path = tmp_path / "s.tsv"
    path.write_text(PERSON_STATUS_HEADER + PERSON_ROW + cells + "\n")
    with pytest.raises(CamsisError, match=message) as error:
        load_scales(path, repo / "data" / "classifications")
    assert "\n" not in str(error.value)


def test_a_person_file_with_status_and_statuses_is_accepted(tmp_path, repo):
    path = tmp_path / "s.tsv"
    path.write_text(PERSON_STATUS_HEADER + PERSON_ROW + "jbstat\tempst3\t\t\n")
    row = load_scales(path, repo / "data" / "classifications").loc["a"]
    assert (row["status"], row["statuses"], row["status1"]) == ("jbstat", "empst3", "")


def test_status_of_a_couples_row_is_refused(tmp_path, repo):
    path = tmp_path / "s.tsv"
    path.write_text(STATUS_HEADER.replace("\n", "\tstatus\n") + "a\tx.csv\th\tw\t\tsoc2020\t\t0\themp\twemp\tempst3\themp\n")
    with pytest.raises(CamsisError, match="column status of scale a is not used with layout couples"):
        load_scales(path, repo / "data" / "classifications")


def test_a_sheet_with_a_bad_byte_after_a_comment_mark_is_one_line(tmp_path, repo):
    path = tmp_path / "scales.tsv"
    path.write_bytes(b"\x00#\x80")  # found by tests/test_fuzz.py: pandas skips the byte, the width check read it
    with pytest.raises(CamsisError, match="is not a UTF-8 tab-separated file"):
        load_scales(path, repo / "data" / "classifications")


def test_a_hash_inside_a_cell_is_text_and_only_a_line_starting_with_hash_is_a_comment(tmp_path, repo):
    """A '#' used to end the row (pandas' comment character): the filter after it was lost,
    so the scale was built on unfiltered data, and a title 'GB #2' lost its author."""
    header = HEADER.replace("\n", "\tfilter\ttitle\tauthor\n")
    path = sheet(tmp_path, "# a note on the scales below\n"
                           "  # an indented note\n"
                           "a\tx.csv\th\tw\t\tsoc2020\t\t0\thocc != 9999\tGB #2\tSmith, Ann\n"
                           "b\tx.csv\th\tw\t\tsoc2020\t\t0\twave >= 3\tCAMSIS #3 (#b)\tJones, Bo\n", header)
    scales = load_scales(path, repo / "data" / "classifications")
    assert list(scales.index) == ["a", "b"]
    assert scales.loc["a", ["filter", "title", "author"]].tolist() == ["hocc != 9999", "GB #2", "Smith, Ann"]
    assert scales.loc["b", ["filter", "title", "author"]].tolist() == ["wave >= 3", "CAMSIS #3 (#b)", "Jones, Bo"]


def test_errors_name_the_line_in_the_file_counting_comment_lines(tmp_path, repo):
    path = sheet(tmp_path, "# note\n\na\tx.csv\th\tw\t\tsoc2020\t\tx\n")
    with pytest.raises(CamsisError, match=r"scales\.tsv, line 4: diagonal_digits of scale a"):
        load_scales(path, repo / "data" / "classifications")


@pytest.mark.parametrize("lines, message", [
    ("from\tto\n1111\t1112\n2111\t2112\n1111\t1113\n", "code 1111 is recoded twice, to 1112 and to 1113"),
    ("", "is empty: it needs the header 'from<TAB>to'"),
])
def test_recodes_that_cannot_be_meant_are_refused(tmp_path, lines, message):
    """The last of two recodes of one code won without a word; a 0-byte file was a traceback."""
    path = tmp_path / "recodes.tsv"
    path.write_text(lines)
    with pytest.raises(CamsisError, match=message) as raised:
        read_recodes(path)
    assert str(path) in str(raised.value)


def test_a_recode_given_twice_alike_is_kept_with_a_warning(tmp_path, caplog):
    path = tmp_path / "recodes.tsv"
    path.write_text("from\tto\n1111\t1112\n1111\t1112\n")
    assert read_recodes(path) == {1111: 1112}
    assert "code 1111 -> 1112 is given twice" in caplog.text


@pytest.mark.parametrize("rows, message", [
    ("a\tresults/a/a.csv\th\tw\t\tsoc2020\t\t0\n", "line 2: input results/a/a.csv of scale a is made by the build of "
                                                   "scale a itself: a scale cannot"),
    ("a\t./results/b/work/../b.dta\th\tw\t\tsoc2020\t\t0\nb\tx.csv\th\tw\t\tsoc2020\tresults/c/c.csv\t0\n"
     "c\tresults/a/a.csv\th\tw\t\tsoc2020\t\t0\n",
     r"line 2: input ./results/b/work/../b.dta of scale a is made by the build of scale a itself \(through scales b, c\)"),
])
def test_a_scale_built_from_its_own_results_is_refused_naming_the_cell(tmp_path, repo, rows, message):
    """Snakemake said CyclicGraphException, naming rules."""
    with pytest.raises(CamsisError, match=message):
        load_scales(sheet(tmp_path, rows), repo / "data" / "classifications")


def test_a_scale_built_from_another_scales_results_is_fine(tmp_path, repo):
    rows = "a\tx.csv\th\tw\t\tsoc2020\t\t0\nb\tresults/a/a.csv\th\tw\t\tsoc2020\tresults/a/psds.tsv\t0\n"
    assert list(load_scales(sheet(tmp_path, rows), repo / "data" / "classifications").index) == ["a", "b"]
