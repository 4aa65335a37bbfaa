"""Bootstrap replicates, their summaries and plausible values, against closed forms and numpy."""

import numpy as np
import pandas as pd
import pytest

from camsis.method.pairtable import PairTable
from camsis.scaling.scale import UnitScores
from camsis.scaling.uncertainty import (
    bootstrap_summary,
    gather_replicates,
    plausible_values,
    replicate_agreement,
    replicate_rng,
    resample_table,
)

COUNTS = np.array([[40, 10, 0], [5, 60, 20], [1, 9, 55]])
MEAN_WEIGHTS = np.array([[1.0, 2.0, 1.0], [0.5, 1.5, 3.0], [2.0, 1.0, 0.8]])


def pair_table(counts, weights=None):
    units = pd.Index(np.arange(1, len(counts) + 1) * 10, dtype="int64")
    weighted = counts * (1.0 if weights is None else weights)
    return PairTable(
        weighted=pd.DataFrame(weighted.astype(float), index=units.rename("occ1"), columns=units.rename("occ2")),
        counts=pd.DataFrame(counts.astype(np.int64), index=units.rename("occ1"), columns=units.rename("occ2")),
        read=int(counts.sum()) + 7, used=int(counts.sum()), dropped={"survey_missing": 7}, source="toy",
    )


def test_resampling_keeps_the_number_of_pairs_and_the_shape():
    table = pair_table(COUNTS, MEAN_WEIGHTS)
    drawn = resample_table(table, replicate_rng(1, 1))
    assert drawn.counts.to_numpy().sum() == COUNTS.sum() == drawn.used
    assert drawn.counts.index.equals(table.counts.index) and drawn.weighted.columns.equals(table.weighted.columns)
    assert drawn.counts.to_numpy()[0, 2] == 0, "an empty cell stays empty"
    # every drawn pair carries its cell's mean weight
    np.testing.assert_allclose(drawn.weighted.to_numpy(), drawn.counts.to_numpy() * MEAN_WEIGHTS)
    assert drawn.read == table.read and drawn.dropped == table.dropped


def test_resampling_is_deterministic_per_seed_and_replicate():
    table = pair_table(COUNTS)
    first = resample_table(table, replicate_rng(7, 3)).counts
    again = resample_table(table, replicate_rng(7, 3)).counts
    other = resample_table(table, replicate_rng(7, 4)).counts
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_resampling_is_unbiased_with_multinomial_variance():
    table = pair_table(COUNTS, MEAN_WEIGHTS)
    draws = 1500
    counts = np.stack([resample_table(table, replicate_rng(11, r)).counts.to_numpy() for r in range(draws)])
    weighted = counts * MEAN_WEIGHTS
    n = COUNTS.sum()
    p = COUNTS / n
    sd = np.sqrt(n * p * (1 - p))
    # means within 4 standard errors of the table, weighted and unweighted alike
    assert np.all(np.abs(counts.mean(axis=0) - COUNTS) <= 4 * sd / np.sqrt(draws) + 1e-12)
    assert np.all(np.abs(weighted.mean(axis=0) - COUNTS * MEAN_WEIGHTS) <= 4 * MEAN_WEIGHTS * sd / np.sqrt(draws) + 1e-12)
    # multinomial variance n p (1 - p), within 10%
    live = COUNTS > 0
    np.testing.assert_allclose(counts.std(axis=0, ddof=1)[live], sd[live], rtol=0.1)


def test_bootstrap_se_of_a_mean_matches_its_closed_form():
    """The SE of the mean husband's code over pairs is sqrt(plug-in variance / n)."""
    table = pair_table(COUNTS)
    codes = table.counts.index.to_numpy(float)
    n = COUNTS.sum()
    share = COUNTS.sum(axis=1) / n
    closed = np.sqrt((share @ codes**2 - (share @ codes) ** 2) / n)
    means = []
    for r in range(2000):
        drawn = resample_table(table, replicate_rng(5, r)).counts.to_numpy()
        means.append(drawn.sum(axis=1) @ codes / n)
    assert np.std(means, ddof=1) == pytest.approx(closed, rel=0.05)


def fake_replicate(rng, toy):
    units = pd.Index(toy.units, name="unit")
    scores = pd.DataFrame({"mcamsis": rng.uniform(20, 80, len(units)), "fcamsis": rng.uniform(20, 80, len(units))},
                          index=units)
    population = pd.DataFrame({"m": rng.integers(1, 50, len(units)).astype(float),
                               "f": rng.integers(1, 50, len(units)).astype(float)}, index=units)
    return UnitScores(scores=scores, population=population)


def test_gathered_statistics_match_numpy(toy, tmp_path):
    rng = np.random.default_rng(3)
    replicates = [fake_replicate(rng, toy) for _ in range(9)]
    # as the gather rule reads them: from the replicate files
    paths = []
    for r, replicate in enumerate(replicates, start=1):
        paths.append(tmp_path / f"replicate_{r}.tsv")
        replicate.save(paths[-1])
    read = [UnitScores.load(path) for path in paths]
    summary = bootstrap_summary(gather_replicates(read, toy))
    assert list(summary.index) == sorted(toy.frame.index)
    assert (summary["replicates"] == 9).all()
    for side in "mf":
        values = np.stack([r.scores[f"{side}camsis"].to_numpy() for r in replicates])  # replicate x unit
        units = summary.loc[toy.units]
        np.testing.assert_allclose(units[f"{side}cam_bse"], values.std(axis=0, ddof=1))
        # group 11 = units 111 and 112: each replicate's own population-weighted mean
        weights = np.stack([r.population[side].to_numpy() for r in replicates])
        group = (values[:, :2] * weights[:, :2]).sum(axis=1) / weights[:, :2].sum(axis=1)
        assert summary.loc[11, f"{side}cam_bse"] == pytest.approx(group.std(ddof=1))
        # top group 1 = units 111..122
        top = (values[:, :4] * weights[:, :4]).sum(axis=1) / weights[:, :4].sum(axis=1)
        assert summary.loc[1, f"{side}cam_bse"] == pytest.approx(top.std(ddof=1))


def test_a_flipped_replicate_is_flagged(toy, caplog):
    rng = np.random.default_rng(4)
    base = fake_replicate(rng, toy)
    flipped = UnitScores(scores=base.scores.assign(mcamsis=100 - base.scores["mcamsis"]), population=base.population)
    long = gather_replicates([base, flipped], toy)
    own = long[long["replicate"] == 1].set_index("code")[["mcamsis", "fcamsis"]]
    agreement = replicate_agreement(long, own)
    assert agreement.loc[1, "m"] == pytest.approx(1.0)
    assert agreement.loc[2, "m"] == pytest.approx(-1.0)
    assert "replicate 2" in caplog.text
    # a noisy replicate with a code missing: numpy's correlation over the codes both have
    noisy_scores = base.scores.assign(fcamsis=base.scores["fcamsis"] + rng.normal(0, 10, len(base.scores)))
    noisy_scores.loc[noisy_scores.index[1], "fcamsis"] = np.nan
    noisy = UnitScores(scores=noisy_scores, population=base.population)
    long = gather_replicates([base, flipped, noisy], toy)
    third = long[long["replicate"] == 3].set_index("code")["fcamsis"]
    both = pd.concat([third, own["fcamsis"]], axis=1).dropna()
    expected = np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1]
    assert replicate_agreement(long, own).loc[3, "f"] == pytest.approx(expected, rel=1e-12)


def test_plausible_values_are_whole_replicates_chosen_by_seed(toy):
    rng = np.random.default_rng(5)
    long = gather_replicates([fake_replicate(rng, toy) for _ in range(6)], toy)
    values = plausible_values(long, 3, seed=9)
    assert len(values) == len(toy.frame) * 2 * 3
    assert list(values.columns) == ["code", "sex", "pv", "camsis", "replicate"]
    chosen = values.groupby("pv")["replicate"].unique()
    assert all(len(r) == 1 for r in chosen) and len({int(r[0]) for r in chosen}) == 3
    for pv, (replicate,) in chosen.items():
        source = long[long["replicate"] == replicate].set_index("code")
        mine = values[(values["pv"] == pv) & (values["sex"] == 2)].set_index("code")["camsis"]
        pd.testing.assert_series_equal(mine, source["fcamsis"].reindex(mine.index), check_names=False)
    pd.testing.assert_frame_equal(values, plausible_values(long, 3, seed=9))
    with pytest.raises(ValueError, match="only 6 bootstrap replicates"):
        plausible_values(long, 7, seed=9)


@pytest.mark.slow
def test_workflow_bootstrap_columns_plausible_values_and_candidates(tmp_path):
    """`snakemake --config bootstrap=4 bootstrap_batch=3 plausible_values=2` on a copy of the project (a smaller demo)."""
    import json

    import pyreadstat

    from camsis.method.blanking import read_psd_file
    from helpers import project_copy, snakemake

    directory = project_copy(tmp_path)
    (directory / "small_demo.yaml").write_text("demo: {couples: 40000, seed: 7}\n")
    done = snakemake(directory, "--configfile", "small_demo.yaml", "--config", "bootstrap=4", "bootstrap_batch=3",
                     "plausible_values=2", "psd_rounds=1")
    assert done.returncode == 0, done.stderr[-3000:]
    results = directory / "results/gb_soc2020_demo"
    batches = {p.name: pd.read_parquet(p) for p in (results / "bootstrap").glob("batch_*.parquet")}
    assert sorted(batches) == ["batch_1.parquet", "batch_2.parquet"]
    assert set(batches["batch_1.parquet"]["replicate"]) == {1, 2, 3} and set(batches["batch_2.parquet"]["replicate"]) == {4}

    scores, meta = pyreadstat.read_dta(results / "gb_soc2020_demo.dta")
    for side in "mf":
        columns = [f"{side}cam_bse", f"{side}cam_lo", f"{side}cam_hi"]
        assert all(meta.column_names_to_labels[c].startswith(("Bootstrap", side.upper() + "CAMSIS")) for c in columns)
        assert scores[columns].notna().all().all() and (scores[f"{side}cam_bse"] >= 0).all()
        assert (scores[f"{side}cam_lo"] <= scores[f"{side}cam_hi"]).all()
        # every code's interval (groups too) is its published score -/+ 1.96 x its total SE
        half = 1.959963984540054 * scores[f"{side}cam_tse"]
        np.testing.assert_allclose(scores[f"{side}cam_lo"], scores[f"{side}camsis"] - half, rtol=1e-6)
        np.testing.assert_allclose(scores[f"{side}cam_hi"], scores[f"{side}camsis"] + half, rtol=1e-6)

    values, pv_meta = pyreadstat.read_dta(results / "plausible.dta")
    assert list(values.columns) == ["soc2020", "sex", "pv", "camsis"]
    assert len(values) == len(scores) * 2 * 2
    assert pv_meta.variable_value_labels["sex"] == {1: "male", 2: "female"}
    assert pv_meta.variable_value_labels["soc2020"][2134] == meta.variable_value_labels["soc2020"][2134]
    assert all(pv_meta.column_names_to_labels[c] for c in values.columns) and "plausible" in pv_meta.file_label
    assert values["camsis"].between(1, 99).all() and set(values["pv"]) == {1, 2}
    replicates = pd.read_parquet(results / "bootstrap/replicates.parquet")
    first = values[(values["pv"] == 1) & (values["sex"] == 1)].set_index("soc2020")["camsis"]
    errors = scores.set_index("soc2020").reindex(first.index)
    rest = np.sqrt(np.clip(errors["mcam_tse"] ** 2 - errors["mcam_bse"] ** 2, 0, None))
    plain = rest < 1e-6  # groups (tse = bse) and units whose own pairs cover their bootstrap spread: no draw
    assert plain.sum() > 0 and (~plain).sum() > 100
    matches = [r for r, rows in replicates.groupby("replicate")
               if np.allclose(first[plain], rows.set_index("code")["mcamsis"].reindex(first.index)[plain])]
    assert len(matches) == 1, "a plausible value rests on one whole replicate"
    # the rest: independent N(0, tse^2 - bse^2) per unit, so standardised it has mean 0, SD 1 (unclipped units)
    base = replicates[replicates["replicate"] == matches[0]].set_index("code")["mcamsis"].reindex(first.index)
    inside = ~plain & first.between(1, 99, inclusive="neither") & base.between(1, 99, inclusive="neither")
    z = ((first - base) / rest)[inside]
    assert len(z) > 100 and abs(z.mean()) < 4 / np.sqrt(len(z)) and 0.8 < z.std() < 1.2

    summary = json.loads((results / "summary.json").read_text())
    assert summary["bootstrap"]["replicates"] == 4 and not summary["bootstrap"]["replicates_disagreeing"]
    assert summary["bootstrap"]["replicates_fallen_apart"] == 0 and summary["bootstrap"]["units_left_out"] == {}
    assert summary["bootstrap"]["correlation_with_scale"]["m"]["min"] > 0.9
    assert summary["psd_rounds"]["rounds"] == 1
    blanked = pd.read_csv(results / "psd_rounds.tsv", sep="\t")
    assert len(blanked) == summary["psd_rounds"]["cells_blanked"] and (blanked["residual"] > 4).all()
    candidates = pd.read_csv(results / "psd_candidates.tsv", sep="\t")
    assert candidates["residual"].is_monotonic_decreasing
    pd.testing.assert_frame_equal(read_psd_file(results / "psd_candidates.tsv"),
                                  candidates[["lower_1", "upper_1", "lower_2", "upper_2"]])


def _noisy_table(toy):
    """A table on the toy units with association on isei, sparse enough that some units merge."""
    isei = toy.frame.loc[toy.units, "isei"].to_numpy(float)
    z = (isei - isei.mean()) / isei.std()
    size = np.array([3, 1, 2, 4, 2, 3, 1, 2], dtype=float)
    p = np.outer(size, size[::-1]) * np.exp(1.2 * np.outer(z, z))
    counts = np.random.default_rng(8).poisson(1500 * p / p.sum())
    weights = np.random.default_rng(9).uniform(0.5, 2.0, counts.shape)
    table = pair_table(counts, weights)
    units = pd.Index(toy.units, dtype="int64")
    for frame in (table.weighted, table.counts):
        frame.index, frame.columns = units.rename("occ1"), units.rename("occ2")
    return table


def test_batch_size_does_not_change_the_bootstrap(toy):
    """SEs, intervals and plausible values from one batch of 7 replicates and from batches of 3
    (run in another order) are the same to 1e-12, and a batch's replicate is the scale's own build
    on the redraw (stages 4-7 and the group filling done one replicate at a time)."""
    from camsis.scaling.scale import ScaleOptions, build_unit_scores
    from camsis.scaling.uncertainty import batches, bootstrap_batch, combine_batches

    table = _noisy_table(toy)
    none = pd.DataFrame(False, index=table.counts.index, columns=table.counts.columns)
    blank = none.copy()
    blank.iloc[0, 0] = blank.iloc[5, 5] = True
    options = ScaleOptions(min_n=60)
    B, seed = 7, 31

    def run(size):
        parts = [bootstrap_batch(table, blank, none, toy, options, list(batch), seed) for batch in batches(B, size)]
        return combine_batches(parts[::-1], B)

    whole, pieces = run(B), run(3)
    assert [list(b) for b in batches(B, 3)] == [[1, 2, 3], [4, 5, 6], [7]]
    pd.testing.assert_frame_equal(whole[["code", "replicate"]], pieces[["code", "replicate"]])
    np.testing.assert_allclose(pieces[["mcamsis", "fcamsis"]], whole[["mcamsis", "fcamsis"]], rtol=0, atol=1e-12)
    one, other = bootstrap_summary(whole), bootstrap_summary(pieces)
    pd.testing.assert_index_equal(one.index, other.index)
    np.testing.assert_allclose(other.to_numpy(float), one.to_numpy(float), rtol=0, atol=1e-12)
    assert (one["replicates"] == B).all() and one["mcam_bse"].gt(0).all()
    # tse above bse, so every unit gets a draw of the rest: the draws must not depend on batching either
    errors = one.assign(mcam_tse=one["mcam_bse"] + 1, fcam_tse=one["fcam_bse"] + 1)
    pv_one, pv_other = plausible_values(whole, 4, seed, errors), plausible_values(pieces, 4, seed, errors)
    pd.testing.assert_frame_equal(pv_one[["code", "sex", "pv", "replicate"]], pv_other[["code", "sex", "pv", "replicate"]])
    np.testing.assert_allclose(pv_other["camsis"], pv_one["camsis"], rtol=0, atol=1e-12)

    # Replicate 5 as the scale itself would build it, then filled code by code as the published table is.
    built = build_unit_scores(resample_table(table, replicate_rng(seed, 5)), blank, none, toy, options)
    own = pd.DataFrame({"mcamsis": built.scores["mcamsis"], "fcamsis": built.scores["fcamsis"],
                        "population_m": built.population["m"], "population_f": built.population["f"]})
    from camsis.method.filling import score_groups

    fifth = whole[whole["replicate"] == 5].set_index("code")
    for side in "mf":
        expected = score_groups(own[f"{side}camsis"], own[f"population_{side}"], toy)
        np.testing.assert_allclose(fifth[f"{side}camsis"].to_numpy(), expected.reindex(fifth.index).to_numpy(),
                                   rtol=0, atol=1e-12)


def test_combining_batches_checks_every_replicate_is_there_once(toy):
    rng = np.random.default_rng(2)
    long = gather_replicates([fake_replicate(rng, toy) for _ in range(4)], toy)
    from camsis.errors import CamsisError
    from camsis.scaling.uncertainty import batches, combine_batches

    parts = [long[long["replicate"] <= 2], long[long["replicate"] > 2]]
    pd.testing.assert_frame_equal(combine_batches(parts[::-1], 4), long)
    with pytest.raises(CamsisError, match=r"missing \[3, 4\]"):
        combine_batches(parts[:1], 4)
    with pytest.raises(CamsisError, match=r"unexpected \[4\]"):
        combine_batches(parts, 3)
    with pytest.raises(CamsisError, match=r"repeated \[1, 2, 3, 4\]"):
        combine_batches(parts + parts, 4)
    with pytest.raises(CamsisError, match="batch size >= 1"):
        batches(4, 0)
    assert batches(0, 5) == []


@pytest.mark.parametrize("smoothing", ["one_level", "nested"])
def test_a_replicate_that_falls_apart_leaves_its_stray_block_out_and_is_counted(toy, tmp_path, caplog, smoothing):
    """Units 221 and 222 pair with each other, and with the rest only through one couple (husband 212,
    wife 221): the observed table is connected, but about one redraw in three misses that couple and
    falls apart. Such a replicate is built without the stray block (its units imputed from group 2),
    the batch goes on, and bootstrap.json counts exactly the replicates whose redraw missed the bridge."""
    from camsis import steps
    from camsis.scaling.scale import ScaleOptions, build_unit_scores
    from camsis.method.tables import tabulate_frame
    from camsis.scaling.uncertainty import CoupleDraw, bootstrap_batch
    from camsis.io.writing import read_json

    main, stray = [111, 112, 121, 122, 211, 212], [221, 222]
    near = [(h, w) for i, h in enumerate(main) for j, w in enumerate(main) for _ in range(4 + 12 // (1 + abs(i - j)))]
    pairs = near + [(h, w) for h in stray for w in stray] * 10 + [(212, 221)]
    table = tabulate_frame(pd.DataFrame(pairs, columns=["hocc", "wocc"]), "hocc", "wocc", None, toy.units)
    mask = pd.DataFrame(False, index=table.counts.index, columns=table.counts.columns)
    options = ScaleOptions(min_n=0, disconnected="refuse", smoothing=smoothing)  # replicates drop stray blocks even so
    observed = build_unit_scores(table, mask, mask, toy, options)
    assert observed.diagnostics.dropped_blocks is None
    B, seed = 8, 5
    units = list(toy.units)
    bridge = CoupleDraw(table).cells.tolist().index(units.index(212) * len(units) + units.index(221))
    missed = [r for r in range(1, B + 1) if CoupleDraw(table).drawn_counts(replicate_rng(seed, r))[bridge] == 0]
    assert 0 < len(missed) < B  # the seed gives both kinds

    with caplog.at_level("WARNING", logger="camsis.scaling.uncertainty"):
        long = bootstrap_batch(table, mask, mask, toy, options, range(1, B + 1), seed)
    per_replicate = long.groupby("replicate")["units_left_out"].max()
    assert per_replicate[per_replicate > 0].index.tolist() == missed
    assert (per_replicate[missed] == 4).all()  # rows and columns 221, 222
    assert np.isfinite(long.loc[long["code"].isin(units), ["mcamsis", "fcamsis"]].to_numpy()).all()
    first = long[long["replicate"] == missed[0]].set_index("code")
    if smoothing == "one_level":
        # A stray unit takes its group's score at the filling: group 2's, its other units' (211, 212) mean.
        assert first.loc[221, "mcamsis"] == pytest.approx(first.loc[2, "mcamsis"])
    else:
        # Nested: a stray unit takes the posterior of its groups; 221 and 222 share every group (22, 2)
        # and have no pairs of their own, so they take the same score, which no other unit has.
        assert first.loc[221, ["mcamsis", "fcamsis"]].tolist() == pytest.approx(first.loc[222, ["mcamsis", "fcamsis"]].tolist())
        assert not np.isclose(first.loc[[111, 112, 121, 122, 211, 212], "mcamsis"], first.loc[221, "mcamsis"]).any()
    assert f"bootstrap replicate {missed[0]} fell apart" in caplog.text

    batch, scores = tmp_path / "batch.parquet", tmp_path / "unit_scores.tsv"
    long.to_parquet(batch, index=False)
    observed.save(scores)
    files = [tmp_path / "toy.tsv", tmp_path / "toy.yaml"]
    steps.bootstrap_gather([batch], scores, files, tmp_path / "summary.tsv", tmp_path / "replicates.parquet",
                           tmp_path / "bootstrap.json", bootstrap=B, seed=seed)
    info = read_json(tmp_path / "bootstrap.json")
    assert info["replicates_fallen_apart"] == len(missed)
    assert info["units_left_out"] == {str(r): 4 for r in missed}


def test_total_standard_errors_closed_forms():
    from camsis.scaling.uncertainty import total_standard_errors

    index = pd.Index([1, 2, 3, 4, 5, 6])
    bse = pd.Series([0.5, 2.0, 1.0, 3.0, 1.5, 2.0], index=index)
    se = pd.Series([1.0, 1.0, 2.0, 1.0, np.nan, 3.0], index=index)
    lam = pd.Series([0.25, 1.0, 0.0, 0.5, np.nan, np.nan], index=index)
    tse = total_standard_errors(bse, se, lam)
    # bse^2 all own-data spread (lambda se^2): the posterior SD alone; lambda 1: the larger of the two;
    # lambda 0: both variances; otherwise se^2 + bse^2 - lambda se^2; no model SE: the bootstrap's;
    # a model SE without pairs (no lambda): both variances, as lambda 0.
    np.testing.assert_allclose(tse, [1.0, 2.0, np.sqrt(5.0), np.sqrt(1 + 9 - 0.5), 1.5, np.sqrt(13.0)], rtol=1e-14)
    assert list(tse.index) == list(index)


def test_total_errors_cover_a_known_truth_where_the_percentile_interval_does_not():
    """A random-intercept model with known effects, refitted on resampled rows (rows bootstrap).

    Empirical Bayes intervals average 95% coverage over units drawn from the model; the
    percentile interval of the shrunk estimate misses small units (a redraw shrinks them as
    far), the total SE does not, and it does not double the own-data spread of large ones.
    """
    from camsis.method.esres import GroupSums, fit_from_sums
    from camsis.scaling.uncertainty import total_standard_errors

    rng = np.random.default_rng(7)
    groups, sd_u, sd_e = 300, 1.0, 4.0
    sizes = np.r_[rng.integers(1, 6, size=150), rng.integers(100, 300, size=150)]
    effect = rng.normal(0, sd_u, size=groups)
    group = np.repeat(np.arange(groups), sizes)
    rows = pd.DataFrame({"g": group, "y": 10 + effect[group] + rng.normal(0, sd_e, size=group.size)})
    fit = fit_from_sums(GroupSums.from_frame(rows, "y", "g")).scores.set_index("g")
    replicates = []
    for b in range(200):
        drawn = rows.iloc[np.random.default_rng([7, b]).integers(0, len(rows), size=len(rows))]
        scores = fit_from_sums(GroupSums.from_frame(drawn, "y", "g")).scores.set_index("g")
        replicates.append(scores["esres"].reindex(fit.index))
    spread = pd.concat(replicates, axis=1)
    bse = spread.std(axis=1, ddof=1)
    lo, hi = spread.quantile(0.025, axis=1), spread.quantile(0.975, axis=1)
    tse = total_standard_errors(bse, fit["esres_se"], fit["lambda"])
    truth = 10 + pd.Series(effect, index=range(groups)).reindex(fit.index)
    small = fit.index < 150
    covered = (fit["esres"] - 1.96 * tse <= truth) & (truth <= fit["esres"] + 1.96 * tse)
    percentile = (lo <= truth) & (truth <= hi)
    assert 0.91 <= covered[small].mean() <= 0.99 and 0.91 <= covered[~small].mean() <= 0.99
    assert percentile[small].mean() < 0.8  # the shrinkage's bias, which the percentile interval misses
    # Large units: tse is about the posterior SD (= the bootstrap's), not sqrt(2) times it.
    assert (tse[~small] / fit["esres_se"][~small]).median() == pytest.approx(1.0, abs=0.1)


def test_add_total_errors_gives_units_the_total_and_other_codes_the_bootstrap_se():
    from camsis.scaling.uncertainty import add_total_errors

    summary = pd.DataFrame({"mcam_bse": [2.0, 1.0, 3.0], "fcam_bse": [1.0, 4.0, 0.5], "replicates": 10},
                           index=pd.Index([1, 11, 12], name="code"))
    units = pd.DataFrame({"mcam_se": [1.0, np.nan], "m_lambda": [0.5, np.nan], "fcam_se": [3.0, 1.0],
                          "f_lambda": [0.0, 1.0]}, index=pd.Index([11, 12], name="unit"))
    scores = pd.DataFrame({"mcamsis": [50.0, 40.0, 60.0], "fcamsis": [45.0, 30.0, 70.0]}, index=[12, 1, 11])
    out = add_total_errors(summary, units, scores)
    assert list(out.columns[:8]) == ["mcam_bse", "fcam_bse", "mcam_tse", "fcam_tse",
                                     "mcam_lo", "mcam_hi", "fcam_lo", "fcam_hi"]
    # group 1: bootstrap SE; unit 11: sqrt(1 + 1 - 0.5), sqrt(9 + 16); unit 12: imputed (m), lambda 1 (f).
    np.testing.assert_allclose(out["mcam_tse"], [2.0, np.sqrt(1.5), 3.0], rtol=1e-14)
    np.testing.assert_allclose(out["fcam_tse"], [1.0, 5.0, 1.0], rtol=1e-14)
    # the interval: each code's own score (matched by code, not position) -/+ the normal 97.5% point x tse
    z = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
    np.testing.assert_allclose(out["mcam_lo"], [40 - 2 * z, 60 - np.sqrt(1.5) * z, 50 - 3 * z], rtol=1e-14)
    np.testing.assert_allclose(out["fcam_hi"], [30 + z, 70 + 5 * z, 45 + z], rtol=1e-14)
    pd.testing.assert_frame_equal(out[summary.columns], summary)


def test_the_own_pairs_se_replaces_lambda_se_squared_and_equals_it_in_the_one_level_model():
    """One level: the unit file's own-pairs SE is sqrt(lambda) times the posterior SD (closed form)."""
    from camsis.method.esres import GroupSums, fit_from_sums
    from camsis.scaling.scale import _own_pairs_se
    from camsis.scaling.uncertainty import total_standard_errors

    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(40), rng.integers(1, 60, size=40))
    rows = pd.DataFrame({"g": group, "y": rng.normal(size=40)[group] + rng.normal(0, 2, size=group.size)})
    fit = fit_from_sums(GroupSums.from_frame(rows, "y", "g"))
    scores = fit.scores.set_index("g").rename(columns={"n": "n_model"})
    own = _own_pairs_se(scores, fit.summary)
    np.testing.assert_allclose(own, np.sqrt(scores["lambda"]) * scores["esres_se"], rtol=1e-10)
    bse = scores["esres_se"] * 1.3
    np.testing.assert_allclose(total_standard_errors(bse, scores["esres_se"], scores["lambda"], own),
                               total_standard_errors(bse, scores["esres_se"], scores["lambda"]), rtol=1e-10)
    # Given, the own-pairs SE is what comes out of the bootstrap's variance.
    index = pd.Index([1, 2])
    tse = total_standard_errors(pd.Series([2.0, 2.0], index=index), pd.Series([1.0, 1.0], index=index),
                                pd.Series([0.5, 0.5], index=index), pd.Series([0.5, np.nan], index=index))
    np.testing.assert_allclose(tse, [np.sqrt(1 + 4 - 0.25), np.sqrt(1 + 4 - 0.5)], rtol=1e-14)


def test_plausible_values_add_the_rest_of_the_total_error_per_unit():
    """Over many PVs a unit's variance is bse^2 + (tse^2 - bse^2) = tse^2 (closed form); groups keep the replicate."""
    rng = np.random.default_rng(11)
    replicates, codes = 3000, np.array([1110, 1120, 2110, -1])
    bse = pd.DataFrame({"mcam_bse": [1.0, 2.0, 1.5, 0.8], "fcam_bse": [0.5, 2.0, 3.0, 1.2]}, index=codes)
    tse = pd.DataFrame({"mcam_tse": [3.0, 2.0, 1.0, 0.8], "fcam_tse": [4.0, 2.5, 3.0, 1.2]}, index=codes)
    errors = pd.concat([bse, tse], axis=1)
    long = pd.DataFrame({
        "replicate": np.repeat(np.arange(1, replicates + 1), len(codes)),
        "code": np.tile(codes, replicates),
        "mcamsis": 50 + rng.standard_normal(replicates * len(codes)) * np.tile(bse["mcam_bse"], replicates),
        "fcamsis": 40 + rng.standard_normal(replicates * len(codes)) * np.tile(bse["fcam_bse"], replicates),
    })
    values = plausible_values(long, replicates, seed=4, errors=errors)
    plain = plausible_values(long, replicates, seed=4)
    pd.testing.assert_series_equal(values["replicate"], plain["replicate"])  # same replicates chosen
    for side, sex in (("m", 1), ("f", 2)):
        target = (np.maximum(errors[f"{side}cam_tse"], errors[f"{side}cam_bse"]) ** 2).to_numpy()
        variance = values[values["sex"] == sex].groupby("code")["camsis"].var().reindex(codes).to_numpy()
        # sampling SE of a variance from n normal draws: var * sqrt(2 / (n - 1)); 4 such SEs
        assert np.all(np.abs(variance - target) < 4 * target * np.sqrt(2 / (replicates - 1)))
    # no extra where tse <= bse: the group (-1) and unit 1120 (m), 2110 (both) are the replicates' values
    for code, sex in ((-1, 1), (-1, 2), (1120, 1), (2110, 1), (2110, 2)):
        mine = values[(values["code"] == code) & (values["sex"] == sex)]["camsis"].to_numpy()
        theirs = plain[(plain["code"] == code) & (plain["sex"] == sex)]["camsis"].to_numpy()
        np.testing.assert_array_equal(mine, theirs)
    pd.testing.assert_frame_equal(values, plausible_values(long, replicates, seed=4, errors=errors))
    assert not values["camsis"].equals(plausible_values(long, replicates, seed=5, errors=errors)["camsis"])


def test_five_plausible_values_of_ten_replicates_give_rubins_interval_its_coverage():
    """Known truth, the defaults (B = 10, M = 5): Rubin's interval from the plausible values covers 95%.

    Each unit's score errs from the truth by N(0, total^2); its ten replicates spread around
    the score by the bootstrap part of that error only (``boot`` < ``total``), as a
    replicate of a shrunk score does; bse is their SD and tse adds the known rest, as
    ``total_standard_errors`` does. Five plausible values picked without replacement from
    the ten vary (divisor M - 1) by bse^2 in expectation, the draws add tse^2 - bse^2, so
    their variance is tse^2 on average, and the interval mean +/- t(4, .975)
    sqrt((1 + 1/5) var) covers the truth in 95% of units (binomial SE 0.0034 over 4000).
    Without the draws it covers far less.
    """
    from scipy import stats

    rng = np.random.default_rng(21)
    units, replicates, m, truth = 4000, 10, 5, 50.0
    codes = np.arange(1, units + 1)
    total = rng.uniform(1.0, 3.0, size=(2, units))
    boot = total * rng.uniform(0.3, 1.0, size=(2, units))
    score = truth + rng.standard_normal((2, units)) * total
    drawn = score[:, None, :] + rng.standard_normal((2, replicates, units)) * boot[:, None, :]
    bse = drawn.std(axis=1, ddof=1)
    tse = np.sqrt(total**2 - boot**2 + bse**2)
    long = pd.DataFrame({"replicate": np.repeat(np.arange(1, replicates + 1), units),
                         "code": np.tile(codes, replicates), "mcamsis": drawn[0].ravel(), "fcamsis": drawn[1].ravel()})
    errors = pd.DataFrame({"mcam_bse": bse[0], "fcam_bse": bse[1], "mcam_tse": tse[0], "fcam_tse": tse[1]}, index=codes)
    multiplier = stats.t.ppf(0.975, m - 1) * np.sqrt(1 + 1 / m)
    for given, low, high in ((errors, 0.935, 0.965), (None, 0.0, 0.9)):
        values = plausible_values(long, m, seed=3, errors=given)
        for k, sex in enumerate((1, 2)):
            per_unit = values[values["sex"] == sex].groupby("code")["camsis"]
            mean, variance = per_unit.mean().reindex(codes).to_numpy(), per_unit.var(ddof=1).reindex(codes).to_numpy()
            covered = np.abs(mean - truth) <= multiplier * np.sqrt(variance)
            assert low <= covered.mean() <= high
            if given is not None:
                assert np.mean(variance / tse[k] ** 2) == pytest.approx(1.0, abs=0.05)


def test_plausible_values_are_clipped_like_scores():
    long = pd.DataFrame({"replicate": [1, 1], "code": [1, 2], "mcamsis": [98.0, 2.0], "fcamsis": [50.0, 50.0]})
    errors = pd.DataFrame({"mcam_bse": [0.0, 0.0], "fcam_bse": [0.0, 0.0], "mcam_tse": [1e3, 1e3],
                           "fcam_tse": [0.0, 0.0]}, index=[1, 2])
    values = plausible_values(long, 1, seed=1, errors=errors)
    assert values["camsis"].between(1, 99).all() and set(values.loc[values["sex"] == 1, "camsis"]) <= {1.0, 99.0}


def test_the_plausible_values_rule_clips_to_the_configs_range(toy, tmp_path):
    """The rule passes the config's clip: with clip [20, 80] no plausible value leaves that range
    (the default 1-99 would let the draws below reach 2 and 98)."""
    from camsis import steps

    long = pd.DataFrame({"replicate": 1, "code": toy.frame.index.to_numpy(),
                         "mcamsis": 50.0, "fcamsis": 50.0})
    long.loc[long["code"] == 111, "mcamsis"] = 98.0
    long.loc[long["code"] == 112, "mcamsis"] = 2.0
    errors = pd.DataFrame({"mcam_bse": 0.0, "fcam_bse": 0.0, "mcam_tse": 1e3, "fcam_tse": 0.0}, index=long["code"])
    long.to_parquet(tmp_path / "replicates.parquet", index=False)
    errors.to_csv(tmp_path / "summary.tsv", sep="\t")
    files = [tmp_path / "toy.tsv", tmp_path / "toy.yaml"]
    for clip in [(20.0, 80.0), [1, 99]]:
        steps.plausible_values(tmp_path / "replicates.parquet", tmp_path / "summary.tsv", files,
                               tmp_path / "plausible.dta", scale="toy", m=1, seed=3, clip=clip)
        values = pd.read_stata(tmp_path / "plausible.dta", convert_categoricals=False)
        units = values[values["toy"].isin(toy.units) & (values["sex"] == 1)]["camsis"]
        assert units.min() == clip[0] and units.max() == clip[1]
