"""IPUMS extracts as downloaded (DDI codebook + fixed-width data): read through camsis.io.reading
like any input, against the frame the extract was written from (implied decimals, codes of
no answer, every data format and chunk size), linked into couples with the counts a person
file built with known faults must give, imported as a code frame, and refused in one line
when hierarchical, without its data file, or not a codebook."""

import json

import numpy as np
import pandas as pd
import pytest

from camsis.classifications.codeframe import import_classification
from camsis.errors import CamsisError
from camsis.io.reading import data_files, file_sha256, input_columns, input_labels, iter_chunks
from camsis.method.linking import PersonColumns, link_file
from camsis.method.tables import tabulate, tabulate_frame
from ipumsfiles import Variable, codebook_xml, write_extract
from personfiles import person_file

SEX = Variable("SEX", 1, label="Sex", categories={"1": "Male", "2": "Female", "9": "Unknown"})
OCC = Variable("OCC", 4, label="Occupation, ISCO general",
               categories={"0110": "Commissioned officers", "1111": "Legislators", "1112": "Senior officials",
                           "2211": "Generalist doctors", "9269": "Other elementary", "9998": "Unknown",
                           "9999": "NIU (not in universe)"})
VARIABLES = [Variable("SAMPLE", 9, label="IPUMS sample identifier"), Variable("SERIAL", 8, label="Household serial"),
             Variable("PERNUM", 4), Variable("SPLOC", 2), SEX, Variable("PERWT", 8, decimals=2, label="Person weight"),
             OCC]
UNITS = np.array([110, 1111, 1112, 2211, 9269], dtype=np.int64)


def persons(n=300, seed=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "SAMPLE": rng.choice([76201001, 826200101], n),
        "SERIAL": np.arange(1, n + 1) // 2 + 1,
        "PERNUM": np.arange(n) % 2 + 1,
        "SPLOC": (1 - np.arange(n) % 2) + 1,
        "SEX": rng.choice([1, 2, 9], n, p=[0.48, 0.48, 0.04]),
        "PERWT": rng.integers(1, 100_000, n) / 100,  # two implied decimals
        "OCC": rng.choice([110, 1111, 1112, 2211, 9269, 9998, 9999], n),
    })


@pytest.mark.parametrize("data", ["dat.gz", "dat", "csv", "parquet"])
@pytest.mark.parametrize("chunksize", [7, 1000])
def test_extract_reads_back_as_written_with_decimals_and_codes_of_no_answer_missing(tmp_path, data, chunksize):
    frame = persons()
    path = write_extract(tmp_path, "ipumsi_00001", frame, VARIABLES, data=data)
    assert input_columns(path) == [v.name for v in VARIABLES]
    wanted = ["PERWT", "OCC", "SEX", "SERIAL"]
    chunks = list(iter_chunks(path, wanted, chunksize))
    assert max(len(c) for c in chunks) <= chunksize
    got = pd.concat(chunks, ignore_index=True)
    expected = frame[wanted].astype(float)
    expected["SEX"] = expected["SEX"].where(expected["SEX"] != 9)  # "Unknown"
    expected["OCC"] = expected["OCC"].where(expected["OCC"] < 9998)  # "Unknown", "NIU (not in universe)"
    pd.testing.assert_frame_equal(got, expected)
    value_labels, variable_labels = input_labels(path)
    assert value_labels["SEX"] == {1.0: "Male", 2.0: "Female", 9.0: "Unknown"}
    assert variable_labels["PERWT"] == "Person weight"


def test_checksum_covers_the_data_file(tmp_path):
    path = write_extract(tmp_path, "ipumsi_00002", persons(), VARIABLES)
    assert data_files(path) == [path, tmp_path / "ipumsi_00002.dat.gz"]
    before = file_sha256(path)
    write_extract(tmp_path, "ipumsi_00002", persons(seed=5), VARIABLES)
    assert file_sha256(path) != before


def test_filter_by_sample_gives_the_pandas_crosstab_of_that_sample(tmp_path):
    couples = pd.DataFrame({"SAMPLE": np.repeat([76201001, 826200101], 50)})
    rng = np.random.default_rng(1)
    couples["HOCC"] = rng.choice(UNITS, 100)
    couples["WOCC"] = rng.choice(UNITS, 100)
    couples["PERWT"] = rng.integers(1, 400, 100) / 4
    variables = [Variable("SAMPLE", 9), Variable("HOCC", 4), Variable("WOCC", 4), Variable("PERWT", 6, decimals=2)]
    path = write_extract(tmp_path, "couples", couples, variables)
    table = tabulate(path, "HOCC", "WOCC", "PERWT", UNITS, chunksize=13, where="SAMPLE == 826200101")
    kept = couples[couples["SAMPLE"] == 826200101]
    expected = pd.crosstab(kept["HOCC"], kept["WOCC"], values=kept["PERWT"], aggfunc="sum")
    expected = expected.reindex(index=UNITS, columns=UNITS).fillna(0.0)
    np.testing.assert_allclose(table.weighted.to_numpy(), expected.to_numpy())
    assert table.dropped["filtered"] == 50 and table.read == 100


def test_person_extract_links_with_every_planted_fault_counted(tmp_path):
    """The person file of known couples (tests/personfiles.py, IPUMS style) written as an extract."""
    couples = pd.DataFrame({"hocc": np.tile(UNITS, 8).astype(float), "wocc": np.repeat(UNITS, 8)[::-1].astype(float)})
    couples["wt"] = np.arange(len(couples)) % 7 / 4 + 0.25
    couples["hstat"] = couples["wstat"] = 1.0
    people, expected = person_file(couples, "ipums", repeats=5, seed=2, codes=(1111, 9269, 2211))
    frame = pd.DataFrame({
        "YEAR": people["year"], "SERIAL": people["serial"], "PERNUM": people["pernum"],
        # IPUMS writes no spouse as 0 and an unknown sex as 9 ("Unknown")
        "SPLOC": people["sploc"].fillna(0).clip(lower=0), "SEX": people["sex"].fillna(9),
        "PERWT": people["perwt"], "OCC": people["occ"]})
    variables = [Variable("YEAR", 4), Variable("SERIAL", 8), Variable("PERNUM", 4), Variable("SPLOC", 2), SEX,
                 Variable("PERWT", 8, decimals=2), OCC]
    path = write_extract(tmp_path, "ipumsi_00003", frame, variables)
    columns = PersonColumns(person="PERNUM", partner="SPLOC", sex="SEX", occ="OCC", household="SERIAL",
                            wave="YEAR", weight="PERWT")
    linked = link_file(path, columns, first_sex=1, repeat_couples="first", chunksize=50)
    assert linked.counts == expected
    a = tabulate_frame(couples, "hocc", "wocc", "wt", UNITS)
    b = tabulate_frame(linked.couples, "occ1", "occ2", "weight", UNITS)
    pd.testing.assert_frame_equal(a.weighted, b.weighted)


def test_classification_import_from_a_codebook(tmp_path):
    path = write_extract(tmp_path, "ipumsi_00004", persons(), VARIABLES)
    frame, metadata, report = import_classification(path, "isco_test", "OCC", group_digits=[1], exclude=[9998, 9999])
    frame = frame.set_index("code")
    assert sorted(frame.index[frame["level"] == 2]) == [110, 1111, 1112, 2211, 9269]
    assert sorted(frame.index[frame["level"] == 1]) == [0, 1, 2, 9]  # "0110" keeps its leading zero: group 0
    assert frame.at[110, "parent"] == 0 and frame.at[1112, "parent"] == 1 and frame.at[1111, "title"] == "Legislators"
    assert metadata["label"] == "Occupation, ISCO general"
    assert report.excluded == ["9998", "9999"]
    (tmp_path / "ipumsi_00004.dat.gz").unlink()  # the codebook alone is enough
    again = import_classification(path, "isco_test", "OCC", group_digits=[1], exclude=[9998, 9999])[0]
    pd.testing.assert_frame_equal(again.set_index("code"), frame)


def test_bad_extracts_are_refused_in_one_line(tmp_path):
    frame = persons(20)
    hierarchical = write_extract(tmp_path, "hier", frame, VARIABLES, structure="hierarchical")
    with pytest.raises(CamsisError, match=r"hierarchical extract .*rectangular"):
        list(iter_chunks(hierarchical, ["OCC"]))
    lonely = tmp_path / "lonely.xml"
    lonely.write_text(codebook_xml(VARIABLES, "lonely.dat"))
    with pytest.raises(CamsisError, match=r"data file lonely.dat, which is not beside it.*lonely.dat.gz"):
        input_columns(lonely)
    other = tmp_path / "other.xml"
    other.write_text("<config><a>1</a></config>")
    with pytest.raises(CamsisError, match="not an IPUMS DDI codebook"):
        input_columns(other)
    broken = tmp_path / "broken.xml"
    broken.write_text("<codeBook>")
    with pytest.raises(CamsisError, match="not an XML file"):
        input_columns(broken)
    good = write_extract(tmp_path, "good", frame, VARIABLES)
    with pytest.raises(CamsisError, match=r"extension '.gz'.*data file of an IPUMS extract: name its codebook .*good.xml"):
        input_columns(tmp_path / "good.dat.gz")
    with pytest.raises(CamsisError, match=r"'sploc' \(did you mean 'SPLOC'\?\) not in .*good.xml"):
        list(iter_chunks(good, ["sploc"]))
    (tmp_path / "good.dat.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CamsisError, match=r"cannot read .*good.dat.gz \(the data file of IPUMS codebook"):
        list(iter_chunks(good, ["OCC"]))


def test_an_extract_decoded_once_gives_every_scale_the_table_and_checksum_of_the_extract(tmp_path):
    """Rule decode_input's Parquet, read by rule tabulate, against tabulating the extract itself."""
    from camsis import steps
    from helpers import TOY, write_classification

    write_classification(tmp_path, "toy", TOY)
    frame = persons(400)
    frame["OCC"] = np.random.default_rng(8).choice([111, 112, 121, 122, 211, 212, 221, 222], len(frame))
    path = write_extract(tmp_path, "ipumsi_00005", frame, VARIABLES)
    cache, info = tmp_path / "cache.parquet", tmp_path / "cache.json"
    variables = steps.input_variables(["PERNUM", "SPLOC", "SERIAL", "SEX", "OCC", "PERWT", ""], "SAMPLE == 76201001")
    assert variables == ["PERNUM", "SPLOC", "SERIAL", "SEX", "OCC", "PERWT", "SAMPLE"]
    assert steps.decode_input(path, cache, info, variables=variables, chunksize=64) == len(frame)
    pd.testing.assert_frame_equal(pd.read_parquet(cache), pd.concat(iter_chunks(path, variables), ignore_index=True))
    cells = dict(person="PERNUM", partner="SPLOC", household="SERIAL", sex="SEX", first_sex="1", occ="OCC",
                 weight="PERWT", where="SAMPLE == 76201001", layout="persons", chunksize=50)
    classification = [tmp_path / "toy.tsv", tmp_path / "toy.yaml"]
    steps.tabulate(path, classification, tmp_path / "a.parquet", tmp_path / "a.json", steps.InputSpec(**cells))
    steps.tabulate(path, classification, tmp_path / "b.parquet", tmp_path / "b.json", steps.InputSpec(**cells),
                   decoded=[cache, info])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["input_sha256"] == b["input_sha256"] == file_sha256(path)
    assert a["linking"] == b["linking"] and a["linking"]["filtered"] > 0
    with pytest.raises(CamsisError, match=r"'sploc' \(did you mean 'SPLOC'\?\) not in .*ipumsi_00005.xml; it has: SAMPLE"):
        steps.tabulate(path, classification, tmp_path / "c.parquet", tmp_path / "c.json",
                       steps.InputSpec(**(cells | {"partner": "sploc"})), decoded=[cache, info])
