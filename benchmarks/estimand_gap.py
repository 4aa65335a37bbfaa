"""Why the demo's large units sit ~2 points from the generator's latent score: estimand or bias?

No sampling at all: each row builds the scale on a model's expected table (10^7 pairs, the
demo's truth drawn with seed 2020, blanked as ``validate_intervals.py`` blanks every survey)
and compares, over the units with 100+ expected pairs in a 200,000-couple survey, the scale
with the latent score on the metric (``latent``), with the closed-form CA estimand of the
same model (``estimand``: ``validate_intervals.ca_estimand``, a direct SVD), and the
estimator's raw score with the latent score (``raw r``: the RC model's fitted row score
with ``estimator: rc2``, the CA's with ``ca``; ``ca, reconstitute``: the CA with the
blanked cells filled from its own 1-dimensional model instead of zero). The generator is switched feature by feature
(same-minor-group affinity, second dimension, strength of association) to see what the gap
comes from; the latent scores and sizes stay the same (they are drawn before the features
act).

    python benchmarks/estimand_gap.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from _common import soc2020
from validate_intervals import PSDS, ca_estimand, expected_table, on_metric

from camsis.method.synthetic import CoupleModel, simulate_couples
from camsis.scaling.scale import ScaleOptions, build_unit_scores
from camsis.steps import blank_table

LARGE = 100 / 200_000  # share of a unit with 100 expected pairs in a 200,000-couple survey
VARIANTS = {
    "demo": CoupleModel(),
    "no same-minor affinity": CoupleModel(minor_factor=1.0),
    "no second dimension": CoupleModel(beta2=0.0),
    "neither": CoupleModel(minor_factor=1.0, beta2=0.0),
    "neither, weak (beta .3)": CoupleModel(minor_factor=1.0, beta2=0.0, beta=0.3),
}


ESTIMATORS = {
    "ca": {},
    "ca, reconstitute": {"blanked_cells": "reconstitute", "reconstitution_order": 1},
    "rc2": {"estimator": "rc2"},
}


def gap_row(model: CoupleModel, options: dict, frame, blocks) -> dict:
    units = frame.units
    sim = simulate_couples(units, n_couples=1, seed=2020, blocks=blocks, model=model)
    table = expected_table(sim.probabilities, units)
    mask, smooth, _ = blank_table(table, frame, scale="gap", diagonal_digits=0, diagonal_groups="1,2", psds=str(PSDS))
    scores = build_unit_scores(table, mask, smooth, frame, ScaleOptions(**options)).scores.reindex(units)
    estimand = ca_estimand(sim.probabilities, mask.to_numpy(dtype=bool), sim.truth)
    row = {}
    for side, name in (("m", "male"), ("f", "female")):
        large = (sim.truth[f"{name}_share"] >= LARGE).to_numpy()
        built = scores[f"{side}camsis"].to_numpy()[large]
        latent = on_metric(sim.truth, side).to_numpy()[large]
        raw = scores[f"{side}_raw"].to_numpy()[large]
        row[f"{side} units"] = int(large.sum())
        row[f"{side} latent"] = float(np.sqrt(np.mean((built - latent) ** 2)))
        row[f"{side} estimand"] = float(np.sqrt(np.mean((built - estimand[side].to_numpy()[large]) ** 2)))
        row[f"{side} raw r"] = float(abs(np.corrcoef(raw, latent)[0, 1]))
    return row


def main() -> int:
    frame, blocks = soc2020()
    print(f"estimand_gap: load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; RMSE in points of the metric, "
          "units with 100+ expected pairs in 200,000 couples", flush=True)
    rows = []
    for name, model in VARIANTS.items():
        for estimator, options in ESTIMATORS.items():
            rows.append({"generator": name, "estimator": estimator, **gap_row(model, options, frame, blocks)})
            print(f"  {name}, {estimator}: done", flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
