"""Cost of the design-effect weighting (issue 22) against the rule it replaced, in one process.

The smoothing used to rescale survey weights to sum to the pairs used, overall; it now
weighs each unit by the Kish effective sample size of its couples, from the squared weights
summed into the table (``PairTable.weights_squared``), and a bootstrap replicate carries
them too. This script builds the default demo table (200 000 synthetic couples, seed 2020,
the sheet's blanking) with lognormal survey weights and without, then times, alternately and best of
``--repeats``, ten whole builds (stages 4-7) and a batch of ``--replicates`` bootstrap
replicates, each with the current code and with the previous rule restored in this process
(the table without its squared weights, ``SideCells.model_weights`` swapped for the overall
rescaling). One BLAS thread, so the CPU figures are one core's.

    python benchmarks/bench_weights.py [--repeats 3] [--replicates 10]
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import replace  # noqa: E402
import numpy as np  # noqa: E402
from _common import soc2020  # noqa: E402

from camsis.method.blanking import blank_cells  # noqa: E402
from camsis.method.smoothing import SideCells  # noqa: E402
from camsis.method.synthetic import simulate_couples  # noqa: E402
from camsis.method.tables import tabulate_frame  # noqa: E402
from camsis.scaling.scale import ScaleOptions, build_unit_scores  # noqa: E402
from camsis.scaling.uncertainty import bootstrap_batch  # noqa: E402


@contextmanager
def previous_rule():
    """The smoothing's weights as before issue 22: survey weights rescaled to the pairs used, overall."""
    current = SideCells.model_weights
    SideCells.model_weights = lambda self, w, c, q: w * (c.sum() / w.sum())
    try:
        yield
    finally:
        SideCells.model_weights = current


def cpu_seconds(function, *args):
    start = time.process_time()
    function(*args)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--couples", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--replicates", type=int, default=10)
    args = parser.parse_args()

    soc, psds = soc2020()
    couples = simulate_couples(soc.units, n_couples=args.couples, seed=2020, blocks=psds).couples
    couples["wt"] = np.random.default_rng(1).lognormal(0.0, 0.7, len(couples))
    table = tabulate_frame(couples, "hocc", "wocc", "wt", soc.units)
    before = replace(table, weights_squared=None)
    mask = blank_cells(soc.units, soc.units, psds=psds, diagonal_digits=0, diagonal_groups=[1, 2], classification=soc)
    options = ScaleOptions()
    load_before = os.getloadavg()
    work = {
        "10 builds (stages 4-7)": lambda t: [build_unit_scores(t, mask, mask, soc, options) for _ in range(10)],
        f"{args.replicates} bootstrap replicates": lambda t: bootstrap_batch(t, mask, mask, soc, options,
                                                                             range(1, args.replicates + 1), 7),
    }
    unweighted = tabulate_frame(couples, "hocc", "wocc", None, soc.units)
    tables = {"survey weights": (table, before), "unweighted (the demo's)": (unweighted, unweighted)}
    print(f"{args.couples} demo couples, with lognormal(0, 0.7) survey weights and without; CPU s, best of "
          f"{args.repeats}, the two codes alternating")
    print(f"{'what':<50}{'previous':>10}{'current':>10}{'ratio':>8}")
    for kind, (current, previous) in tables.items():
        for name, run in work.items():
            now, then = [], []
            for _ in range(args.repeats):
                now.append(cpu_seconds(run, current))
                with previous_rule():
                    then.append(cpu_seconds(run, previous))
            print(f"{kind + ': ' + name:<50}{min(then):10.3f}{min(now):10.3f}{min(now) / min(then):8.3f}")
    built = build_unit_scores(table, mask, mask, soc, options)
    print("design effect in the smoothing:", {side: round(built.diagnostics.smoothing[side]["design_effect"], 3)
                                              for side in ("m", "f")})
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
