"""IPUMS extracts as IPUMS delivers them, written by code: a DDI codebook (.xml) and a fixed-width data file.

The codebook follows the DDI 2.5 layout of IPUMS extracts (codeBook > stdyDscr, fileDscr >
fileTxt, dataDscr > var with location, dcml, catgry); values are written as integers at the
variable's width with its implied decimals (PERWT 12.5 with 2 decimals is "0001250"), so a
reader that forgot the decimals would be off by 10**decimals.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

NAMESPACE = "http://www.icpsr.umich.edu/DDI"


@dataclass
class Variable:
    """One variable of an extract: its IPUMS name, width, implied decimals and categories {code: label}."""

    name: str
    width: int
    decimals: int = 0
    label: str = ""
    categories: dict = field(default_factory=dict)


def fixed_width_lines(frame: pd.DataFrame, variables: list[Variable]) -> str:
    """The records of ``frame`` as IPUMS writes them: each value times 10**decimals, zero-padded to its width."""
    columns = []
    for v in variables:
        values = np.rint(frame[v.name].to_numpy(dtype=float) * 10**v.decimals).astype(np.int64)
        if (values < 0).any() or (values >= 10**v.width).any():
            raise ValueError(f"{v.name} does not fit {v.width} digits")
        columns.append(np.char.zfill(values.astype(str), v.width))
    records = columns[0]
    for column in columns[1:]:
        records = np.char.add(records, column)
    return "\n".join(records.tolist()) + "\n"


def codebook_xml(variables: list[Variable], data_name: str, structure: str = "rectangular",
                 samples: tuple[str, ...] = ()) -> str:
    """A DDI codebook describing ``data_name`` with ``variables`` in this order."""
    parts, start = [], 1
    for v in variables:
        end = start + v.width - 1
        cats = "".join(f"<catgry><catValu>{escape(str(code))}</catValu><labl>{escape(label)}</labl></catgry>"
                       for code, label in v.categories.items())
        interval = "discrete" if v.categories else "contin"
        parts.append(
            f'<var ID="{v.name}" files="ExtractData" name="{v.name}" intrvl="{interval}" dcml="{v.decimals}">'
            f'<location StartPos="{start}" width="{v.width}" EndPos="{end}"/>'
            f"<labl>{escape(v.label or v.name)}</labl><txt>{escape(v.name)} (test extract)</txt>{cats}"
            f'<concept vocab="IPUMS">Test variables</concept><varFormat schema="other" type="numeric"/></var>')
        start = end + 1
    groups = ('<recGrp keyvar="SERIAL" recidvar="RECTYPE" rectype="P"><labl>Person Record</labl></recGrp>'
              '<recGrp recidvar="RECTYPE" rectype="H"><labl>Household Record</labl></recGrp>'
              if structure == "hierarchical" else "")
    notes = "".join(f"<notes>Additional notes on a sample that is part of this study: {escape(s)}</notes>"
                    for s in samples)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<codeBook xmlns="{NAMESPACE}" version="2.5" ID="test-{escape(data_name)}">'
        "<stdyDscr><citation><titlStmt><titl>Test extract</titl></titlStmt>"
        '<serStmt><serName abbr="ipumsi">IPUMS International</serName><serInfo>DOI:test</serInfo></serStmt>'
        f"</citation><stdyInfo>{notes}</stdyInfo><dataAccs><useStmt><citReq>Test data, not IPUMS data.</citReq>"
        "<conditions>None.</conditions></useStmt></dataAccs></stdyDscr>"
        f'<fileDscr ID="ExtractData"><fileTxt><fileName>{escape(data_name)}</fileName>'
        f'<fileCont>Microdata records</fileCont><fileStrc type="{structure}">{groups}</fileStrc>'
        '<fileType charset="ISO-8859-1">ISO-8859-1 data file</fileType><format>fixed length fields</format>'
        "<filePlac>test</filePlac></fileTxt></fileDscr>"
        f"<dataDscr>{''.join(parts)}</dataDscr></codeBook>\n"
    )


def write_extract(directory, stem: str, frame: pd.DataFrame, variables: list[Variable], data: str = "dat.gz",
                  structure: str = "rectangular", samples: tuple[str, ...] = ()) -> Path:
    """Write ``{stem}.xml`` and its data file (``data``: dat.gz, dat, csv or parquet); returns the codebook's path.

    The codebook names ``{stem}.dat`` as IPUMS does whatever the download's compression. A
    .csv or .parquet holds the values with their decimals applied, as IPUMS delivers them.
    """
    directory = Path(directory)
    if data == "dat.gz":
        with gzip.open(directory / f"{stem}.dat.gz", "wt", encoding="latin-1") as handle:
            handle.write(fixed_width_lines(frame, variables))
    elif data == "dat":
        (directory / f"{stem}.dat").write_text(fixed_width_lines(frame, variables), encoding="latin-1")
    elif data == "csv":
        frame[[v.name for v in variables]].to_csv(directory / f"{stem}.csv", index=False)
    elif data == "parquet":
        frame[[v.name for v in variables]].to_parquet(directory / f"{stem}.parquet", index=False)
    else:
        raise ValueError(data)
    path = directory / f"{stem}.xml"
    path.write_text(codebook_xml(variables, f"{stem}.dat", structure, samples), encoding="utf-8")
    return path


# The census workload of issue 23: one IPUMS-International-style extract holding several
# samples of persons on ISCO-08, and a sheet with one row per sample (filter SAMPLE == ...).
CENSUS_VARIABLES = [
    Variable("SAMPLE", 9, label="IPUMS sample identifier"),
    Variable("YEAR", 4, label="Census round"),
    Variable("SERIAL", 8, label="Household serial number"),
    Variable("PERNUM", 4, label="Person number"),
    Variable("SPLOC", 2, label="Spouse's location in household", categories={"00": "No spouse present"}),
    Variable("SEX", 1, label="Sex", categories={"1": "Male", "2": "Female", "9": "Unknown"}),
    Variable("PERWT", 8, decimals=2, label="Person weight"),
    Variable("OCC", 4, label="Occupation, ISCO-08", categories={"9998": "Unknown", "9999": "NIU (not in universe)"}),
]
CENSUS_HEADER = ["scale", "input", "occ1", "occ2", "weight", "classification", "psds", "diagonal_digits", "filter",
                 "layout", "person", "partner", "household", "sex", "first_sex", "occ", "wave"]


def census_row(scale: str, codebook: str, sample: int) -> list[str]:
    """The sheet row building one sample of an extract (persons linked by SPLOC, first_sex 1)."""
    return [scale, codebook, "", "", "PERWT", "isco08", "", "0", f"SAMPLE == {sample}", "persons", "PERNUM", "SPLOC",
            "SERIAL", "SEX", "1", "OCC", "YEAR"]


def write_census(directory, samples: dict[str, int], couples: int, stem: str = "ipumsi_00023",
                 sheet: str = "config/census.tsv") -> tuple[dict, dict]:
    """Write ``{stem}.xml`` + ``{stem}.dat.gz`` holding ``samples`` (scale -> IPUMS sample id) and the sheet.

    Each sample's ``couples`` are simulated with a known truth (camsis.method.synthetic, seeds 300,
    301, ...) on the real ISCO-08 frame and written as persons with planted linking faults in
    known numbers (tests/personfiles.py: singles, partners not in the file, links not returned,
    same-sex couples, an unknown sex written as IPUMS's 9 "Unknown"); weights carry IPUMS's
    two implied decimals. Returns, per scale, the truth (``SimulatedCouples.truth``) and the
    counts summary.json's ``linking`` must report (the other samples' persons as filtered).
    """
    from camsis.classifications.classification import load_classification
    from camsis.method.synthetic import simulate_couples
    from helpers import REPO
    from personfiles import person_file

    directory = Path(directory)
    isco = load_classification("isco08", REPO / "data/classifications")
    parts, truths, counts = [], {}, {}
    for k, (scale, sample) in enumerate(samples.items()):
        sim = simulate_couples(isco.units, n_couples=couples, seed=300 + k, missing_share=0.0, invalid_share=0.0)
        pairs = pd.DataFrame({"hocc": sim.couples["hocc"].astype(float), "wocc": sim.couples["wocc"].astype(float),
                              "wt": np.round(sim.couples["weight"], 2), "hstat": 1.0, "wstat": 1.0})
        persons, expected = person_file(pairs, "ipums", repeats=0, seed=k, codes=(1111, 9211, 2211))
        parts.append(pd.DataFrame({
            "SAMPLE": sample, "YEAR": 2000 + persons["year"], "SERIAL": persons["serial"], "PERNUM": persons["pernum"],
            "SPLOC": persons["sploc"].fillna(0).clip(lower=0),  # IPUMS: 0 = no spouse present
            "SEX": persons["sex"].fillna(9), "PERWT": persons["perwt"], "OCC": persons["occ"]}))
        truths[scale], counts[scale] = sim.truth, expected
    extract = pd.concat(parts, ignore_index=True)
    write_extract(directory, stem, extract, CENSUS_VARIABLES, samples=tuple(samples))
    for scale in samples:
        counts[scale] = counts[scale] | {"persons": len(extract), "filtered": len(extract) - counts[scale]["persons"]}
    rows = [CENSUS_HEADER] + [census_row(scale, f"{stem}.xml", sample) for scale, sample in samples.items()]
    (directory / sheet).write_text("".join("\t".join(row) + "\n" for row in rows))
    return truths, counts
