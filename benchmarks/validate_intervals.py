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
``{s}cam_bse``) and ``total`` (score +/- 1.96 ``{s}cam_tse``), with the SE of the total's
coverage, surveys as clusters (``clustered``).

With a bootstrap, each survey also writes M plausible values (``--plausible``, default 5)
with the workflow's step (``steps.plausible_values``; by status, the by-status file's), and
the tables report what they give (``plausible_rows``, ``pv_pit``): ``pv``, the coverage of
the multiple-imputation interval a user computes from the M values by Rubin's rules (mean
+/- t(M-1, .975) sqrt((1 + 1/M) var)); ``pv_limit``, what that interval tends to as M grows
to B (the plausible values' centre +/- 1.96 tse); ``pv95``, the share of targets inside the
central 95% of the distribution a plausible value is drawn from (its exact CDF, whatever M),
with ``pv_low``/``pv_high`` below and above; ``centre``, the plausible values' centre minus the
score, in total SEs.

    python benchmarks/validate_intervals.py --case real --surveys 20 --replicates 100
    python benchmarks/validate_intervals.py --case demo --surveys 10 --replicates 100 --jobs 2
    python benchmarks/validate_intervals.py --case demo --units by_status --surveys 10 --replicates 100
    python benchmarks/validate_intervals.py --case real --failures      # twenty surveys, B=100: any failing?
    python benchmarks/validate_intervals.py --option smoothing=one_level  # any ScaleOptions keyword
    python benchmarks/validate_intervals.py --case real -B 10 --plausible 5 --label b10  # outputs real_b10.*

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
from scipy import stats
from _common import OUT as BENCH_OUT
from _common import REPO, soc2020

from camsis import steps
from camsis.classifications.statuses import combine, expand_mask
from camsis.method.pairtable import PairTable
from camsis.method.synthetic import simulate_couples, simulate_status_couples
from camsis.scaling.by_status import build_by_status_scores
from camsis.scaling.scale import build_unit_scores
from camsis.steps import blank_table, read_scale_inputs, scheme_from
from camsis.vocabulary import SEX_CODES

OUT = BENCH_OUT / "validate_intervals"
CLASSIFICATION = [REPO / "data" / "classifications" / "soc2020.tsv", REPO / "data" / "classifications" / "soc2020.yaml"]
PSDS = REPO / "data" / "psds" / "gb_soc2020.tsv"
SCHEME = [REPO / "data" / "statuses" / "empst3.tsv", REPO / "data" / "statuses" / "empst3.yaml"]
PUBLISHED_V1 = REPO / "tests" / "data" / "gb_soc2020_v1.dta"
PUBLISHED_V2 = REPO / "tests" / "data" / "gb_soc2020_v2.dta"
BANDS = [(0, 0, "0 (imputed)"), (1, 9, "1-9"), (10, 29, "10-29"), (30, 99, "30-99"), (100, np.inf, "100+")]
SIDE = {"m": "male", "f": "female"}
Z = 1.959963984540054
CLIP = (1.0, 99.0)
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

    def __init__(self, work: Path, options: dict, plausible: int = 0):
        self.work, self.options, self.plausible = work, options, plausible

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
            if self.plausible:
                steps.plausible_values(w / "boot_long.parquet", w / "boot.tsv", CLASSIFICATION, w / "plausible.dta",
                                       scale="validate", m=self.plausible, seed=seed, clip=CLIP)
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
            if self.plausible:
                steps.plausible_values(w / "status_boot_long.parquet", w / "status_boot.tsv", CLASSIFICATION,
                                       w / "plausible.dta", scale="validate", m=self.plausible, seed=seed,
                                       scheme=SCHEME, title_replicates=w / "boot_long.parquet",
                                       title_summary=w / "boot.tsv", clip=CLIP)
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
    plausible = task["plausible"] if task["replicates"] else 0
    with tempfile.TemporaryDirectory(dir=task["tmp"]) as tmp:
        survey = Survey(Path(tmp), task["options"], plausible)
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
        draws = None
        if plausible:
            values, draws = plausible_rows(Path(tmp), units, plausible, by_status)
            rows = pd.concat([rows, values], axis=1)
    rows["survey"] = task["number"]
    return {"survey": task["number"], "rows": rows, "draws": draws, "seconds": time.perf_counter() - started}


def plausible_rows(work: Path, units: np.ndarray, m: int, by_status: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """What a user can build from a survey's plausible values, in the order of ``unit_rows`` (side, then unit).

    ``by_status``: ``units`` are combined codes, the plausible values those of the by-status
    file (code and status), drawn from the by-status bootstrap.

    Columns ``pv_mean``, ``pv_lo``, ``pv_hi``: the multiple-imputation interval of the M
    plausible values of ``plausible.dta`` (Rubin's rules for one quantity with no
    within-imputation variance: mean +/- t(M-1, .975) sqrt((1 + 1/M) var), var over the M
    values with ddof 1); ``pv_extra_sd`` (sqrt(max(0, tse^2 - bse^2)), the SD of the normal
    draw each value adds), ``boot_centre`` (the mean of all B replicates) and ``pv_limit_lo``,
    ``pv_limit_hi``: what the multiple-imputation interval tends to as M grows to B, the
    plausible values' centre (the replicates' mean) +/- 1.96 tse (M values picked without
    replacement from the B replicates vary, with ddof 1, by bse^2 in expectation, the draws
    add tse^2 - bse^2), i.e. the file's interval moved to the plausible values' centre. The second value
    is the units x B replicates array per row: with ``pv_extra_sd`` it is the distribution a
    plausible value is drawn from (``pv_pit``).
    """
    values = pd.read_stata(work / "plausible.dta", convert_categoricals=False)
    prefix = "status_" if by_status else ""
    long = pd.read_parquet(work / f"{prefix}boot_long.parquet")
    summary = pd.read_csv(work / f"{prefix}boot.tsv", sep="\t", index_col=0)
    scheme = scheme_from(SCHEME)
    values["code"] = combine(values["soc2020"], values[scheme.variable]) if by_status else values["soc2020"]
    multiplier = stats.t.ppf(0.975, m - 1) * np.sqrt(1 + 1 / m)
    parts, draws = [], []
    for side in SIDE:
        pv = values[values["sex"] == SEX_CODES[side]].pivot(index="code", columns="pv", values="camsis")
        pv = pv.reindex(units)
        replicates = long.pivot(index="code", columns="replicate", values=f"{side}camsis").reindex(units)
        errors = summary.reindex(units)
        extra = np.sqrt(np.clip((errors[f"{side}cam_tse"] ** 2 - errors[f"{side}cam_bse"] ** 2).to_numpy(), 0, None))
        centre, half = pv.mean(axis=1).to_numpy(), multiplier * pv.std(axis=1, ddof=1).to_numpy()
        boot_centre, tse = replicates.mean(axis=1).to_numpy(), errors[f"{side}cam_tse"].to_numpy()
        parts.append(pd.DataFrame({"pv_mean": centre, "pv_lo": centre - half, "pv_hi": centre + half,
                                   "pv_extra_sd": extra, "boot_centre": boot_centre,
                                   "pv_limit_lo": boot_centre - Z * tse, "pv_limit_hi": boot_centre + Z * tse}))
        draws.append(replicates.to_numpy(dtype=float))
    return pd.concat(parts, ignore_index=True), np.vstack(draws)


def pv_pit(draws: np.ndarray, extra_sd: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Where ``target`` falls in each row's distribution of plausible values: its randomised PIT.

    A plausible value is one of the B replicates (``draws``, a row's B scores), picked at
    random, plus N(0, ``extra_sd``^2), clipped to ``CLIP``; its CDF is the mean over the
    replicates of a normal CDF (a step where ``extra_sd`` is 0, and atoms at the clip bounds).
    The PIT u = F(t-) + V (F(t) - F(t-)), V uniform, is uniform on (0, 1) when the plausible
    values are draws from a distribution the target is itself a draw from; the central 95%
    of the distribution covers the target when .025 <= u <= .975. This does not depend on M.
    """
    low, high = CLIP
    t, g = target[:, None], extra_sd[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        normal = stats.norm.cdf((t - draws) / g)
    clipped = np.clip(draws, low, high)
    smooth = g > 0
    below = np.where(smooth, np.where(t <= low, 0.0, np.where(t > high, 1.0, normal)), clipped < t)
    at = np.where(smooth, np.where(t < low, 0.0, np.where(t >= high, 1.0, normal)), clipped <= t)
    below, at = np.nanmean(below, axis=1), np.nanmean(at, axis=1)
    return below + rng.uniform(size=len(t)) * (at - below)


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
        **({"pv": (rows["pv_lo"], rows["pv_hi"]), "pv_limit": (rows["pv_limit_lo"], rows["pv_limit_hi"])}
           if "pv_lo" in rows else {}),
    }


def band_table(rows: pd.DataFrame, target: str, pit: np.ndarray | None = None) -> pd.DataFrame:
    """By side and band of pairs: units, r, RMSE, and each interval's coverage of ``target`` and mean width.

    ``pit`` (``pv_pit`` of the target): the share of rows whose target lies in the central 95%
    of the distribution of plausible values (``pv95``), below it (``pv_low``) and above it
    (``pv_high``); ``centre``: the mean of (mean of the B replicates - score) / tse, the
    replicates' shift from the score in total SEs.
    """
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
                if name == "total" and known.any():
                    covered = ((lo <= y) & (y <= hi))[known]
                    record["total_cover_se"] = clustered(covered, rows.loc[at, "survey"][known])[1]
                record[f"{name}_width"] = float((hi - lo)[known].mean()) if known.any() else np.nan
            if pit is not None:
                u = pit[at.to_numpy()]
                u = u[np.isfinite(u)]
                record |= {"pv95": float(np.mean((u >= 0.025) & (u <= 0.975))), "pv_low": float(np.mean(u < 0.025)),
                           "pv_high": float(np.mean(u > 0.975)),
                           "centre": float(np.mean(((rows["boot_centre"] - rows["estimate"]) / rows["tse"])[at]))}
            out.append(record)
    return pd.DataFrame(out)


def clustered(values: pd.Series, survey: pd.Series) -> tuple[float, float]:
    """The mean of ``values`` over units x surveys, and its standard error with surveys as clusters.

    A survey's units share its CA, variance components and standardisation, so their misses
    are not independent and the binomial SE sqrt(p (1 - p) / n) of a coverage p would be too
    small. This is the ratio estimator's SE with surveys as independent clusters:
    sqrt(S / (S - 1) sum_s (c_s - p n_s)^2) / n, c_s the sum of a survey's values, n_s its units.
    """
    per = pd.DataFrame({"v": values.astype(float), "s": survey}).groupby("s")["v"].agg(["sum", "size"])
    mean, k = per["sum"].sum() / per["size"].sum(), len(per)
    if k < 2:
        return float(mean), np.nan
    return float(mean), float(np.sqrt(k / (k - 1) * ((per["sum"] - mean * per["size"]) ** 2).sum()) / per["size"].sum())


def target_tables(rows: pd.DataFrame, draws: list, seed: int) -> dict[str, pd.DataFrame]:
    """``band_table`` against each target the rows hold, with the plausible values' PIT where drawn."""
    targets = [target for target in ("truth", "estimand", "population") if rows[target].notna().any()]
    pits = {}
    if draws and all(d is not None for d in draws):
        stacked, rng = np.vstack(draws), np.random.default_rng(seed)
        pits = {target: pv_pit(stacked, rows["pv_extra_sd"].to_numpy(), rows[target].to_numpy(float), rng)
                for target in targets}
    return {target: band_table(rows, target, pits.get(target)) for target in targets}


def print_table(table: pd.DataFrame, title: str) -> None:
    print(f"\n{title}")
    columns = ["side", "band", "units", "r", "rmse", "bias", "model_cover", "lohi_cover", "bse_cover", "total_cover",
               "total_cover_se", "model_width", "lohi_width", "total_width"]
    shown = table[[c for c in columns if c in table]].copy()
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    plausible = ["side", "band", "units", "total_cover", "pv_cover", "pv_width", "pv_limit_cover", "pv_limit_width",
                 "pv95", "pv_low", "pv_high", "centre"]
    if "pv95" in table:
        print(f"{title}: plausible values")
        print(table[plausible].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


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
    parser.add_argument("--label", help="output files <case>_<label>.json and _rows.parquet (default: <case>)")
    parser.add_argument("--plausible", "-M", type=int, default=5,
                        help="plausible values per survey (default 5, the config's; 0: none)")
    args = parser.parse_args(argv)
    if args.failures:
        args.case, args.surveys, args.replicates, args.no_population = "real", 20, 100, True
    options = parse_options(args.option)
    if args.replicates and not 0 <= args.plausible <= args.replicates:
        raise SystemExit(f"validate_intervals: error: --plausible wants 0 <= M <= B ({args.replicates}), "
                         f"not {args.plausible}")
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
    name = (f"{case}_by_status" if by_status else case) + (f"_{args.label}" if args.label else "")
    couples = args.couples or CASES[case]
    if "size_exponent" in truth.attrs:
        print(f"{case}: unit sizes = published counts^{truth.attrs['size_exponent']:.3f}", flush=True)
    tasks = [dict(number=i, seed=args.seed * 1000 + i, truth=truth, units=units, by_status=by_status,
                  classification_units=classification_units, blocks=blocks, couples=couples,
                  replicates=args.replicates, options=options, tmp=str(OUT), population=not args.no_population,
                  plausible=args.plausible)
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
    built = [r["rows"] for r in sorted(results, key=lambda r: r["survey"]) if "rows" in r]
    draws = [r["draws"] for r in sorted(results, key=lambda r: r["survey"]) if "rows" in r]
    report = {"case": case, "units": args.units, "couples": couples, "surveys": args.surveys,
              "replicates": args.replicates, "plausible": args.plausible, "seed": args.seed, "options": options,
              "failed": [{k: r[k] for k in ("survey", "error")} for r in failures],
              "seconds": time.perf_counter() - started, "load_end": os.getloadavg()[0]}
    if built:
        rows = pd.concat(built, ignore_index=True)
        estimand = model_estimand(truth, classification_units, blocks, by_status)
        for side in SIDE:
            at = rows["side"] == side
            rows.loc[at, "truth"] = rows.loc[at, "unit"].map(on_metric(truth, side))
            rows.loc[at, "estimand"] = rows.loc[at, "unit"].map(estimand[side])
        tables = target_tables(rows, draws, args.seed)
        gap = rows.drop_duplicates(["unit", "side"])
        print(f"\n[{name}] CA estimand vs latent truth, RMSE: " + ", ".join(
            f"{side} {np.sqrt(np.mean((gap.estimand - gap.truth)[gap.side == side] ** 2)):.2f}" for side in SIDE))
        if "population" in tables:
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
