"""Importing code frames from label files: parsers, the hierarchy from codes, the shipped frames.

The shipped isco08, isco88 and soc2010 frames are re-imported from the public CAMSIS
release files copied into data/classifications/sources/ and must come out byte for byte
as shipped; their structure is checked against facts published independently of our
code (ISCO-08's 436/130/43/10 groups, the codes of the published gb2010isco08.dta).
"""

import importlib.util
import textwrap

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from camsis.classifications.classification import load_classification
from camsis.classifications.codeframe import build_frame, import_classification, write_classification_files
from camsis.cli import main
from camsis.errors import CamsisError
from camsis.io.labelfiles import parse_spss, parse_stata, read_label_sets


@pytest.fixture(scope="module")
def imports(request):
    path = request.config.rootpath / "data" / "classifications" / "imports.py"
    spec = importlib.util.spec_from_file_location("classification_imports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["isco08", "isco88", "soc2010"])
def test_shipped_frames_are_what_the_import_command_makes_from_their_sources(name, imports, tmp_path, repo):
    assert main(imports.argv(name, tmp_path)) == 0
    shipped = repo / "data" / "classifications"
    for suffix in (".tsv", ".yaml"):
        assert (tmp_path / f"{name}{suffix}").read_text() == (shipped / f"{name}{suffix}").read_text(), suffix
    load_classification(name, shipped)


def test_soc2010_link_file_is_the_published_status_0_scores(imports, tmp_path, repo):
    sources = repo / "data" / "classifications" / "sources"
    imports.soc2010_links(sources / "gb2010soc2010_details.dta", tmp_path / "links.tsv")
    assert (tmp_path / "links.tsv").read_text() == (sources / "gb2010soc2010_es0.tsv").read_text()


def test_isco08_has_the_published_structure_and_every_published_code(repo):
    frame = load_classification("isco08", repo / "data" / "classifications").frame
    assert frame["level"].value_counts().sort_index().to_dict() == {1: 10, 2: 43, 3: 130, 4: 436}
    data, meta = pyreadstat.read_dta(str(repo / "data" / "classifications" / "sources" / "gb2010isco08.dta"))
    published = set(meta.value_labels["isco08_label"]) | set(data["isco08"].astype(int))
    assert published - set(frame.index) == set()
    # the 434 units scored in the published file are units of the frame
    assert set(data["isco08"].astype(int)) <= set(frame.index[frame["level"] == 4])
    # armed forces: unit 0110 (stored 110) in minor 011 (11), sub-major 01 (100), major 0
    chain = [110, 11, 100, 0]
    for child, parent in zip(chain, chain[1:]):
        assert frame.at[child, "parent"] == parent
    # a single-unit minor group keeps its 3-digit code; its trailing-zero code is the unit
    assert frame.at[1120, "level"] == 4 and frame.at[1120, "parent"] == 112
    assert frame.at[112, "level"] == 3 and frame.at[112, "parent"] == 1100
    # trailing-zero groups: 2100 is sub-major 21, 1110 minor 111
    assert frame.at[2100, "level"] == 2 and frame.at[1110, "level"] == 3 and frame.at[1111, "parent"] == 1110


def test_isco88_links_the_published_isei(repo):
    frame = load_classification("isco88", repo / "data" / "classifications").frame
    links, _ = pyreadstat.read_dta(str(repo / "data" / "classifications" / "sources" / "isco88_isei_siops_icam.dta"))
    links = links.set_index(links["isco88"].astype(int))
    shared = links.index.intersection(frame.index)
    assert len(shared) == len(links) - 1  # 6134 is not in the label file
    np.testing.assert_array_equal(frame.loc[shared, "isei"].astype(float), links.loc[shared, "isei"])
    assert frame.at[1000, "title"] == "Legislators, senior officials and managers"


DO_FILE = textwrap.dedent('''\
    * a comment line with a "quote and ; semicolon
    /* block comment
       label define ghost 1 "not defined" */
    #delimit ;
    capture label drop occ;
    label define occ
      0110 "Armed; forces" // trailing comment ; here
      1000 "Managers"      /* inline */
      1100 "Chief executives"
      1110 "Legislators; senior officials"
      1111 "Legislators"
      1112 "Senior officials"
      1120 "Managing directors"
      2100 "Science professionals"
      2111 "Physicists"
      2112 "Meteorologists" ;
    * a star comment runs to the semicolon
      label define ghost 9 "not defined either" ;
    label define occ 2113 "Chemists", add ;
    label define occ 2112 `"Meteo "rologists""', modify ;
    #delimit cr
    label define maj 0 "Armed forces" 1 "Managers" 2 "Professionals"
    label define sub 1 "Officers" 11 "Chief executives" ///
        21 "Science professionals"
    label define min 11 "Officers" 111 "Legislators and senior officials" 112 "Managing directors" 211 "Physical scientists"
    ''')


def test_do_file_with_delimit_semicolons_in_labels_and_every_comment():
    sets = parse_stata(DO_FILE)
    assert set(sets) == {"occ", "maj", "sub", "min"}
    occ = sets["occ"]
    assert occ["0110"] == "Armed; forces"
    assert occ["1110"] == "Legislators; senior officials"
    assert occ["1000"] == "Managers"
    assert occ["2113"] == "Chemists"
    assert occ["2112"] == 'Meteo "rologists"'
    assert sets["sub"] == {"1": "Officers", "11": "Chief executives", "21": "Science professionals"}
    assert len(occ) == 11


def test_do_file_frame_recognises_trailing_zero_groups_and_leading_zeros():
    sets = parse_stata(DO_FILE)
    frame, report = build_frame(sets["occ"], [sets["min"], sets["sub"], sets["maj"]])
    frame = frame.set_index("code")
    assert frame["level"].value_counts().sort_index().to_dict() == {1: 3, 2: 3, 3: 4, 4: 7}
    assert sorted(frame.index[frame["level"] == 4]) == [110, 1111, 1112, 1120, 2111, 2112, 2113]
    assert frame.at[110, "parent"] == 11 and frame.at[11, "parent"] == 100 and frame.at[100, "parent"] == 0
    assert frame.at[1120, "parent"] == 112 and frame.at[112, "parent"] == 1100
    assert frame.at[2111, "parent"] == 2110 and frame.at[2110, "parent"] == 2100 and frame.at[2100, "parent"] == 2000
    assert frame.at[1110, "title"] == "Legislators and senior officials"  # the group set's label wins
    assert report.single_unit_groups == ["112/1120"]
    assert report.units_like_group_codes == ["0110"]  # "Armed; forces" is not minor 011's title "Officers"
    assert sorted(report.trailing_zero) == ["1000", "1100", "1110", "2100"]


def test_do_file_errors_name_what_is_wrong():
    with pytest.raises(CamsisError, match="code 1 is already labelled"):
        parse_stata('label define a 1 "x"\nlabel define a 1 "y", add\n')
    with pytest.raises(CamsisError, match="defined again"):
        parse_stata('label define a 1 "x"\nlabel define a 2 "y"\n')
    with pytest.raises(CamsisError, match="has no label"):
        parse_stata('label define a 1 "x" 2\n')
    with pytest.raises(CamsisError, match="never closed"):
        parse_stata('/* label define a 1 "x"\n')


SPS = textwrap.dedent('''\
    * A comment with 'quotes' and a period inside. Still the comment
      until the line ends with a period.
    define occlab (occ=!enclose('{','}')) .
    add value labels !occ
     1000 "Managers"
     1110 'Legislators, ''senior'' officials'
     1111 "Legislators" 1112 "Senior" + " officials"
     1120 "Managing directors".
    !enddefine.
    VALUE LABELS grp 1 "Managers" /minor 111 "Legislators" 112 "Managing directors".
    ADD VALUE LABELS minor 113 "Chiefs".
    /* block comment: value labels ghost 1 "no" */
    ''')


def test_spss_value_labels_in_macros_and_plain():
    sets = parse_spss(SPS)
    assert sets["occlab"] == {"1000": "Managers", "1110": "Legislators, 'senior' officials", "1111": "Legislators",
                              "1112": "Senior officials", "1120": "Managing directors"}
    assert sets["grp"] == {"1": "Managers"}
    assert sets["minor"] == {"111": "Legislators", "112": "Managing directors", "113": "Chiefs"}
    assert "ghost" not in sets


def test_labelled_dta_by_variable_or_label_set(tmp_path):
    data = pd.DataFrame({"occ": [11.0, 12.0, 21.0]})
    labels = {11: "11. A", 12: "12. B", 21: "21. C", 13: "13. D"}
    path = tmp_path / "frame.dta"
    pyreadstat.write_dta(data, str(path), variable_value_labels={"occ": labels}, column_labels=["Occupation"])
    sets = read_label_sets(path)
    assert sets["occ"] == {str(k): v for k, v in labels.items()}
    frame, metadata, report = import_classification(path, "toy", "occ", group_digits=[1])
    assert metadata["label"] == "Occupation"
    assert frame.set_index("code").loc[13, ["level", "parent", "title"]].tolist() == [2, 1, "D"]
    assert report.inferred_groups == {1: ["1", "2"]}


def test_collisions_and_bad_codes_are_refused_by_name():
    with pytest.raises(CamsisError, match=r"1: 1 \(major\) and 01 \(sub-major\)"):
        build_frame({"0110": "a", "1111": "b"}, group_digits=[3, 2, 1])
    with pytest.raises(CamsisError, match="-9"):
        build_frame({"11": "a", "-9": "missing"})
    frame, report = build_frame({"11": "a", "12": "b", "-9": "missing"}, exclude=[-9], group_digits=[1])
    assert report.excluded == ["-9"] and len(frame) == 3
    with pytest.raises(CamsisError, match="widths must shrink"):
        build_frame({"11": "a"}, [{"111": "x"}])


def test_links_and_reference_measure(tmp_path):
    do = tmp_path / "f.do"
    do.write_text('label define occ 11 "A" 12 "B" 21 "C"\n')
    links = tmp_path / "links.csv"
    links.write_text("occ,isei,other\n11,60,1\n11,60,1\n21,30.5,2\n99,1,1\n")
    frame, metadata, report = import_classification(do, "occ", "occ", group_digits=[1], links=links,
                                                    link_measures=["isei"], reference_measure="isei")
    frame = frame.set_index("code")
    assert frame.loc[[11, 21], "isei"].tolist() == ["60.0", "30.5"] and pd.isna(frame.at[12, "isei"])
    assert report.unmatched_links == [99]
    assert metadata["reference_measure"] == "isei"
    paths = write_classification_files(frame.reset_index(), metadata, tmp_path, "occ")
    loaded = load_classification("occ", tmp_path)
    assert loaded.frame.at[21, "isei"] == 30.5 and pd.isna(loaded.frame.at[12, "isei"])
    links.write_text("occ,isei\n11,60\n11,61\n")
    with pytest.raises(CamsisError, match="code 11 is linked to different values"):
        import_classification(do, "occ", "occ", links=links)
    with pytest.raises(CamsisError, match="--reference-measure prestige"):
        import_classification(do, "occ", "occ", reference_measure="prestige")
    assert all(p.exists() for p in paths)


def test_cli_import_writes_files_and_errors_in_one_line(tmp_path, capsys):
    do = tmp_path / "f.do"
    do.write_text('label define occ 11 "A" 12 "B" 21 "C"\n')
    assert main(["classification", "import", str(do), "--name", "toy", "--units", "occ",
                 "--group-digits", "1", "--out", str(tmp_path)]) == 0
    assert load_classification("toy", tmp_path).frame["level"].value_counts().to_dict() == {2: 3, 1: 2}
    assert "2 groups at level 1" in capsys.readouterr().err  # inferred groups are a warning
    assert main(["classification", "import", str(do), "--name", "toy", "--units", "nope", "--out", str(tmp_path),
                 "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camsis: error: {do}: no label set nope (it has: occ)"]


def test_isco88_extra_national_codes_are_reported_with_the_groups_inferred_for_them(repo):
    sources = repo / "data" / "classifications" / "sources"
    frame, _, report = import_classification(sources / "isco88comlabelsv1.sps", "isco88", "istilab",
                                             groups=["ismilab", "issmlab", "ismjlab"])
    warnings = "\n".join(report.warnings())
    assert "8 units without a group at level 2 (sub-major): 2010, 2011, 2012, 7500, 7510, 7520, 7530, 8400" in warnings
    assert report.inferred_groups[2] == ["20", "75", "84"]
    frame = frame.set_index("code")
    # 2000 stays major group 2; the inferred sub-major 20 keeps its own code
    assert frame.at[2000, "level"] == 1 and frame.at[20, "level"] == 2 and frame.at[20, "parent"] == 2000


def test_delimit_without_a_space_and_codes_labelled_twice_are_named():
    repeated = {}
    sets = parse_stata('#delimit;\nlabel define occ\n 100 "a" 101 "b"\n 100 "c";\n#delimit cr\n'
                       'label define min 10 "x" 10 "y"\n', repeated)
    assert sets == {"occ": {"100": "c", "101": "b"}, "min": {"10": "y"}}  # the last label, as Stata keeps
    assert repeated == {"occ": ["100"], "min": ["10"]}
    repeated = {}
    assert parse_spss("value labels occ 1 'a' 2 'b' 1 'c'.\n", repeated) == {"occ": {"1": "c", "2": "b"}}
    assert repeated == {"occ": ["1"]}


def test_import_warns_of_codes_labelled_twice(tmp_path, caplog):
    do = tmp_path / "f.do"
    do.write_text('label define occ 11 "A" 12 "B" 11 "C" 21 "D"\n')
    assert main(["classification", "import", str(do), "--name", "toy", "--units", "occ", "--out", str(tmp_path)]) == 0
    assert "label set occ: code(s) 11 labelled more than once in one command; the last label kept" in caplog.text
    assert load_classification("toy", tmp_path).frame.at[11, "label"] == "C"


def test_import_never_replaces_a_frame_without_force_and_makes_its_directory(tmp_path, capsys):
    do = tmp_path / "f.do"
    do.write_text('label define occ 11 "A" 12 "B" 21 "C"\n')
    out = tmp_path / "new" / "frames"
    argv = ["classification", "import", str(do), "--name", "toy", "--units", "occ", "--out", str(out)]
    assert main(argv) == 0
    shipped = (out / "toy.tsv").read_text()
    do.write_text('label define occ 11 "A"\n')
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"camsis: error: --out {out}: a classification toy is already there ({out / 'toy.tsv'}); "
        f"choose another --name, or give --force to replace it"]
    assert (out / "toy.tsv").read_text() == shipped
    assert main([*argv, "--force"]) == 0
    assert len(load_classification("toy", out).frame) == 1


def test_a_recode_file_is_refused_as_one(tmp_path, capsys):
    sps = tmp_path / "scores.sps"
    sps.write_text("* CAMSIS recode.\nrecode hiscs\n (1101 = 49.0)\n (1102 = 49.0)\n into mcamsis.\nexecute.\n")
    assert main(["classification", "import", str(sps), "--name", "toy", "--units", "hiscs", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "it is a recode file (RECODE commands that assign scores to codes), not a label file" in err[0]
