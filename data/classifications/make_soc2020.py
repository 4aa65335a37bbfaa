"""Provenance: how soc2020.tsv and soc2020.yaml were built from the published score file.

Run once by hand, not by the workflow or the tests:

    python data/classifications/make_soc2020.py ../shared/reference/gb_soc2020_v1.dta tests/data/gb_soc2020_v2.dta

The published CAMSIS file (Lambert, 30 Nov 2023) carries the SOC2020 titles of all 551
codes as the value labels of `soc2020` ("1111. Chief executives and senior officials"),
and links each code to other measures. The code's level is its number of digits and its
parent is the code without its last digit.

NS-SEC depends on employment status as well as occupation, so the published v2 file
(by SOC2020 x empst3) gives it per status: `soc2020_empst3.tsv` keeps v2's ns_sec of every
unit at each scored status (1-3), which by-status score files take (status 0 is the
title-level value of soc2020.tsv, the same in v2).
"""

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import yaml

LINKS = ["isei", "siops", "icam", "ns_sec", "ns_sec_op", "isco08", "isco88"]
INTEGER_LINKS = ["ns_sec", "ns_sec_op", "isco08", "isco88"]
CATEGORICAL_LINKS = ["ns_sec", "ns_sec_op"]
EXPECTED_LEVELS = {1: 9, 2: 26, 3: 104, 4: 412}
OUT = Path(__file__).resolve().parent


def float32_text(value: float) -> str:
    """Shortest text that reads back as the file's float32 value (59.27, not 59.2700004577)."""
    return "" if pd.isna(value) else np.format_float_positional(np.float32(value), trim="-")


def build(dta: Path) -> tuple[pd.DataFrame, dict]:
    data, meta = pyreadstat.read_dta(str(dta))
    labels = meta.value_labels[meta.variable_to_label["soc2020"]]
    frame = pd.DataFrame({"code": sorted(labels)})
    frame["level"] = frame["code"].astype(str).str.len()
    frame["parent"] = pd.array(
        [code // 10 if code >= 10 else pd.NA for code in frame["code"]], dtype="Int64"
    )
    frame["label"] = frame["code"].map(labels)
    prefix = frame.apply(lambda r: re.match(rf"^{r.code}\. ", r.label) is not None, axis=1)
    if not prefix.all():
        raise SystemExit(f"labels without a code prefix: {frame.loc[~prefix, 'label'].tolist()}")
    frame["title"] = frame.apply(lambda r: r.label[len(f"{r.code}. "):], axis=1)
    counts = frame["level"].value_counts().to_dict()
    if counts != EXPECTED_LEVELS:
        raise SystemExit(f"level counts {counts}, expected {EXPECTED_LEVELS}")
    if not frame["parent"].dropna().isin(frame["code"]).all():
        raise SystemExit("a parent is not a code")

    links = data.set_index("soc2020")[LINKS]
    if set(links.index) != set(frame["code"]):
        raise SystemExit("the data rows and the value labels list different codes")
    frame = frame.join(links, on="code")
    for column in INTEGER_LINKS:
        values = pd.to_numeric(frame[column])
        if not (values.dropna() == values.dropna().round()).all():
            raise SystemExit(f"{column} is not integer-valued")
        frame[column] = values.astype("Int64")
    for column in ["isei", "siops", "icam"]:
        frame[column] = frame[column].map(float32_text)
    frame = frame[["code", "level", "parent", "title", "label", *LINKS]]

    metadata = {
        "variable": "soc2020",
        "label": meta.column_names_to_labels["soc2020"],
        "value_label_name": meta.variable_to_label["soc2020"],
        "reference_measure": "isei",
        "source": f"value labels and links of {dta.name} ({meta.file_label})",
        "link_labels": {column: meta.column_names_to_labels[column] for column in LINKS},
        "link_value_labels": {
            column: {int(k): v for k, v in meta.value_labels[meta.variable_to_label[column]].items()}
            for column in CATEGORICAL_LINKS
        },
    }
    return frame, metadata


STATUS_LINKS = {"empst3": "soc2020_empst3.tsv"}


def status_links(v2: Path) -> pd.DataFrame:
    """v2's ns_sec of every unit at each scored empst3 status: code, status, ns_sec."""
    data, _ = pyreadstat.read_dta(str(v2))
    rows = data[data["empst3"] > 0][["soc2020", "empst3", "ns_sec"]]
    rows = rows.rename(columns={"soc2020": "code", "empst3": "status"}).astype("int64")
    return rows.sort_values(["code", "status"]).reset_index(drop=True)


def main(dta: str, v2: str) -> None:
    frame, metadata = build(Path(dta))
    metadata["status_links"] = STATUS_LINKS
    status_links(Path(v2)).to_csv(OUT / STATUS_LINKS["empst3"], sep="\t", index=False, lineterminator="\n")
    frame.to_csv(OUT / "soc2020.tsv", sep="\t", index=False, lineterminator="\n")
    with open(OUT / "soc2020.yaml", "w", encoding="utf-8") as handle:
        yaml.safe_dump(metadata, handle, sort_keys=False, allow_unicode=True, width=200)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
