"""Does the number of bootstrap replicates B change the intervals' coverage? Two runs of the same surveys, paired.

``validate_intervals.py`` run twice with the same ``--seed`` and ``--surveys`` but different
``--replicates`` draws the same couples and builds the same scores (a score does not depend on
B); only the bootstrap SEs, and so the total SEs and the intervals, differ. Pairing the two
runs unit by unit isolates what B does, free of the sampling error both runs share:

    python benchmarks/validate_intervals.py --case real --surveys 100 -B 10 --seed 2 --no-population --label b10
    python benchmarks/validate_intervals.py --case real --surveys 100 -B 100 --seed 2 --no-population --label b100
    python benchmarks/interval_replicates.py benchmarks/out/validate_intervals/real_b10_rows.parquet \\
        benchmarks/out/validate_intervals/real_b100_rows.parquet

For each side and band of pairs and each target (``truth``, ``estimand``): the coverage of the
score file's interval (score +/- 1.96 tse) with each B, their difference with its SE (surveys
as clusters), and, for comparison, the coverage a Student-t multiplier would give: t(df, .975)
with the Welch-Satterthwaite degrees of freedom of tse^2 = (se^2 - own^2) + bse^2, the model
part taken as known and bse^2 resting on B - 1 degrees of freedom, df = (B - 1) (tse / bse)^4
(infinite where the bootstrap term is not in tse, i.e. tse = se).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from scipy import stats
from validate_intervals import BANDS, Z, clustered

KEYS = ["survey", "unit", "side"]


def t_multiplier(rows: pd.DataFrame, replicates: int) -> np.ndarray:
    """t(df, .975) per row, df the Welch-Satterthwaite degrees of freedom of its total SE."""
    bootstrap_in = ~(rows["tse"] <= rows["se"] * (1 + 1e-12))  # groups (no se) too
    df = np.where(bootstrap_in, (replicates - 1) * (rows["tse"] / rows["bse"]) ** 4, np.inf)
    return stats.t.ppf(0.975, df)


def compare(first: pd.DataFrame, second: pd.DataFrame, b_first: int, b_second: int) -> pd.DataFrame:
    """By target, side and band: each run's coverage (z and t multipliers) and the paired difference."""
    both = first.merge(second, on=KEYS, suffixes=("_1", "_2"))
    if not np.allclose(both["estimate_1"], both["estimate_2"], equal_nan=True):
        raise SystemExit("interval_replicates: error: the two runs' scores differ: not the same surveys (same --seed, "
                         "--case, --couples and options?)")
    out = []
    for target in ("truth", "estimand"):
        error = (both["estimate_1"] - both[f"{target}_1"]).abs()
        covered = {}
        for k, (rows, b) in enumerate([(first, b_first), (second, b_second)], start=1):
            tse = both[f"tse_{k}"]
            view = pd.DataFrame({"tse": tse, "se": both[f"se_{k}"], "bse": both[f"bse_{k}"]})
            covered[f"z{k}"] = error <= Z * tse
            covered[f"t{k}"] = error <= t_multiplier(view, b) * tse
        for side in ("m", "f"):
            for low, high, label in BANDS[1:]:
                at = (both["side"] == side) & both["pairs_1"].between(low, high) & both["tse_1"].notna()
                survey = both.loc[at, "survey"]
                record = {"target": target, "side": side, "band": label, "units": int(at.sum()),
                          "surveys": int(survey.nunique())}
                for key in ("z1", "z2", "t1", "t2"):
                    record[key], se = clustered(covered[key][at], survey)
                    if key == "z1":
                        record["z1_se"] = se
                record["z1-z2"], record["z1-z2_se"] = clustered(covered["z1"][at].astype(int)
                                                                - covered["z2"][at].astype(int), survey)
                out.append(record)
    return pd.DataFrame(out).rename(columns={
        "z1": f"B{b_first}", "z1_se": f"B{b_first}_se", "z2": f"B{b_second}", "t1": f"B{b_first}_t",
        "t2": f"B{b_second}_t", "z1-z2": f"B{b_first}-B{b_second}", "z1-z2_se": f"B{b_first}-B{b_second}_se"})


def replicates_of(path: str) -> int:
    """B of a run, from its report next to the rows (``<name>.json``)."""
    import json
    from pathlib import Path

    report = Path(path.removesuffix("_rows.parquet") + ".json")
    return int(json.loads(report.read_text())["replicates"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", help="rows of one run (validate_intervals' <name>_rows.parquet)")
    parser.add_argument("second", help="rows of the other run, the same surveys with another B")
    args = parser.parse_args(argv)
    b_first, b_second = replicates_of(args.first), replicates_of(args.second)
    table = compare(pd.read_parquet(args.first), pd.read_parquet(args.second), b_first, b_second)
    for target, part in table.groupby("target", sort=False):
        print(f"\ncoverage of score +/- 1.96 tse (and with a t multiplier, _t) against the {target}, "
              f"B = {b_first} and B = {b_second}, same surveys; SEs with surveys as clusters")
        print(part.drop(columns="target").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
