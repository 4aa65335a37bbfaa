"""A scale built on a classification imported from a do-file recovers the simulated truth.

The do-file writes its groups as ISCO does (trailing-zero codes in the unit label set, a
separate set per group level); the import makes the code frame, simulated couples on its
units go through the package's stages (tabulate, build_unit_scores), and the scores must
track the latent scores the couples were drawn from.
"""

import numpy as np
import pandas as pd

from camsis.blanking import blank_cells
from camsis.classification import load_classification
from camsis.cli import main
from camsis.scale import ScaleOptions, build_unit_scores
from camsis.synthetic import simulate_couples
from camsis.tables import tabulate_frame

UNITS = np.array([major * 1000 + minor * 10 + unit for major in range(1, 5) for minor in (11, 12, 21)
                  for unit in (1, 2, 3, 4)])


def write_do_file(path):
    lines = ["#delimit ;", "label define occ"]
    lines += [f'  {major}000 "Major {major}; all"' for major in range(1, 5)]
    for major in range(1, 5):
        for minor in (11, 12, 21):
            lines.append(f'  {major}{minor}0 "Minor {major}{minor}" /* trailing-zero form */')
            lines += [f'  {major}{minor}{unit} "Unit {major}{minor}{unit}"' for unit in (1, 2, 3, 4)]
    lines += [";", "#delimit cr"]
    lines.append("label define minor " + " ".join(f'{m}{n} "Minor {m}{n}"' for m in range(1, 5) for n in (11, 12, 21)))
    lines.append("label define sub " + " ".join(f'{m}{n} "Sub {m}{n}"' for m in range(1, 5) for n in (1, 2)))
    lines.append("label define major " + " ".join(f'{m} "Major {m}"' for m in range(1, 5)) + " // the top level")
    path.write_text("\n".join(lines) + "\n")


def test_scale_on_an_imported_classification_recovers_the_truth(tmp_path):
    sim = simulate_couples(UNITS, n_couples=60_000, seed=14)
    rng = np.random.default_rng(3)
    # a reference measure as researchers have one: related to the truth, with noise
    reference = sim.truth["male_score"] + rng.normal(0, 0.5, len(UNITS))
    pd.DataFrame({"code": UNITS, "ref": np.round(10 * reference + 50, 2)}).to_csv(tmp_path / "ref.csv", index=False)
    write_do_file(tmp_path / "occ.do")
    assert main(["classification", "import", str(tmp_path / "occ.do"), "--name", "occ", "--units", "occ",
                 "--groups", "minor", "sub", "major", "--links", str(tmp_path / "ref.csv"),
                 "--reference-measure", "ref", "--out", str(tmp_path)]) == 0
    occ = load_classification("occ", tmp_path)
    assert occ.frame["level"].value_counts().sort_index().to_dict() == {1: 4, 2: 8, 3: 12, 4: 48}
    np.testing.assert_array_equal(occ.units, np.sort(UNITS))

    table = tabulate_frame(sim.couples, "hocc", "wocc", "weight", occ.units)
    diagonal = blank_cells(occ.units, occ.units, diagonal_digits=0)  # same-unit couples, as published
    built = build_unit_scores(table, diagonal, diagonal, occ, ScaleOptions(min_n=30))
    scores = built.scores.reindex(sim.truth.index)
    for side, truth in (("m", "male_score"), ("f", "female_score")):
        seen = scores[f"n_{side}"] >= 100  # tiny units are shrunk towards their group, by design
        assert seen.sum() > 30
        assert np.corrcoef(scores.loc[seen, f"{side}camsis"], sim.truth.loc[seen, truth])[0, 1] > 0.97
