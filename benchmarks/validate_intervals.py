"""Do the score file's intervals hold? Repeated surveys from a known truth, built through the workflow's steps.

Two truths (``--case``):

``demo``
    The demo's generator as it draws its own truth (``camsis.method.synthetic.simulate_couples``,
    seed 2020, the GB pseudo-diagonal blocks): scores that fall with the major group,
    split-lognormal unit sizes; 200,000 couples a survey.
``real``
    A truth with real group structure: the published GB SOC2020 v1 unit scores
    (``tests/data/gb_soc2020_v1.dta``; SOC2020 minor groups explain 88% of the men's and 89%
    of the women's unit variance) as the latent scores, and unit sizes from the published v2
    file's case counts (``n_hbst3``, ``n_wbst3`` summed over statuses; a unit without one takes
    half the smallest), flattened (shares proportional to counts^a) so that a quarter of the
    412 units expect fewer than 30 pairs in a 20,000-couple survey, as a real national survey
    has; 20,000 couples a survey.

``--units by_status`` (demo only) validates the by-status scale instead: the demo's
(occupation, status) truth (``camsis.method.synthetic.simulate_status_couples``, seed 2020, the
empst3 statuses, as rule simulate_demo draws it), and each survey built by the steps of both
variants (tabulate, blank, score_units, bootstrap_batch, bootstrap_gather and score_file, by status
given the scheme); the status units' rows of the
by-status file are compared (pairs: ``n_hbst3``/``n_wbst3``, a merged unit's pool's).

The truth is drawn (or read) once; every survey then draws its couples from that one model
with its own seed (``simulate_couples(..., truth=...)``), writes them as parquet and builds the
scale with the functions the workflow's rules call (``camsis.steps``: tabulate, blank,
score_units, bootstrap_batch, bootstrap_gather, score_file), in one process, the bootstrap as
one batch. The score file's unit rows are compared with three targets:

* ``truth``: the latent scores on the scale's metric (each side standardised to mean 50 and
  SD 15 over the population, the model's unit shares; clipped to [1, 99]);
* ``estimand``: what a CAMSIS scale estimates, in closed form (``ca_estimand``): the first
  CA dimension of the model's cell probabilities with the blanked cells at zero (a direct
  SVD), each unit's principal coordinate (the mean of its partners' standard coordinates)
  standardised to the metric over the population. The latent score of the log-linear model
  is not that: the CA scores a unit by its partners, and the partners' mean latent score is
  a bent function of the unit's own (plus the second dimension's pull), so the two differ by
  ~2 points RMSE on the demo, however large the sample;
* ``population``: the scale the method gives without sampling error (the same build on the
  model's expected table, 10^7 pairs: the smoothing's variance-ratio search loses precision
  beyond ~10^8, see the docs): for units with many pairs it equals the estimand to ~0.01
  point; small units still show the smoothing's shrinkage in it.

Reported by band of pairs behind a unit's score (``n_m``/``n_f``: 1-9, 10-29, 30-99, 100+; 0:
imputed from the group) and side: the correlation r with the target, the RMSE, the mean
interval width, and the coverage of each interval the file offers: ``model`` (score +/- 1.96
``{s}cam_se``), ``lohi`` (the file's ``{s}cam_lo``-``{s}cam_hi``: score +/- 1.96 ``{s}cam_tse``,
the same as ``total``; the bootstrap percentile interval before i22-ci), ``bse`` (score +/- 1.96
``{s}cam_bse``) and ``total`` (score +/- 1.96 ``{s}cam_tse``).

    python benchmarks/validate_intervals.py --case real --surveys 20 --replicates 100
    python benchmarks/validate_intervals.py --case demo --surveys 10 --replicates 100 --jobs 2
    python benchmarks/validate_intervals.py --case demo --units by_status --surveys 10 --replicates 100
    python benchmarks/validate_intervals.py --case real --failures      # twenty surveys, B=100: any failing?
    python benchmarks/validate_intervals.py --option smoothing=one_level  # any ScaleOptions keyword

``--failures`` builds twenty 20,000-couple real-structure surveys with B = 100 and reports,
for each, whether every step ran (a bootstrap replicate whose table falls apart stops the
batch with a CamsisError naming it); it exits 1 if any failed. Tables go to stdout and, with
every figure, to ``benchmarks/out/validate_intervals/<case>.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _common import OUT as BENCH_OUT
from _common import REPO, soc2020

from camsis import steps
from camsis.classifications.statuses import expand_mask
from camsis.method.pairtable import PairTable
from camsis.method.synthetic import simulate_couples, simulate_status_couples
from camsis.scaling.by_status import build_by_status_scores
from camsis.scaling.scale import build_unit_scores
from camsis.steps import blank_table, read_scale_inputs, scheme_from

OUT = BENCH_OUT / "validate_intervals"
CLASSIFICATION = [REPO / "data" / "classifications" / "soc2020.tsv", REPO / "data" / "classifications" / "soc2020.yaml"]
PSDS = REPO / "data" / "psds" / "gb_soc2020.tsv"
SCHEME = [REPO / "data" / "statuses" / "empst3.tsv", REPO / "data" / "statuses" / "empst3.yaml"]
PUBLISHED_V1 = REPO / "tests" / "data" / "gb_soc2020_v1.dta"
PUBLISHED_V2 = REPO / "tests" / "data" / "gb_soc2020_v2.dta"
BANDS = [(0, 0, "0 (imputed)"), (1, 9, "1-9"), (10, 29, "10-29"), (30, 99, "30-99"), (100, np.inf, "100+")]
SIDE = {"m": "male", "f": "female"}
Z = 1.959963984540054
CASES = {"demo": 200_000, "real": 20_000}
SMALL_SHARE, SMALL_PAIRS, REAL_COUPLES = 0.25, 30, 20_000
POPULATION_PAIRS = 10**7


def published_truth(units: np.ndarray) -> pd.DataFrame:
    """The real-structure truth: published v1 scores, v2 case counts flattened to a quarter of units under 30 pairs."""
    v1 = pd.read_stata(PUBLISHED_V1, convert_categoricals=False).set_index("soc2020")
    v2 = pd.read_stata(PUBLISHED_V2, convert_categoricals=False)
    counts = v2[v2["soc2020"].isin(units)].groupby("soc2020")[["n_hbst3", "n_wbst3"]].sum(min_count=1).reindex(units)
    counts = counts.fillna(counts.min().min() / 2)
    truth = pd.DataFrame({"male_score": v1.loc[units, "mcamsis"].to_numpy(float),
                          "female_score": v1.loc[units, "fcamsis"].to_numpy(float)}, index=pd.Index(units, name="unit"))
    exponent = flattening(counts.to_numpy(float))
    truth["male_share"] = counts["n_hbst3"].to_numpy() ** exponent
    truth["female_share"] = counts["n_wbst3"].to_numpy() ** exponent
    truth.attrs["size_exponent"] = exponent
    return truth


def flattening(counts: np.ndarray) -> float:
    """The exponent a for which shares proportional to counts^a leave a quarter of units under 30 expected pairs."""
    def small(a):
        shares = counts**a / (counts**a).sum(axis=0)
        return (shares * REAL_COUPLES < SMALL_PAIRS).mean()
    low, high = 0.0, 1.5
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if small(middle) < SMALL_SHARE else (low, middle)
    return (low + high) / 2


def case_truth(case: str, units: np.ndarray, blocks: pd.DataFrame, by_status: bool = False) -> pd.DataFrame:
    """The case's truth; ``by_status``: the demo's (occupation, status) truth (``steps.simulate_demo``'s draw)."""
    if by_status:
        return simulate_status_couples(units, statuses=scheme_from(SCHEME).scored, n_couples=1, seed=2020,
                                       blocks=blocks).truth
    if case == "real":
        return published_truth(units)
    return simulate_couples(units, n_couples=1, seed=2020, blocks=blocks).truth


def on_metric(truth: pd.DataFrame, side: str, mean=50.0, sd=15.0, clip=(1.0, 99.0)) -> pd.Series:
    """A side's latent score on the published metric over the model's population."""
    score, share = truth[f"{SIDE[side]}_score"], truth[f"{SIDE[side]}_share"]
    centre = np.average(score, weights=share)
    spread = np.sqrt(np.average((score - centre) ** 2, weights=share))
    return (mean + sd * (score - centre) / spread).clip(*clip)


def expected_table(probabilities: np.ndarray, units: np.ndarray, dropped: dict | None = None) -> PairTable:
    """The model's table of ``POPULATION_PAIRS`` expected pairs (rounded): a survey without sampling error."""
    counts = np.rint(probabilities * POPULATION_PAIRS).astype(np.int64)
    frame = dict(index=pd.Index(units, name="occ1"), columns=pd.Index(units, name="occ2"))
    return PairTable(weighted=pd.DataFrame(counts.astype(float), **frame), counts=pd.DataFrame(counts, **frame),
                     read=int(counts.sum()), used=int(counts.sum()), dropped=dict(dropped or {}),
                     source="expected table")


def ca_estimand(probabilities: np.ndarray, blanked: np.ndarray, truth: pd.DataFrame) -> pd.DataFrame:
    """What a CAMSIS scale estimates, in closed form: the first CA dimension of the model's blanked table.

    The CA of the cell probabilities with the blanked cells at zero (a direct SVD of the
    standardised residuals, not camsis.method.ca), each unit's principal coordinate (the mean of its
    partners' standard coordinates over the cells the scale does not blank), standardised to
    the metric over the population (the model's unit shares, blanked pairs included), oriented
    with the latent truth. Columns ``m``, ``f``, indexed as ``truth``.
    """
    kept = np.where(blanked, 0.0, probabilities)
    kept = kept / kept.sum()
    rows, columns = kept.sum(axis=1), kept.sum(axis=0)
    residuals = (kept - np.outer(rows, columns)) / np.sqrt(np.outer(rows, columns))
    left, _, right = np.linalg.svd(residuals)
    row_standard, column_standard = left[:, 0] / np.sqrt(rows), right[0] / np.sqrt(columns)
    principal = {"m": kept @ column_standard / rows, "f": kept.T @ row_standard / columns}
    out = {}
    for side, score in principal.items():
        share = truth[f"{SIDE[side]}_share"].to_numpy()
        centre = np.average(score, weights=share)
        out[side] = 50.0 + 15.0 * (score - centre) / np.sqrt(np.average((score - centre) ** 2, weights=share))
    if np.corrcoef(out["m"], truth["male_score"])[0, 1] < 0:  # an SVD's sign is arbitrary
        out = {side: 100.0 - values for side, values in out.items()}
    return pd.DataFrame(out, index=truth.index).clip(1.0, 99.0)


def model_estimand(truth: pd.DataFrame, classification_units: np.ndarray, blocks: pd.DataFrame,
                   by_status: bool) -> pd.DataFrame:
    """``ca_estimand`` of the truth's model, blanked as every survey is (diagonals in groups 1-2, the GB blocks).

    By status, the occupations' masks cover each of their statuses, as in the by-status build.
    """
    units = truth.index.to_numpy()
    if by_status:
        sim = simulate_status_couples(classification_units, statuses=scheme_from(SCHEME).scored, n_couples=1,
                                      blocks=blocks, truth=truth)
        n, k = classification_units.size, units.size // classification_units.size
        occupations = sim.probabilities.reshape(n, k, n, k).sum(axis=(1, 3))
    else:
        sim = simulate_couples(classification_units, n_couples=1, blocks=blocks, truth=truth)
        occupations = sim.probabilities
    mask, _, _ = blank_table(expected_table(occupations, classification_units),
                             steps.classification_from(CLASSIFICATION), scale="validate", diagonal_digits=0,
                             diagonal_groups="1,2", psds=str(PSDS))
    blanked = expand_mask(mask, units) if by_status else mask.loc[units, units]
    return ca_estimand(sim.probabilities, blanked.to_numpy(dtype=bool), truth)


class Survey:
    """The scale of one survey's couples, built by the workflow's steps in a temporary directory."""

    def __init__(self, work: Path, options: dict):
        self.work, self.options = work, options

    def build(self, couples: pd.DataFrame, replicates: int, seed: int) -> pd.DataFrame:
        w = self.work
        couples.to_parquet(w / "couples.parquet", index=False)
        steps.tabulate(w / "couples.parquet", CLASSIFICATION, w / "table.parquet", w / "table.json",
                       steps.InputSpec(occ1="hocc", occ2="wocc", weight="weight"))
        self.blank_and_score()
        boot = {}
        if replicates:
            steps.bootstrap_batch(self.files, batch=w / "batch.parquet", replicates=range(1, replicates + 1), seed=seed,
                                  **self.options)
            steps.bootstrap_gather([w / "batch.parquet"], w / "units.tsv", CLASSIFICATION, w / "boot.tsv",
                                   w / "boot_long.parquet", w / "boot.json", bootstrap=replicates, seed=seed)
            boot = dict(bootstrap=w / "boot.tsv", bootstrap_info=w / "boot.json")
        records = steps.BuildRecords(w / "table.json", w / "blanking.json", **boot)
        steps.score_file(w / "units.tsv", w / "scaling.json", records, CLASSIFICATION,
                         w / "scale.dta", w / "scale.csv", w / "summary.json", self.provenance)
        return pd.read_csv(w / "scale.csv").set_index("soc2020")

    @property
    def provenance(self) -> steps.Provenance:
        return steps.Provenance("validate", {"input": "validation survey"}, self.options)

    def build_by_status(self, couples: pd.DataFrame, replicates: int, seed: int) -> pd.DataFrame:
        """The by-status score file's status units (indexed by combined code; pairs as ``n_m``, ``n_f``)."""
        w = self.work
        couples.to_parquet(w / "couples.parquet", index=False)
        spec = steps.InputSpec(occ1="hocc", occ2="wocc", weight="weight", status1="hemp", status2="wemp")
        steps.tabulate(w / "couples.parquet", CLASSIFICATION, w / "table.parquet", w / "table.json", spec)
        steps.tabulate(w / "couples.parquet", CLASSIFICATION, w / "status_table.parquet", w / "status_table.json",
                       spec, scheme=SCHEME)
        self.blank_and_score()
        status_files = steps.ScaleFiles(table=w / "status_table.parquet", table_info=w / "status_table.json",
                                        blanked=w / "blanked.parquet", classification=CLASSIFICATION)
        steps.score_units(status_files, scores=w / "status_units.tsv", scaling=w / "status_scaling.json",
                          ranking=w / "status_ranking.tsv", scheme=SCHEME, **self.options)
        boot, status_boot = {}, {}
        if replicates:
            draws = dict(replicates=range(1, replicates + 1), seed=seed, **self.options)
            steps.bootstrap_batch(self.files, batch=w / "batch.parquet", **draws)
            steps.bootstrap_batch(self.files, batch=w / "status_batch.parquet", scheme=SCHEME,
                                  status_table=steps.StatusTableFiles(w / "status_table.parquet",
                                                                      w / "status_table.json"), **draws)
            steps.bootstrap_gather([w / "batch.parquet"], w / "units.tsv", CLASSIFICATION, w / "boot.tsv",
                                   w / "boot_long.parquet", w / "boot.json", bootstrap=replicates, seed=seed)
            steps.bootstrap_gather([w / "status_batch.parquet"], w / "status_units.tsv", CLASSIFICATION,
                                   w / "status_boot.tsv", w / "status_boot_long.parquet", w / "status_boot.json",
                                   bootstrap=replicates, seed=seed, scheme=SCHEME)
            boot = dict(bootstrap=w / "boot.tsv", bootstrap_info=w / "boot.json")
            status_boot = dict(bootstrap=w / "status_boot.tsv", bootstrap_info=w / "status_boot.json")
        steps.score_file(w / "units.tsv", w / "scaling.json", steps.BuildRecords(w / "table.json", w / "blanking.json",
                                                                                 **boot),
                         CLASSIFICATION, w / "scale.dta", w / "scale.csv", w / "summary.json", self.provenance)
        steps.score_file(w / "status_units.tsv", w / "status_scaling.json",
                         steps.BuildRecords(w / "status_table.json", w / "blanking.json", **status_boot),
                         CLASSIFICATION, w / "status.dta", w / "status.csv", w / "status_summary.json",
                         self.provenance, scheme=SCHEME, title_csv=w / "scale.csv")
        scheme = scheme_from(SCHEME)
        table = pd.read_csv(w / "status.csv")
        units = table[table[scheme.variable] != scheme.unknown].set_index(f"soc2020_{scheme.name}")
        return units.rename(columns={scheme.counts[side]: f"n_{side}" for side in SIDE})

    @property
    def files(self) -> steps.ScaleFiles:
        w = self.work
        return steps.ScaleFiles(table=w / "table.parquet", table_info=w / "table.json", blanked=w / "blanked.parquet",
                                classification=CLASSIFICATION)

    def blank_and_score(self) -> None:
        """The title-only masks and unit scores of the table in ``work``."""
        w = self.work
        steps.blank(w / "table.parquet", w / "table.json", CLASSIFICATION, w / "blanked.parquet", w / "blanking.json",
                    scale="validate", diagonal_digits=0, diagonal_groups="1,2", psds=str(PSDS))
        steps.score_units(self.files, scores=w / "units.tsv", scaling=w / "scaling.json", ranking=w / "ranking.tsv",
                          **self.options)

    def population_scale(self, probabilities: np.ndarray, units: np.ndarray, by_status: bool = False) -> pd.DataFrame:
        """The build on the model's expected table (``POPULATION_PAIRS``): the scale without sampling error.

        ``by_status``: ``probabilities`` are on the (occupation, status) units ``units`` and the
        build is the by-status one, on the survey's title-only masks.
        """
        inputs = read_scale_inputs(self.files, **self.options)
        table = expected_table(probabilities, units, inputs.table.dropped)
        if by_status:
            scores = build_by_status_scores(table, inputs.ca_blank, inputs.smooth_blank, inputs.classification,
                                            scheme_from(SCHEME), inputs.options)
        else:
            scores = build_unit_scores(table, inputs.ca_blank, inputs.smooth_blank, inputs.classification,
                                       inputs.options)
        return scores.scores[["mcamsis", "fcamsis"]]


def run_survey(task: dict) -> dict:
    """One survey: draw, build, and the rows to compare (or the error that stopped it)."""
    started = time.perf_counter()
    truth, units, by_status = task["truth"], task["units"], task["by_status"]
    with tempfile.TemporaryDirectory(dir=task["tmp"]) as tmp:
        survey = Survey(Path(tmp), task["options"])
        draw = simulate_status_couples if by_status else simulate_couples
        sim = draw(task["classification_units"], n_couples=task["couples"], seed=task["seed"], blocks=task["blocks"],
                   truth=truth, **({"statuses": scheme_from(SCHEME).scored} if by_status else {}))
        try:
            build = survey.build_by_status if by_status else survey.build
            scale = build(sim.couples, task["replicates"], task["seed"])
        except Exception as error:  # noqa: BLE001 - a failure is what --failures reports
            return {"survey": task["number"], "error": f"{type(error).__name__}: {error}",
                    "trace": traceback.format_exc(limit=3), "seconds": time.perf_counter() - started}
        population = survey.population_scale(sim.probabilities, units, by_status) if task["population"] else None
    rows = unit_rows(scale, units, population)
    rows["survey"] = task["number"]
    return {"survey": task["number"], "rows": rows, "seconds": time.perf_counter() - started}


def unit_rows(scale: pd.DataFrame, units: np.ndarray, population: pd.DataFrame | None) -> pd.DataFrame:
    """Long rows unit x side: estimate, the intervals the file offers, pairs, and the population scale.

    ``scale`` is indexed by unit code (combined code for status units) with ``n_m``, ``n_f``.
    """
    scale = scale.loc[units]
    parts = []
    for side in SIDE:
        part = pd.DataFrame({
            "unit": units, "side": side, "estimate": scale[f"{side}camsis"].to_numpy(),
            "se": scale[f"{side}cam_se"].to_numpy(), "pairs": scale[f"n_{side}"].to_numpy(),
        })
        for column in ("bse", "tse", "lo", "hi"):
            name = f"{side}cam_{column}"
            part[column] = scale[name].to_numpy() if name in scale else np.nan
        for column in ("imputed", "merged"):  # the group a score was borrowed from, the unit it is shared with
            name = f"{side}_{column}"
            part[column] = scale[name].to_numpy() if name in scale else 0
        part["population"] = population[f"{side}camsis"].reindex(units).to_numpy() if population is not None else np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def intervals(rows: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Each interval the score file offers, as (lower, upper)."""
    return {
        "model": (rows["estimate"] - Z * rows["se"], rows["estimate"] + Z * rows["se"]),
        "lohi": (rows["lo"], rows["hi"]),
        "bse": (rows["estimate"] - Z * rows["bse"], rows["estimate"] + Z * rows["bse"]),
        "total": (rows["estimate"] - Z * rows["tse"], rows["estimate"] + Z * rows["tse"]),
    }


def band_table(rows: pd.DataFrame, target: str) -> pd.DataFrame:
    """By side and band of pairs: units, r, RMSE, and each interval's coverage of ``target`` and mean width."""
    out = []
    bounds = intervals(rows)
    for side in SIDE:
        for low, high, label in BANDS:
            at = (rows["side"] == side) & rows["pairs"].between(low, high)
            if not at.any():
                continue
            x, y = rows.loc[at, "estimate"], rows.loc[at, target]
            record = {"side": side, "band": label, "units": int(at.sum()),
                      "r": float(np.corrcoef(x, y)[0, 1]) if at.sum() > 2 else np.nan,
                      "rmse": float(np.sqrt(np.mean((x - y) ** 2))), "bias": float(np.mean(x - y))}
            for name, (lo, hi) in bounds.items():
                lo, hi = lo[at], hi[at]
                known = lo.notna() & hi.notna()
                record[f"{name}_cover"] = float(((lo <= y) & (y <= hi))[known].mean()) if known.any() else np.nan
                record[f"{name}_width"] = float((hi - lo)[known].mean()) if known.any() else np.nan
            out.append(record)
    return pd.DataFrame(out)


def print_table(table: pd.DataFrame, title: str) -> None:
    print(f"\n{title}")
    columns = ["side", "band", "units", "r", "rmse", "bias", "model_cover", "lohi_cover", "bse_cover", "total_cover",
               "model_width", "lohi_width", "total_width"]
    shown = table[[c for c in columns if c in table]].copy()
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def parse_options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` -> ScaleOptions keyword (values read as YAML: numbers, booleans, lists)."""
    options = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not key or not _:
            raise SystemExit(f"validate_intervals: error: --option wants KEY=VALUE, got '{pair}'")
        options[key] = yaml.safe_load(value)
    return options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=[*CASES, "both"], default="real")
    parser.add_argument("--units", choices=["title", "by_status"], default="title",
                        help="title-only units, or (occupation, status) units of the by-status build (demo only)")
    parser.add_argument("--surveys", type=int, default=10, help="surveys drawn from the truth (default 10)")
    parser.add_argument("--replicates", "-B", type=int, default=100, help="bootstrap replicates per survey (default 100)")
    parser.add_argument("--couples", type=int, help="couples per survey (default: 200,000 demo, 20,000 real)")
    parser.add_argument("--seed", type=int, default=1, help="survey i draws from seed * 1000 + i (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="surveys built at once (default 2)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a ScaleOptions keyword for every build, e.g. smoothing=one_level or reml=false")
    parser.add_argument("--failures", action="store_true",
                        help="twenty 20,000-couple real-structure surveys with B=100: report any that fail")
    parser.add_argument("--no-population", action="store_true", help="skip the scale of the expected table")
    args = parser.parse_args(argv)
    if args.failures:
        args.case, args.surveys, args.replicates, args.no_population = "real", 20, 100, True
    options = parse_options(args.option)
    if args.units == "by_status" and args.case != "demo":
        raise SystemExit("validate_intervals: error: --units by_status has a known truth only with --case demo")

    classification, blocks = soc2020()
    units = classification.units
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"validate_intervals: case {args.case}, {args.surveys} surveys, B = {args.replicates}, seed {args.seed}, "
          f"{args.jobs} jobs, options {options or 'defaults'}; load {load:.2f} on {os.cpu_count()} CPUs", flush=True)
    failed = 0
    for case in (CASES if args.case == "both" else [args.case]):
        failed += validate(case, args, options, units, blocks)
    return 1 if args.failures and failed else 0


def validate(case: str, args, options: dict, classification_units: np.ndarray, blocks: pd.DataFrame) -> int:
    by_status = args.units == "by_status"
    truth = case_truth(case, classification_units, blocks, by_status)
    units = truth.index.to_numpy()
    name = f"{case}_by_status" if by_status else case
    couples = args.couples or CASES[case]
    if "size_exponent" in truth.attrs:
        print(f"{case}: unit sizes = published counts^{truth.attrs['size_exponent']:.3f}", flush=True)
    tasks = [dict(number=i, seed=args.seed * 1000 + i, truth=truth, units=units, by_status=by_status,
                  classification_units=classification_units, blocks=blocks, couples=couples,
                  replicates=args.replicates, options=options, tmp=str(OUT), population=not args.no_population)
             for i in range(1, args.surveys + 1)]
    started = time.perf_counter()
    results = []
    context = multiprocessing.get_context("fork")
    with context.Pool(min(args.jobs, len(tasks))) as pool:
        for result in pool.imap_unordered(run_survey, tasks):
            results.append(result)
            state = f"FAILED: {result['error']}" if "error" in result else "ok"
            print(f"[{name}] survey {result['survey']:>3} ({len(results)}/{len(tasks)}) {result['seconds']:.0f} s {state}"
                  f"; {time.perf_counter() - started:.0f} s elapsed, load {os.getloadavg()[0]:.2f}", flush=True)
    failures = [r for r in results if "error" in r]
    for result in sorted(failures, key=lambda r: r["survey"]):
        print(f"\n[{name}] survey {result['survey']} (seed {args.seed * 1000 + result['survey']}) failed:\n{result['trace']}")
    print(f"\n[{name}] {len(results) - len(failures)} of {len(results)} surveys built; {len(failures)} failed")
    built = [r["rows"] for r in results if "rows" in r]
    report = {"case": case, "units": args.units, "couples": couples, "surveys": args.surveys,
              "replicates": args.replicates, "seed": args.seed, "options": options,
              "failed": [{k: r[k] for k in ("survey", "error")} for r in failures], "seconds": time.perf_counter() - started, "load_end": os.getloadavg()[0]}
    if built:
        rows = pd.concat(built, ignore_index=True)
        estimand = model_estimand(truth, classification_units, blocks, by_status)
        for side in SIDE:
            at = rows["side"] == side
            rows.loc[at, "truth"] = rows.loc[at, "unit"].map(on_metric(truth, side))
            rows.loc[at, "estimand"] = rows.loc[at, "unit"].map(estimand[side])
        tables = {"truth": band_table(rows, "truth"), "estimand": band_table(rows, "estimand")}
        gap = rows.drop_duplicates(["unit", "side"])
        print(f"\n[{name}] CA estimand vs latent truth, RMSE: " + ", ".join(
            f"{side} {np.sqrt(np.mean((gap.estimand - gap.truth)[gap.side == side] ** 2)):.2f}" for side in SIDE))
        if rows["population"].notna().any():
            tables["population"] = band_table(rows, "population")
            gap = rows.drop_duplicates(["unit", "side"])
            print(f"\n[{name}] population scale vs truth: RMSE m "
                  f"{np.sqrt(np.mean((gap.population - gap.truth)[gap.side == 'm'] ** 2)):.2f}, f "
                  f"{np.sqrt(np.mean((gap.population - gap.truth)[gap.side == 'f'] ** 2)):.2f}")
        for target, table in tables.items():
            print_table(table, f"[{name}] {couples:,} couples, {len(built)} surveys, B = {args.replicates}: "
                               f"against the {target}")
            report[target] = table.to_dict(orient="records")
        rows.to_parquet(OUT / f"{name}_rows.parquet", index=False)
    (OUT / f"{name}.json").write_text(json.dumps(report, indent=1, default=float))
    return len(failures)


if __name__ == "__main__":
    sys.exit(main())
