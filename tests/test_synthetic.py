"""The synthetic couples generator: determinism, survey realism and a recoverable truth.

Checked against independent computations: a Poisson log-linear model fitted with
statsmodels for the inflated cells, and a correspondence analysis done directly by a
numpy SVD of the standardised residuals for the recovery of the true scores.
"""

import os
import stat

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import statsmodels.api as sm

from camsis.classifications.classification import load_classification
from camsis.errors import CamsisError
from camsis.method.blanking import blank_cells, read_psd_file
from camsis.method.synthetic import DATASET_LABEL, SyntheticCouples, simulate_couples, simulate_status_couples, write_couples
from camsis.method.tables import PairTable
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from helpers import REPO, direct_ca

# A fake four-digit hierarchy: 9 major groups, 2 sub-major, 2 minor, 3 units each (108 units).
UNITS = np.array(
    [((d * 10 + k) * 10 + m) * 10 + u for d in range(1, 10) for k in (1, 2) for m in (1, 2) for u in (1, 2, 3)]
)
# Husbands in major group 1 with wives in major group 4, and two occupational blocks.
BLOCKS = pd.DataFrame(
    {
        "lower_1": [1111, 5111, 2211],
        "upper_1": [1223, 5113, 2213],
        "lower_2": [4111, 5111, 2211],
        "upper_2": [4223, 5113, 2213],
    }
)
# A smaller one (54 units) where a Poisson model with a parameter per unit fits quickly.
SMALL_UNITS = np.array([((d * 10 + 1) * 10 + m) * 10 + u for d in range(1, 10) for m in (1, 2) for u in (1, 2, 3)])
# Couples per unit as in the 200,000-couple SOC2020 default (412 units).
N_SOC_DENSITY = 52_000


def valid_table(sim: SyntheticCouples, units: np.ndarray = UNITS) -> np.ndarray:
    couples = sim.couples
    valid = couples[couples.hocc.isin(units) & couples.wocc.isin(units)]
    table = pd.crosstab(valid.hocc, valid.wocc).reindex(index=units, columns=units, fill_value=0)
    return table.to_numpy(dtype=float)


def cell_sets(blocks: pd.DataFrame, units: np.ndarray = UNITS) -> dict[str, np.ndarray]:
    """Same unit; in a block (not same unit); same minor group (neither)."""
    diagonal = np.eye(units.size, dtype=bool)
    in_block = np.zeros_like(diagonal)
    for row in blocks.itertuples():
        in_block |= np.outer(
            (units >= row.lower_1) & (units <= row.upper_1), (units >= row.lower_2) & (units <= row.upper_2)
        )
    minor = np.equal.outer(units // 10, units // 10)
    return {
        "diagonal": diagonal,
        "block": in_block & ~diagonal,
        "minor": minor & ~in_block & ~diagonal,
    }


def test_same_seed_same_data_and_different_seed_different_data():
    first = simulate_couples(UNITS, n_couples=5_000, seed=11, blocks=BLOCKS)
    again = simulate_couples(UNITS, n_couples=5_000, seed=11, blocks=BLOCKS)
    other = simulate_couples(UNITS, n_couples=5_000, seed=12, blocks=BLOCKS)
    pd.testing.assert_frame_equal(first.couples, again.couples)
    pd.testing.assert_frame_equal(first.truth, again.truth)
    assert first.params == again.params
    assert not first.couples[["hocc", "wocc"]].equals(other.couples[["hocc", "wocc"]])
    assert not np.allclose(first.truth.male_score, other.truth.male_score)
    assert first.params["seed"] == 11


def test_placeholder_block_row_inflates_nothing():
    placeholder = pd.DataFrame({"lower_1": [-999], "upper_1": [-999], "lower_2": [-999], "upper_2": [-999]})
    with_placeholder = simulate_couples(UNITS, n_couples=2_000, seed=3, blocks=placeholder)
    without = simulate_couples(UNITS, n_couples=2_000, seed=3)
    pd.testing.assert_frame_equal(with_placeholder.couples, without.couples)


def test_layout_of_couples_and_truth():
    sim = simulate_couples(UNITS, n_couples=10_000, seed=5, blocks=BLOCKS)
    couples, truth = sim.couples, sim.truth
    assert list(couples.columns) == ["hocc", "wocc", "weight", "couple_id"]
    assert len(couples) == 10_000
    assert np.array_equal(np.sort(couples.couple_id), np.arange(1, 10_001))
    assert (couples.weight > 0).all() and abs(couples.weight.mean() - 1) < 0.05
    assert couples.weight.nunique() <= 5
    assert list(truth.index) == list(UNITS)
    assert list(truth.columns) == ["male_score", "female_score", "male_dim2", "female_dim2", "male_share", "female_share"]
    assert truth.male_share.sum() == pytest.approx(1) and truth.female_share.sum() == pytest.approx(1)
    assert np.corrcoef(truth.male_score, truth.female_score)[0, 1] > 0.95
    assert abs(np.corrcoef(truth.male_score, truth.male_dim2)[0, 1]) < 1e-8
    major = UNITS // 1000
    means = truth.male_score.groupby(major).mean()
    assert means[[1, 2]].min() > means[[8, 9]].max()
    assert truth.male_score.groupby(major).std().min() > 0.1


def test_unit_sizes_are_as_uneven_as_in_surveys():
    shares_under_30, largest = [], []
    for seed in range(1, 6):
        couples = simulate_couples(UNITS, n_couples=N_SOC_DENSITY, seed=seed).couples
        for side in ("hocc", "wocc"):
            counts = couples[side].value_counts().reindex(UNITS, fill_value=0)
            shares_under_30.append((counts < 30).mean())
            largest.append(counts.max())
    assert np.mean(shares_under_30) > 0.25
    assert min(largest) > 1_000
    # Men and women are not spread over occupations alike.
    truth = simulate_couples(UNITS, n_couples=10, seed=1).truth
    assert np.corrcoef(np.log(truth.male_share), np.log(truth.female_share))[0, 1] < 0.8


@pytest.mark.parametrize("missing_share", [0.03, 0.1])
def test_missing_and_invalid_codes_come_in_the_shares_asked(missing_share):
    sim = simulate_couples(UNITS, n_couples=20_000, seed=8, missing_share=missing_share, invalid_share=0.005)
    couples = sim.couples
    missing = couples.hocc.isin([-1, -8, -9]) | couples.wocc.isin([-1, -8, -9])
    negative = (couples.hocc < 0) | (couples.wocc < 0)
    invalid = ~negative & ~(couples.hocc.isin(UNITS) & couples.wocc.isin(UNITS))
    assert missing.equals(negative)
    assert missing.mean() == pytest.approx(missing_share, abs=1e-4)
    assert invalid.mean() == pytest.approx(0.005, abs=1e-4)
    assert set(couples.hocc[invalid]) | set(couples.wocc[invalid]) >= {9999}
    assert (couples.hocc[missing] < 0).any() and (couples.wocc[missing] < 0).any()
    assert sim.params["n_valid"] == (~missing & ~invalid).sum()


def test_inflated_cells_exceed_the_log_linear_expectation_by_their_factors():
    """Fit the association model on the ordinary cells only, then compare the others."""
    sim = simulate_couples(SMALL_UNITS, n_couples=100_000, seed=21, blocks=BLOCKS)
    table = valid_table(sim, SMALL_UNITS)
    keep = (table.sum(axis=1) >= 30)[:, None] & (table.sum(axis=0) >= 30)[None, :]
    sets = cell_sets(BLOCKS, SMALL_UNITS)
    ordinary = keep & ~(sets["diagonal"] | sets["block"] | sets["minor"])

    truth = sim.truth
    rows, cols = np.nonzero(keep)
    design = pd.concat(
        [
            pd.get_dummies(pd.Categorical(rows), prefix="r", dtype=float),
            pd.get_dummies(pd.Categorical(cols), prefix="c", drop_first=True, dtype=float),
            pd.DataFrame(
                {
                    "st": truth.male_score.to_numpy()[rows] * truth.female_score.to_numpy()[cols],
                    "st2": truth.male_dim2.to_numpy()[rows] * truth.female_dim2.to_numpy()[cols],
                }
            ),
        ],
        axis=1,
    )
    fit_rows = ordinary[rows, cols]
    fit = sm.GLM(table[rows, cols][fit_rows], design[fit_rows], family=sm.families.Poisson()).fit(method="newton")
    assert fit.params["st"] == pytest.approx(sim.params["beta"], abs=0.05)
    assert fit.params["st2"] == pytest.approx(sim.params["beta2"], abs=0.05)

    expected = fit.predict(design)
    for name, factor in [("diagonal", 6.0), ("block", 3.0), ("minor", 1.5)]:
        assert sim.params[f"{name}_factor"] == factor
        chosen = sets[name][rows, cols]
        ratio = table[rows, cols][chosen].sum() / expected[chosen].sum()
        assert ratio == pytest.approx(factor, rel=0.1), name


@pytest.mark.parametrize("seed", [2020, 7])
def test_direct_ca_of_the_blanked_table_recovers_the_true_scores(seed):
    sim = simulate_couples(UNITS, n_couples=N_SOC_DENSITY, seed=seed, blocks=BLOCKS)
    table = valid_table(sim)
    sets = cell_sets(BLOCKS)
    blanked = np.where(sets["diagonal"] | sets["block"], 0.0, table)
    rows, cols = blanked.sum(axis=1) > 30, blanked.sum(axis=0) > 30
    row_coord, col_coord, _ = direct_ca(blanked[np.ix_(rows, cols)])  # principal: correlations as standard

    men = table.sum(axis=1)[rows] >= 50
    women = table.sum(axis=0)[cols] >= 50
    assert men.sum() > 50 and women.sum() > 50
    r_men = np.corrcoef(row_coord[men, 0], sim.truth.male_score.to_numpy()[rows][men])[0, 1]
    r_women = np.corrcoef(col_coord[women, 0], sim.truth.female_score.to_numpy()[cols][women])[0, 1]
    assert abs(r_men) >= 0.97
    assert abs(r_women) >= 0.97


@pytest.mark.parametrize("suffix", [".dta", ".csv", ".parquet"])
def test_written_files_round_trip(tmp_path, suffix):
    couples = simulate_couples(UNITS, n_couples=500, seed=2).couples
    path = write_couples(couples, tmp_path / f"couples{suffix}")
    if suffix == ".dta":
        back, meta = pyreadstat.read_dta(path)
        assert meta.file_label == DATASET_LABEL
        assert "SYNTHETIC" in meta.file_label and "not real survey data" in meta.file_label
        assert all(meta.column_names_to_labels[name] for name in couples.columns)
    elif suffix == ".csv":
        back = pd.read_csv(path)
    else:
        back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, couples, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [f"couples{suffix}"]


def test_written_file_gets_the_usual_permissions(tmp_path):
    """Not mkstemp's 0600: the demo input is read by co-workers and cluster jobs like every other file."""
    mask = os.umask(0o022)
    try:
        path = write_couples(simulate_couples(UNITS, n_couples=100, seed=2).couples, tmp_path / "couples.csv")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    couples = simulate_couples(UNITS, n_couples=100, seed=2).couples

    def broken(frame, tmp):
        with open(tmp, "w") as handle:
            handle.write("partial")
        raise OSError("disk full")

    monkeypatch.setattr("camsis.method.synthetic._write_csv", broken)
    with pytest.raises(OSError):
        write_couples(couples, tmp_path / "couples.csv")
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_is_refused(tmp_path):
    couples = simulate_couples(UNITS, n_couples=100, seed=2).couples
    with pytest.raises(CamsisError, match=r"couples\.xlsx"):
        write_couples(couples, tmp_path / "couples.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused_in_one_line():
    with pytest.raises(CamsisError, match="upper_2"):
        simulate_couples(UNITS, blocks=BLOCKS.drop(columns="upper_2"))
    with pytest.raises(CamsisError, match="integer"):
        simulate_couples(UNITS.astype(float))
    with pytest.raises(CamsisError, match="distinct"):
        simulate_couples(np.array([1111, 1111, 1112]))
    with pytest.raises(CamsisError, match="missing_share"):
        simulate_couples(UNITS, missing_share=-0.1)


def given_truth(seed: int = 4) -> pd.DataFrame:
    """Scores with a strong minor-group structure and uneven sizes, in shuffled row order."""
    rng = np.random.default_rng(seed)
    minor = rng.normal(size=UNITS.size // 3)[np.arange(UNITS.size) // 3]
    frame = pd.DataFrame(
        {"male_score": 50 + 15 * (minor + 0.3 * rng.normal(size=UNITS.size)),
         "female_score": 50 + 15 * (minor + 0.3 * rng.normal(size=UNITS.size)),
         "male_share": rng.uniform(1, 50, UNITS.size), "female_share": rng.uniform(1, 50, UNITS.size)},
        index=UNITS,
    )
    return frame.iloc[rng.permutation(UNITS.size)]


def test_given_truth_sets_the_scores_and_the_sizes_and_the_table_recovers_them():
    given = given_truth()
    sim = simulate_couples(UNITS, n_couples=N_SOC_DENSITY, seed=9, blocks=BLOCKS, truth=given)
    truth, ordered = sim.truth, given.loc[UNITS]
    assert list(truth.index) == list(UNITS)
    for side in ("male", "female"):
        score = ordered[f"{side}_score"]
        np.testing.assert_allclose(truth[f"{side}_score"], (score - score.mean()) / score.std(ddof=0), atol=1e-12)
        np.testing.assert_allclose(truth[f"{side}_share"], ordered[f"{side}_share"] / ordered[f"{side}_share"].sum(),
                                   rtol=1e-9)
        assert abs(np.corrcoef(truth[f"{side}_score"], truth[f"{side}_dim2"])[0, 1]) < 1e-8
    # The couples follow the given sizes: observed shares against the expected ones.
    table = valid_table(sim)
    np.testing.assert_allclose(table.sum(axis=1) / table.sum(), truth.male_share, atol=0.004)
    # ... and the given scores: an independent CA (numpy SVD) of the blanked table recovers them.
    sets = cell_sets(BLOCKS)
    row_coord, col_coord, _ = direct_ca(np.where(sets["diagonal"] | sets["block"], 0.0, table))
    assert abs(np.corrcoef(row_coord[:, 0], truth.male_score)[0, 1]) > 0.97
    assert abs(np.corrcoef(col_coord[:, 0], truth.female_score)[0, 1]) > 0.97
    assert sim.params["truth"] == "given scores and sizes"


def test_given_scores_without_sizes_keep_drawn_sizes():
    scores = given_truth()[["male_score", "female_score"]]
    drawn = simulate_couples(UNITS, n_couples=2_000, seed=6)
    with_scores = simulate_couples(UNITS, n_couples=2_000, seed=6, truth=scores)
    assert with_scores.params["truth"] == "given scores" and drawn.params["truth"] == "drawn"
    assert not np.allclose(with_scores.truth.male_share, drawn.truth.male_share)  # other draws came before
    assert np.log(with_scores.truth.male_share).std() > 1.5  # split-lognormal, as uneven as drawn ones


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="female_score"), "female_score"),
    (lambda t: t.drop(columns="female_share"), "female_share"),
    (lambda t: t.iloc[1:], "no row for unit"),
    (lambda t: pd.concat([t, t.iloc[:1]]), "twice"),
    (lambda t: t.assign(male_score=np.nan), "missing or infinite"),
    (lambda t: t.assign(male_dim2=1.0), "lacks female_dim2"),
    (lambda t: t.assign(male_dim2=1.0, female_dim2=np.arange(len(t))), "male_dim2 does not vary"),
    (lambda t: t.assign(male_share=0.0), "positive"),
    (lambda t: t.assign(female_score=3.0), "does not vary"),
])
def test_a_truth_that_does_not_fit_the_units_is_refused_in_one_line(change, message):
    with pytest.raises(CamsisError, match=message):
        simulate_couples(UNITS, n_couples=100, truth=change(given_truth()))


def test_a_returned_truth_gives_the_same_model_whatever_the_seed():
    """Repeated surveys from one truth: the drawn model, given back, is the model again."""
    first = simulate_couples(UNITS, n_couples=3_000, seed=31, blocks=BLOCKS)
    again = simulate_couples(UNITS, n_couples=3_000, seed=32, blocks=BLOCKS, truth=first.truth)
    pd.testing.assert_frame_equal(again.truth, first.truth, atol=1e-10, rtol=0)
    np.testing.assert_allclose(again.probabilities, first.probabilities, rtol=1e-8, atol=0)
    assert first.probabilities.shape == (UNITS.size, UNITS.size) and first.probabilities.sum() == pytest.approx(1)
    assert not again.couples.equals(first.couples)
    # The couples are drawn from the probabilities: the observed table against them.
    table = valid_table(first)
    assert np.corrcoef(table.ravel(), first.probabilities.ravel())[0, 1] > 0.9


def test_a_returned_status_truth_gives_the_same_model_whatever_the_seed():
    """Repeated by-status surveys from one truth: scores, status effects and sizes given back are the model again."""
    first = simulate_status_couples(UNITS, n_couples=3_000, seed=41, blocks=BLOCKS)
    again = simulate_status_couples(UNITS, n_couples=60_000, seed=42, blocks=BLOCKS, truth=first.truth,
                                    unknown_status_share=0.0, missing_share=0.0, invalid_share=0.0)
    pd.testing.assert_frame_equal(again.truth, first.truth[again.truth.columns], atol=1e-10, rtol=0)
    assert {"male_occupation", "female_occupation"} <= set(again.truth.columns)
    np.testing.assert_allclose(again.probabilities, first.probabilities, rtol=1e-8, atol=0)
    assert (first.params["truth"], again.params["truth"]) == ("drawn", "given")
    # The couples follow the model: each husband unit's observed share within 4.5 binomial SEs of its true share.
    codes = again.couples.hocc.to_numpy() * 10 + again.couples.hemp.to_numpy()
    observed = pd.Series(codes).value_counts(normalize=True).reindex(again.truth.index, fill_value=0.0)
    share = again.truth.male_share
    assert (np.abs(observed - share) <= 4.5 * np.sqrt(share * (1 - share) / 60_000) + 1e-12).all()
    # Another seed without the truth draws another model.
    other = simulate_status_couples(UNITS, n_couples=3_000, seed=42, blocks=BLOCKS)
    assert not np.allclose(other.truth.male_score, first.truth.male_score)


def test_a_status_truth_without_shares_is_refused_in_one_line():
    truth = simulate_status_couples(UNITS, n_couples=100, seed=1).truth
    with pytest.raises(CamsisError, match="lacks column.*female_share"):
        simulate_status_couples(UNITS, n_couples=100, truth=truth.drop(columns="female_share"))
    with pytest.raises(CamsisError, match="no row for unit"):
        simulate_status_couples(UNITS, n_couples=100, truth=truth.iloc[1:])


def test_a_scale_estimates_the_first_ca_dimension_of_the_model_table_not_the_latent_score():
    """What the demo's scale converges to: the closed-form CA of its model's blanked table.

    The whole build (CA, nested smoothing, standardisation) on the demo model's expected table
    (10^7 pairs) against a direct SVD of the same probabilities with the blanked cells at zero:
    each unit's principal coordinate (its partners' mean standard coordinate) standardised to
    mean 50, SD 15 over the model's unit shares. For units with 5,000+ expected pairs the two
    agree to a few hundredths of a point; both stand about 2 points (RMSE) from the generator's
    latent score, which the CA of a log-linear table does not reproduce unit by unit.
    """
    soc = load_classification("soc2020", REPO / "data" / "classifications")
    blocks = read_psd_file(REPO / "data" / "psds" / "gb_soc2020.tsv")
    units = soc.units
    model = simulate_couples(units, n_couples=1, seed=2020, blocks=blocks)
    counts = np.rint(model.probabilities * 1e7)
    frame = dict(index=pd.Index(units, name="occ1"), columns=pd.Index(units, name="occ2"))
    table = PairTable(weighted=pd.DataFrame(counts, **frame), counts=pd.DataFrame(counts.astype(np.int64), **frame),
                      read=int(counts.sum()), used=int(counts.sum()), dropped={}, source="expected table")
    mask = blank_cells(units, units, diagonal_digits=0, diagonal_groups=[1, 2], psds=blocks, classification=soc)
    scores = build_unit_scores(table, mask, mask, soc, ScaleOptions()).scores

    rows, columns, _ = direct_ca(np.where(mask.to_numpy(), 0.0, model.probabilities))
    for side, coordinate, name in (("m", rows[:, 0], "male"), ("f", columns[:, 0], "female")):
        share = model.truth[f"{name}_share"].to_numpy()

        def on_metric(values):
            centred = values - np.average(values, weights=share)
            return 50 + 15 * centred / np.sqrt(np.average(centred**2, weights=share))

        latent = on_metric(model.truth[f"{name}_score"].to_numpy())
        reference = on_metric(coordinate)
        reference = reference if np.corrcoef(reference, latent)[0, 1] > 0 else 100 - reference  # an SVD's sign
        built = scores[f"{side}camsis"].reindex(units).to_numpy()
        big = share * 1e7 >= 5_000
        assert big.sum() > 200
        gap = (built - reference)[big]
        assert np.sqrt(np.mean(gap**2)) < 0.05 and np.abs(gap).max() < 0.25, side  # measured: RMSE .013, max .09
        assert np.sqrt(np.mean((built - latent)[big] ** 2)) > 1.0, side
