"""Provenance: the `camsis classification import` commands that built isco08, isco88 and soc2010.

Run from the repository root to rebuild the three frames from the public CAMSIS release
files copied into data/classifications/sources/ (see sources/README.md):

    python data/classifications/imports.py

The tests run the same commands (IMPORTS) into a temporary directory and compare the
result with the shipped .tsv/.yaml, so a change to the importer that changes a shipped
frame fails a test.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"

IMPORTS = {
    # ISCO-08: the 4-digit label set holds units and trailing-zero groups; the 3-, 2- and
    # 1-digit sets hold the groups (armed forces without their leading zero: 11 = 011).
    # ISEI, SIOPS, ICAM and ISCO-88 per ISCO-08 unit from the SOC2020 link file (its rows
    # are SOC2020 units; every ISCO-08 code there has one set of values).
    "isco08": [
        "isco08_labels_2.do", "--units", "isco08_label", "--groups", "isco08_min", "isco08_submaj", "isco08_maj",
        "--links", "soc2020_isco08_isei_siops_icam.dta", "--link-code", "isco08",
        "--link-measures", "isei", "siops", "icam", "isco88", "--reference-measure", "isei",
        "--label", "ISCO-08 (International Standard Classification of Occupations 2008)",
    ],
    # ISCO-88 (COM): SPSS macros; istilab mixes units, trailing-zero groups and groups at
    # their own width; ismilab, issmlab, ismjlab are the groups.
    "isco88": [
        "isco88comlabelsv1.sps", "--units", "istilab", "--groups", "ismilab", "issmlab", "ismjlab",
        "--links", "isco88_isei_siops_icam.dta", "--reference-measure", "isei",
        "--label", "ISCO-88 (COM) (International Standard Classification of Occupations 1988)",
    ],
    # SOC2010: the 369 unit labels of the GB 2010 file; groups by digits (untitled: the
    # file has no group labels); the published GB 2010 scores of status 0 as the link.
    "soc2010": [
        "gb2010soc2010_details.dta", "--units", "soc2010", "--group-digits", "3", "2", "1",
        "--links", "gb2010soc2010_es0.tsv", "--reference-measure", "gb_csm",
        "--label", "Standard Occupational Classification 2010 (UK)",
    ],
}


def soc2010_links(details: Path, out: Path) -> None:
    """The published GB 2010 scores at employment status 0 (no information), one row per SOC2010 unit."""
    import numpy as np
    import pyreadstat

    data, _ = pyreadstat.read_dta(str(details))
    rows = data[data["es"] == 0][["soc2010", "gb_csm", "gb_csf"]].astype({"soc2010": "int64"})
    for column in ("gb_csm", "gb_csf"):  # stored as 4-byte floats: the shortest text that reads back the same
        rows[column] = rows[column].map(lambda v: np.format_float_positional(np.float32(v), trim="-"))
    rows.to_csv(out, sep="\t", index=False, lineterminator="\n")


def argv(name: str, out: Path, force: bool = False) -> list[str]:
    """The import command of `name` with paths into sources/ and output into `out`
    (replacing a frame already there only with `force`)."""
    args = list(IMPORTS[name])
    args[0] = str(SOURCES / args[0])
    links = args.index("--links") + 1
    args[links] = str(SOURCES / args[links])
    return ["classification", "import", *args, "--name", name, "--out", str(out), *(["--force"] if force else [])]


def main() -> int:
    from camsis.cli import main as camsis

    soc2010_links(SOURCES / "gb2010soc2010_details.dta", SOURCES / "gb2010soc2010_es0.tsv")
    for name in IMPORTS:
        status = camsis(argv(name, HERE, force=True))
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
