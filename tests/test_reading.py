"""Chunked reading: every format gives back the values written, whatever the chunk size,
and every unreadable input stops with one line naming the file."""

import logging

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from camsis.errors import CamsisError
from camsis.io import reading
from camsis.io.reading import input_columns, input_rows, iter_chunks
from helpers import one_line_error


def couples(n=200, seed=0):
    rng = np.random.default_rng(seed)
    hocc = rng.choice([1111, 1112, 2211, 9269, -9, -1], size=n).astype(float)
    hocc[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "pid": np.arange(n, dtype=float),
            "hocc": hocc,
            "wocc": rng.choice([1111, 2211, 3111, 9269, -8], size=n).astype(float),
            "wt": np.round(rng.uniform(0.2, 3.0, size=n), 3),
        }
    )


def write(df, path):
    suffix = path.suffix
    if suffix == ".dta":
        pyreadstat.write_dta(df, str(path))
    elif suffix == ".sav":
        pyreadstat.write_sav(df, str(path))
    elif suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


FORMATS = [".dta", ".sav", ".csv", ".parquet"]


def read_all(path, columns=("hocc", "wocc"), chunksize=1000):
    return pd.concat(list(iter_chunks(path, list(columns), chunksize)), ignore_index=True)


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("chunksize", [1, 7, 1000])
def test_round_trip_every_format(tmp_path, suffix, chunksize):
    df = couples()
    path = write(df, tmp_path / f"c{suffix}")
    got = read_all(path, ["wocc", "hocc", "wt"], chunksize)
    assert list(got.columns) == ["wocc", "hocc", "wt"]
    for col in ["wocc", "hocc", "wt"]:
        np.testing.assert_array_equal(got[col].to_numpy(dtype=float), df[col].to_numpy())


@pytest.mark.parametrize("suffix", FORMATS)
def test_chunks_hold_at_most_chunksize_rows(tmp_path, suffix):
    path = write(couples(100), tmp_path / f"c{suffix}")
    sizes = [len(c) for c in iter_chunks(path, ["hocc"], 30)]
    assert sizes == [30, 30, 30, 10]


def test_wide_stata_records_read_in_fewer_rows_at_once(tmp_path, monkeypatch):
    """The raw-bytes bound shrinks the chunk of a wide file; the values do not change."""
    df = couples(300)
    for i in range(40):
        df[f"x{i}"] = float(i)
    path = write(df, tmp_path / "wide.dta")
    monkeypatch.setattr(reading, "STATA_CHUNK_BYTES", 20_000)
    chunks = list(iter_chunks(path, ["hocc", "wocc"], 1000))
    assert len(chunks) > 1 and max(len(c) for c in chunks) < 300
    got = pd.concat(chunks, ignore_index=True)
    np.testing.assert_array_equal(got["hocc"].to_numpy(float), df["hocc"].to_numpy())


def test_value_labelled_codes_stay_numeric(tmp_path):
    df = pd.DataFrame({"hocc": [1111.0, 2211.0, -9.0], "wocc": [2211.0, 1111.0, 1111.0]})
    labels = {1111: "Chief executives", 2211: "Doctors", -9: "missing"}
    for suffix, writer in [(".dta", pyreadstat.write_dta), (".sav", pyreadstat.write_sav)]:
        path = tmp_path / f"lab{suffix}"
        writer(df, str(path), variable_value_labels={"hocc": labels, "wocc": labels})
        got = read_all(path, ["hocc", "wocc"], 2)
        assert got["hocc"].tolist() == [1111, 2211, -9]


def test_stata_file_with_long_strings(tmp_path):
    df = pd.DataFrame({"hocc": [1111, 2211, 9269], "note": ["a" * 3000, "b", "c"]})
    path = tmp_path / "strl.dta"
    df.to_stata(path, write_index=False, version=117, convert_strl=["note"])
    assert read_all(path, ["hocc"], 2)["hocc"].tolist() == [1111, 2211, 9269]


def test_stata_missing_values_are_nan(tmp_path):
    df = pd.DataFrame({"hocc": [1111.0, np.nan, 2211.0]})
    path = tmp_path / "m.dta"
    df.to_stata(path, write_index=False)
    assert np.isnan(read_all(path, ["hocc"], 1)["hocc"].to_numpy()).tolist() == [False, True, False]


@pytest.mark.parametrize("suffix", FORMATS)
def test_rows_and_columns_from_metadata(tmp_path, suffix):
    path = write(couples(123), tmp_path / f"c{suffix}")
    assert input_rows(path) == (None if suffix == ".csv" else 123)
    assert input_columns(path) == ["pid", "hocc", "wocc", "wt"]


def test_progress_logged_with_share_and_rate(tmp_path, caplog):
    path = write(couples(50), tmp_path / "c.dta")
    with caplog.at_level(logging.INFO, logger="camsis.io.reading"):
        list(iter_chunks(path, ["hocc"], 10))
    last = caplog.records[-1].getMessage()
    assert "50 of 50 (100%) rows read" in last and "rows/s" in last and "done" in last


# ---- bad input: one line naming the culprit ----------------------------------------


def test_missing_file(tmp_path):
    message = one_line_error(read_all, tmp_path / "nowhere.dta")
    assert "nowhere.dta" in message and "does not exist" in message


def test_unsupported_extension(tmp_path):
    path = tmp_path / "couples.xlsx"
    path.write_text("x")
    message = one_line_error(read_all, path)
    assert "couples.xlsx" in message and ".xlsx" in message and ".dta" in message


@pytest.mark.parametrize("suffix", FORMATS)
def test_missing_variable_lists_existing_ones(tmp_path, suffix):
    path = write(couples(10), tmp_path / f"c{suffix}")
    message = one_line_error(read_all, path, ("hocc", "WOCC2"))
    assert "'WOCC2'" in message and str(path) in message
    assert "pid, hocc, wocc, wt" in message


def test_missing_variable_list_is_truncated_and_hints(tmp_path):
    df = pd.DataFrame({f"v{i:03d}": [1.0] for i in range(60)})
    path = write(df, tmp_path / "wide.parquet")
    message = one_line_error(read_all, path, ("v0001",))
    assert "did you mean 'v001'" in message or "did you mean 'v000'" in message
    assert "(60 in all)" in message and "v059" not in message


@pytest.mark.parametrize("suffix", [".dta", ".sav"])
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.9])
def test_truncated_stata_and_spss(tmp_path, suffix, keep):
    whole = write(couples(500), tmp_path / f"whole{suffix}").read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: int(len(whole) * keep)])
    message = one_line_error(read_all, path)
    assert str(path) in message and ("not a valid" in message or "truncated" in message)


def test_text_file_named_dta(tmp_path):
    path = tmp_path / "couples.dta"
    path.write_text("hocc,wocc\n1111,2211\n")
    message = one_line_error(read_all, path)
    assert "couples.dta" in message and "not a valid Stata file" in message


def test_empty_file_named_sav(tmp_path):
    path = tmp_path / "couples.sav"
    path.write_bytes(b"")
    assert "not a valid SPSS file" in one_line_error(read_all, path)


@pytest.mark.parametrize("damage", ["cut", "garble"])
def test_corrupt_parquet(tmp_path, damage):
    whole = write(couples(500), tmp_path / "whole.parquet").read_bytes()
    path = tmp_path / "bad.parquet"
    if damage == "cut":
        path.write_bytes(whole[: len(whole) // 2])
    else:
        footer = len(whole) - 8 - int.from_bytes(whole[-8:-4], "little")
        path.write_bytes(whole[:footer] + b"\xff" * 32 + whole[footer + 32 :])
    message = one_line_error(read_all, path)
    assert "bad.parquet" in message and "not a valid Parquet file" in message


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('hocc,wocc\n1111,2211\n"1111,2211\n')
    assert "bad.csv" in one_line_error(read_all, path)


def test_chunk_size_must_be_positive(tmp_path):
    path = write(couples(5), tmp_path / "c.csv")
    assert "chunk size" in one_line_error(read_all, path, chunksize=0)


def test_file_sha256_is_the_checksum_of_the_whole_file_whatever_the_block(tmp_path):
    import hashlib

    data = bytes(range(256)) * 1000
    (tmp_path / "f.bin").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert reading.file_sha256(tmp_path / "f.bin") == expected
    assert reading.file_sha256(tmp_path / "f.bin", block=1000) == expected


def test_csv_with_two_columns_of_one_name_is_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("hocc,hocc,wt\n1111,2111,1.0\n")
    with pytest.raises(CamsisError, match=r"dup.csv has two columns named 'hocc' \(columns 1 and 2\)"):
        list(iter_chunks(path, ["hocc"]))


def test_csv_with_another_separator_gets_a_hint_and_reads_with_sep(tmp_path):
    path = tmp_path / "semi.csv"
    pd.DataFrame({"hocc": [1111, 2111], "wocc": [2111, 1111]}).to_csv(path, sep=";", index=False)
    with pytest.raises(CamsisError, match="looks ';'-separated; set the sheet column sep"):
        list(iter_chunks(path, ["hocc", "wocc"]))
    chunk, = iter_chunks(path, ["hocc", "wocc"], sep=";")
    assert chunk["hocc"].tolist() == [1111, 2111]


def test_latin1_csv_gets_an_encoding_hint_and_reads_with_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("hocc,wocc,région\n1111,2111,Île\n".encode("latin-1"))
    with pytest.raises(CamsisError, match=r"cannot read .*latin.csv as utf-8 text \(byte 0xe9.*set the sheet column encoding"):
        list(iter_chunks(path, ["hocc", "wocc"]))
    chunk, = iter_chunks(path, ["hocc", "région"], encoding="latin-1")
    assert chunk["région"].tolist() == ["Île"]


def test_cached_checksum_hashes_again_only_when_the_file_changed(tmp_path, monkeypatch):
    """New contents under a kept mtime (touch -r) get a new sha256; an untouched file is not read again."""
    import hashlib
    import os

    path, cache = tmp_path / "data.csv", tmp_path / "cache/checksums.json"
    path.write_text("a,b\n1,2\n")
    calls = []
    monkeypatch.setattr(reading, "file_sha256", lambda p: calls.append(p) or hashlib.sha256(open(p, "rb").read()).hexdigest())
    first = reading.cached_sha256(path, cache)
    assert first == hashlib.sha256(b"a,b\n1,2\n").hexdigest() and reading.cached_sha256(path, cache) == first
    assert len(calls) == 1
    kept = os.stat(path)
    path.write_text("a,b\n3,4\n")  # same size, and the old times put back
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    assert reading.cached_sha256(path, cache) == hashlib.sha256(b"a,b\n3,4\n").hexdigest() and len(calls) == 2
    cache.write_text("{not json")  # a damaged cache is started afresh
    assert reading.cached_sha256(path, cache) == hashlib.sha256(b"a,b\n3,4\n").hexdigest() and len(calls) == 3


def test_a_variable_in_the_wrong_case_is_pointed_to_its_case_variants(tmp_path):
    """'Hocc' with hocc and HOCC in the file got "did you mean 'wocc'?"."""
    path = tmp_path / "couples.csv"
    pd.DataFrame({"hocc": [1], "HOCC": [2], "wocc": [3]}).to_csv(path, index=False)
    with pytest.raises(CamsisError, match=r"variable 'Hocc' \(did you mean 'hocc' or 'HOCC'\?\) not in"):
        next(iter_chunks(path, ["Hocc", "wocc"]))


@pytest.mark.parametrize("suffix", [".csv", ".dta", ".parquet"])
def test_a_file_that_cannot_be_opened_is_called_unreadable_not_corrupt(tmp_path, monkeypatch, suffix):
    """A file without read permission was 'not a valid CSV file (truncated, corrupt, ...)'.

    Root reads any file, so the refusal is made by the file system stand-in below."""
    path = tmp_path / f"couples{suffix}"
    path.write_bytes(b"x")

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(reading, "open", refuse, raising=False)
    with pytest.raises(CamsisError) as raised:
        next(iter_chunks(path, ["hocc"]))
    assert str(raised.value) == f"cannot read input file {path}: permission denied (check the file's permissions: ls -l)"
