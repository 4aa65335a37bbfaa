"""A scale built on a classification imported from a do-file recovers the simulated truth.

The do-file writes its groups as ISCO does (trailing-zero codes in the unit label set, a
separate set per group level); the import makes the code frame, simulated couples on its
units go through the package's stages (tabulate, build_unit_scores), and the scores must
track the latent scores the couples were drawn from.
"""

import numpy as np
import pandas as pd

from camsis.classifications.classification import load_classification
from camsis.cli import main
from camsis.method.blanking import blank_cells
from camsis.method.synthetic import simulate_couples
from camsis.method.tables import tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores

UNITS = np.array([major * 1000 + minor * 10 + unit for major in range(1, 5) for minor in (11, 12, 21)
                  for unit in (1, 2, 3, 4)])


def write_do_file(path):
    lines = ["#delimit ;", "label define occ"]
    lines += [f'  {major}000 "Major; {major}"' for major in range(1, 5)]  # a semicolon inside a label
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


# A national 3-digit classification as UK SOC 1990's published label file writes it:
# `#delimit;` without a space, 3-digit units numbered from 0 within each 2-digit minor
# group (so unit 100 is minor group 10 times ten), 1-digit major groups. Titles are
# made up but, as in SOC 1990, a unit's title is not its minor group's, except for
# minor groups of a single unit (SOC 1990's 320 "Computer analyst/programmers") and one
# unit named after its group with a word added (SOC 1990's 600 "NCOs and other ranks, UK
# armed forces" in minor group 60 "NCOs and other ranks, armed forces").
JOBS = ["bakers", "welders", "clerks", "surveyors", "drivers", "nurses", "chemists", "tailors", "printers",
        "glaziers", "porters", "cashiers", "auditors", "pilots", "brokers", "masons", "joiners", "gardeners"]
FIELDS = ["textile", "mining", "railway", "hospital", "insurance", "retail", "marine", "forestry", "municipal",
          "aviation", "brewery", "harbour", "laboratory", "postal", "theatre", "museum", "foundry", "quarry"]


def national_frame():
    """{minor: [units]}: 9 majors, 3-5 minor groups each (always one ending in 0), 1-6 units each."""
    rng = np.random.default_rng(90)
    minors = {}
    for major in range(1, 10):
        chosen = [major * 10] + sorted(rng.choice(np.arange(major * 10 + 1, major * 10 + 10), rng.integers(2, 5),
                                                  replace=False).tolist())
        for minor in chosen:
            size = 1 if minor in (32, 61) else int(rng.integers(2, 7))
            minors[minor] = [minor * 10 + k for k in range(size - 1)] + [minor * 10 + 9]  # n.e.c. ends in 9
            if size == 1:
                minors[minor] = [minor * 10]
    return minors


def write_national_do_file(path, minors):
    rng = np.random.default_rng(1990)
    titles = iter(rng.permutation([f"{f.capitalize()} {j}" for f in FIELDS for j in JOBS]).tolist())
    minor_titles = {m: f"{FIELDS[m % len(FIELDS)].capitalize()} and allied occupations, group {m}" for m in minors}
    lines = ["* national 3-digit label file", "#delimit;", "capture label drop natl;", "label define natl"]
    named_after_group = next(m for m, units in minors.items() if len(units) >= 3)
    for minor, units in minors.items():
        for unit in units:
            title = minor_titles[minor] if len(units) == 1 else next(titles)
            if unit == named_after_group * 10:  # as SOC 1990's 600 "NCOs and other ranks, UK armed forces"
                title = minor_titles[minor].replace(", group", ", national group")
            lines.append(f' {unit} "{title}"')
    lines += [";", "label define natminl"]
    lines += [f' {m} "{t}"' for m, t in minor_titles.items()] + [";"]
    lines += ["label define natmajl"] + [f' {m} "Major group {m} occupations"' for m in range(1, 10)] + [";"]
    lines += ["#delimit cr"]
    path.write_text("\n".join(lines) + "\n")


def test_national_three_digit_frame_keeps_every_unit_and_its_scale_recovers_the_truth(tmp_path, capsys):
    minors = national_frame()
    units = np.array(sorted(u for us in minors.values() for u in us))
    assert {m * 10 for m in minors} <= set(units)  # every minor group's code times ten is a unit
    write_national_do_file(tmp_path / "nat.do", minors)
    sim = simulate_couples(units, n_couples=80_000, seed=19)
    reference = sim.truth["male_score"] + np.random.default_rng(5).normal(0, 0.5, len(units))
    pd.DataFrame({"code": units, "ref": np.round(10 * reference + 50, 2)}).to_csv(tmp_path / "ref.csv", index=False)
    assert main(["classification", "import", str(tmp_path / "nat.do"), "--name", "nat", "--units", "natl",
                 "--groups", "natminl", "natmajl", "--links", str(tmp_path / "ref.csv"), "--reference-measure", "ref",
                 "--out", str(tmp_path)]) == 0
    assert "read as group labels" not in capsys.readouterr().out  # no unit was taken for a group
    nat = load_classification("nat", tmp_path)
    np.testing.assert_array_equal(nat.units, units)
    frame = nat.frame
    assert frame["level"].value_counts().sort_index().to_dict() == {1: 9, 2: len(minors), 3: len(units)}
    # every unit's parent is its minor group (code // 10), every minor group's its major group
    np.testing.assert_array_equal(frame.loc[units, "parent"].to_numpy(dtype=int), units // 10)
    minor_codes = np.array(sorted(minors))
    np.testing.assert_array_equal(frame.loc[minor_codes, "parent"].to_numpy(dtype=int), minor_codes // 10)
    assert frame.at[320, "title"] == frame.at[32, "title"]  # a single-unit group's unit keeps its code

    table = tabulate_frame(sim.couples, "hocc", "wocc", "weight", nat.units)
    diagonal = blank_cells(nat.units, nat.units, diagonal_digits=0)
    built = build_unit_scores(table, diagonal, diagonal, nat, ScaleOptions(min_n=30))
    scores = built.scores.reindex(sim.truth.index)
    for side, truth in (("m", "male_score"), ("f", "female_score")):
        seen = scores[f"n_{side}"] >= 100
        assert seen.sum() > 60
        assert np.corrcoef(scores.loc[seen, f"{side}camsis"], sim.truth.loc[seen, truth])[0, 1] >= 0.97
