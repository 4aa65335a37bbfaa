"""The by-status bootstrap: its draw against the multinomial's closed forms, its SEs against simulated truth."""

import numpy as np
import pandas as pd
import pytest

from camsis.classifications.statuses import load_scheme
from camsis.errors import CamsisError
from camsis.method.pairtable import PairTable
from camsis.method.synthetic import simulate_status_couples
from camsis.method.tables import CoupleColumns, tabulate_by_status
from camsis.scaling.scale import ScaleOptions
from camsis.scaling.uncertainty import (
    bootstrap_batch,
    bootstrap_batch_by_status,
    bootstrap_summary,
    replicate_rng,
    resample_by_status,
    resample_table,
)
from helpers import REPO

STATUSES = REPO / "data" / "statuses"


def tables(cells):
    """Title-only (occupations 1, 2) and by-status (statuses 1, 2) tables from rows (o1, s1, o2, s2, count, weight);
    a status 0 is a couple without a scored status (title-only table only)."""
    occupations = pd.Index([1, 2], dtype="int64")
    combined = pd.Index([11, 12, 21, 22], dtype="int64")
    title = pd.DataFrame(0, index=occupations.rename("occ1"), columns=occupations.rename("occ2"))
    title_w = title.astype(float)
    status = pd.DataFrame(0, index=combined.rename("occ1"), columns=combined.rename("occ2"))
    status_w = status.astype(float)
    for o1, s1, o2, s2, count, weight in cells:
        title.loc[o1, o2] += count
        title_w.loc[o1, o2] += count * weight
        if s1 and s2:
            status.loc[o1 * 10 + s1, o2 * 10 + s2] += count
            status_w.loc[o1 * 10 + s1, o2 * 10 + s2] += count * weight
    n, m = int(title.to_numpy().sum()), int(status.to_numpy().sum())
    return (PairTable(title_w, title, read=n, used=n, dropped={}, source="toy"),
            PairTable(status_w, status, read=n, used=m, dropped={"status_unknown": n - m}, source="toy"))


CELLS = [  # (o1, s1, o2, s2, couples, mean weight); status 0: unknown
    (1, 1, 1, 1, 30, 1.0), (1, 1, 2, 2, 12, 2.0), (1, 2, 2, 2, 40, 0.5), (1, 0, 2, 1, 18, 1.0),
    (2, 1, 1, 2, 25, 1.5), (2, 2, 1, 2, 5, 1.0), (2, 2, 2, 2, 60, 1.0), (2, 1, 2, 1, 10, 3.0),
]


def test_the_by_status_draw_resamples_the_couples_of_the_title_only_draw():
    title, table = tables(CELLS)
    for r in range(20):
        drawn = resample_by_status(title, table, replicate_rng(9, r))
        same = resample_table(title, replicate_rng(9, r)).counts  # the title-only replicate r
        pooled = drawn.counts.groupby(drawn.counts.index // 10).sum().T.groupby(drawn.counts.columns // 10).sum().T
        # cells whose couples all have statuses: exactly the title-only draw; the others: at most it
        assert pooled.loc[2, 1] == same.loc[2, 1] and pooled.loc[2, 2] == same.loc[2, 2] and pooled.loc[1, 1] == same.loc[1, 1]
        assert pooled.loc[1, 2] <= same.loc[1, 2]
        # every drawn pair carries its status cell's mean weight
        np.testing.assert_allclose(drawn.weighted.loc[12, 22], drawn.counts.loc[12, 22] * 0.5)
        assert drawn.counts.loc[11, 21] == 0 and drawn.used == int(drawn.counts.to_numpy().sum())


def test_the_by_status_draw_is_one_multinomial_draw_of_the_couples():
    """Moments over 3000 replicates against the multinomial's closed forms: mean n p, variance n p (1 - p),
    and the covariance with the title-only draw of the same replicate, n p_status (1 - p_occupation)."""
    title, table = tables(CELLS)
    n = title.used
    draws = 3000
    status_counts, title_counts = [], []
    for r in range(draws):
        rng_status, rng_title = replicate_rng(4, r), replicate_rng(4, r)
        status_counts.append(resample_by_status(title, table, rng_status).counts.to_numpy())
        title_counts.append(resample_table(title, rng_title).counts.to_numpy())
    status_counts, title_counts = np.stack(status_counts), np.stack(title_counts)
    p = table.counts.to_numpy() / n
    live = p > 0
    sd = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(status_counts.mean(axis=0) - n * p) <= 4 * sd / np.sqrt(draws) + 1e-12)
    np.testing.assert_allclose(status_counts.std(axis=0, ddof=1)[live], sd[live], rtol=0.08)
    # (12, 22) lies in occupation cell (1, 2), which also holds 18 couples without a status
    p_cell = title.counts.loc[1, 2] / n
    p_status = table.counts.loc[12, 22] / n
    i, j = table.counts.index.get_loc(12), table.counts.columns.get_loc(22)
    covariance = np.cov(status_counts[:, i, j], title_counts[:, 0, 1])[0, 1]
    assert covariance == pytest.approx(n * p_status * (1 - p_cell), rel=0.12)


def test_tables_not_of_the_same_pairs_are_refused():
    title, table = tables(CELLS)
    table.counts.loc[11, 11] += 1
    with pytest.raises(CamsisError, match=r"more pairs than the title-only table in cell \(1, 1\)"):
        resample_by_status(title, table, replicate_rng(1, 1))


def test_bootstrap_se_of_by_status_units_matches_the_sampling_sd_of_simulated_surveys(toy):
    """The truth: 30 surveys of 15,000 couples drawn (rows, with replacement) from one large simulated
    population, each tabulated and scored; the SD of a unit's score over them is its sampling SD.
    The bootstrap, from the first survey alone, must come close for the units with enough pairs."""
    scheme = load_scheme("empst3", STATUSES)
    # no diagonal inflation and nothing blanked: eight occupations give a well-identified scale
    population = simulate_status_couples(toy.units, n_couples=300_000, seed=11, missing_share=0.0,
                                         invalid_share=0.0, diagonal_factor=1.0).couples
    mask = pd.DataFrame(False, index=pd.Index(toy.units, name="occ1"), columns=pd.Index(toy.units, name="occ2"))
    options = ScaleOptions(min_n=30)
    from camsis.scaling.by_status import build_by_status_scores

    truth, first = [], None
    for k in range(30):
        survey = population.sample(n=15_000, replace=True, random_state=k)
        title, table = tabulate_by_status("<survey>", CoupleColumns("hocc", "wocc", "hemp", "wemp", None),
                                          toy.units, scheme.scored,
                                          frame=survey)
        first = first or (title, table)
        truth.append(build_by_status_scores(table, mask, mask, toy, scheme, options).scores[["mcamsis", "fcamsis"]])
    title, table = first
    title_long, long = bootstrap_batch_by_status(title, table, mask, mask, toy, scheme, options, range(1, 31), seed=3)
    # The workflow's by-status job skips the title-only rebuilds: the draws, and so the replicates, are the same.
    skipped, alone_long = bootstrap_batch_by_status(title, table, mask, mask, toy, scheme, options, range(1, 31), seed=3,
                                                    with_title=False)
    assert skipped is None
    pd.testing.assert_frame_equal(alone_long, long)
    summary = bootstrap_summary(long)
    # The batch's title-only replicates are rule bootstrap_batch's: the same couples, the same build.
    alone = bootstrap_batch(title, mask, mask, toy, options, range(1, 31), seed=3)
    pd.testing.assert_frame_equal(title_long[["code", "replicate"]], alone[["code", "replicate"]])
    np.testing.assert_allclose(title_long[["mcamsis", "fcamsis"]], alone[["mcamsis", "fcamsis"]], rtol=0, atol=1e-12)
    counts = build_by_status_scores(table, mask, mask, toy, scheme, options).scores
    for side in "mf":
        true_sd = pd.concat([t[f"{side}camsis"] for t in truth], axis=1).std(axis=1, ddof=1)
        enough = counts.index[counts[f"n_{side}"] >= 100]
        ratio = summary.loc[enough, f"{side}cam_bse"] / true_sd.loc[enough]
        assert len(enough) >= 8
        assert 0.75 < ratio.median() < 1.33, ratio.describe()  # seen 0.92 (m), 0.93 (f)
        assert np.corrcoef(summary.loc[enough, f"{side}cam_bse"], true_sd.loc[enough])[0, 1] > 0.8  # seen 0.98, 0.99


def test_a_replicate_that_falls_apart_is_built_with_its_small_block_left_out(toy, caplog):
    """Husband 111 self-employed and wife 222 self-employed are each other's only pairs: the table (and so
    every replicate drawing them) falls apart; the replicates are still built, the block logged."""
    from helpers import toy_couples

    scheme = load_scheme("empst3", STATUSES)
    couples = toy_couples(n_per_cell=40, seed=2)
    rng = np.random.default_rng(2)
    couples["hemp"] = rng.choice([2, 3], size=len(couples))
    couples["wemp"] = rng.choice([2, 3], size=len(couples))
    couples = pd.concat([couples, pd.DataFrame({"hocc": [111], "wocc": [222], "wt": [1.0], "hemp": [1], "wemp": [1]})])
    title, table = tabulate_by_status("<couples>", CoupleColumns("hocc", "wocc", "hemp", "wemp", None),
                                      toy.units, scheme.scored,
                                      frame=couples)
    mask = pd.DataFrame(False, index=pd.Index(toy.units, name="occ1"), columns=pd.Index(toy.units, name="occ2"))
    from camsis.scaling.by_status import build_by_status_scores

    with pytest.raises(CamsisError, match="falls apart"):  # the scale itself, built with disconnected: refuse
        build_by_status_scores(table, mask, mask, toy, scheme, ScaleOptions(disconnected="refuse"))
    drawn = [r for r in range(1, 40) if resample_by_status(title, table, replicate_rng(5, r)).counts.loc[1111, 2221]]
    _, long = bootstrap_batch_by_status(title, table, mask, mask, toy, scheme, ScaleOptions(), drawn[:2], seed=5)
    assert long[["mcamsis", "fcamsis"]].notna().all().all() and sorted(long["replicate"].unique()) == drawn[:2]
    assert "fell apart into blocks: husbands' units [1111] and wives' units [2221]" in caplog.text


def test_batch_size_does_not_change_either_scale_s_replicates(toy):
    """A scale with statuses draws and rebuilds both scales' replicates in one job per batch: one batch of 7
    and batches of 3 (run in another order) give the same replicates, SEs, intervals and plausible values
    of both scales to 1e-12."""
    from camsis.scaling.uncertainty import batches, combine_batches, plausible_values

    scheme = load_scheme("empst3", STATUSES)
    couples = simulate_status_couples(toy.units, n_couples=20_000, seed=4, missing_share=0.0, invalid_share=0.0,
                                      diagonal_factor=1.0).couples
    title, table = tabulate_by_status("<survey>", CoupleColumns("hocc", "wocc", "hemp", "wemp", None),
                                      toy.units, scheme.scored,
                                      frame=couples)
    mask = pd.DataFrame(False, index=pd.Index(toy.units, name="occ1"), columns=pd.Index(toy.units, name="occ2"))
    mask.iloc[0, 0] = True
    options = ScaleOptions(min_n=30)
    B, seed = 7, 13

    def run(size):
        parts = [bootstrap_batch_by_status(title, table, mask, mask, toy, scheme, options, list(batch), seed)
                 for batch in batches(B, size)][::-1]
        return [combine_batches([part[i] for part in parts], B) for i in (0, 1)]

    for whole, pieces in zip(run(B), run(3)):
        pd.testing.assert_frame_equal(whole[["code", "replicate"]], pieces[["code", "replicate"]])
        np.testing.assert_allclose(pieces[["mcamsis", "fcamsis"]], whole[["mcamsis", "fcamsis"]], rtol=0, atol=1e-12)
        one, other = bootstrap_summary(whole), bootstrap_summary(pieces)
        np.testing.assert_allclose(other.to_numpy(float), one.to_numpy(float), rtol=0, atol=1e-12)
        assert (one["replicates"] == B).all() and one["mcam_bse"].gt(0).any()
        # tse above bse, so every unit gets a draw of the rest: the draws must not depend on batching either
        errors = one.assign(mcam_tse=one["mcam_bse"] + 1, fcam_tse=one["fcam_bse"] + 1)
        pv_one, pv_other = plausible_values(whole, 3, seed, errors), plausible_values(pieces, 3, seed, errors)
        pd.testing.assert_frame_equal(pv_one[["code", "sex", "pv", "replicate"]], pv_other[["code", "sex", "pv", "replicate"]])
        np.testing.assert_allclose(pv_other["camsis"], pv_one["camsis"], rtol=0, atol=1e-12)
