"""Time the RC(1) and RC(2) models against the CA on the SOC2020 demo table, on one core.

The table is the default demo scale's: 200 000 synthetic couples (seed 2020, the config's
``demo``), the sheet's blanking (diagonal in major groups 1 and 2, data/psds/gb_soc2020.tsv),
merged with min_n 30, as ``build_unit_scores`` sees it. Each estimator is timed on that
merged table (best of ``--repeats`` runs; the RC with its default starts, and from the CA
start alone, what it cost before it tried every start), then
whole builds (stages 4-7) with each estimator are timed once and their scales compared:
correlation of the published scores of the two estimators, and of each with the demo's true
scores. The BLAS is limited to one thread before numpy loads, so the figures are one core's.

    python benchmarks/bench_rc.py
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from camsis.method.blanking import blank_cells  # noqa: E402
from camsis.method.ca import correspondence_analysis  # noqa: E402
from camsis.method.merging import apply_merge  # noqa: E402
from camsis.method.rc import fit_rc  # noqa: E402
from camsis.method.synthetic import simulate_couples  # noqa: E402
from camsis.method.tables import tabulate_frame  # noqa: E402
from camsis.scaling.scale import ScaleOptions, build_unit_scores  # noqa: E402

from _common import soc2020  # noqa: E402


def best_of(repeats: int, function, *args, **kwargs):
    """(wall s, CPU s) of the fastest of ``repeats`` calls, and the last result.

    CPU seconds are this process's (one BLAS thread): on a shared machine the wall time
    also counts waiting for a core, the CPU time does not.
    """
    times, result = [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--couples", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    soc, psds = soc2020()
    demo = simulate_couples(soc.units, n_couples=args.couples, seed=args.seed, blocks=psds)
    couples = demo.couples
    table = tabulate_frame(couples, "hocc", "wocc", None, soc.units)
    mask = blank_cells(soc.units, soc.units, psds=psds, diagonal_digits=0, diagonal_groups=[1, 2], classification=soc)

    print(f"{args.couples} demo couples (seed {args.seed}), {int(mask.to_numpy().sum())} unit cells blanked")
    correspondence_analysis(table.weighted.iloc[:5, :5] + 1.0)  # one warm-up CA (first calls into scipy's ARPACK and BLAS) before timing
    load_before = os.getloadavg()
    seconds, builds = {}, {}
    for estimator, extra in (("ca", {}), ("rc2", {"rc_dimensions": 1}), ("rc2 M=2", {"rc_dimensions": 2})):
        options = ScaleOptions(estimator=estimator.split()[0], **extra)
        seconds[f"build {estimator}"], builds[estimator] = best_of(1, build_unit_scores, table, mask, mask, soc, options)

    fit = builds["rc2"].fit
    merged = apply_merge(fit.kept, fit.row_map, fit.column_map).loc[fit.rc.row_scores.index, fit.rc.column_scores.index]
    structural = fit.rc.blanked
    print(f"merged table: {merged.shape[0]} x {merged.shape[1]}, {int(structural.to_numpy().sum())} structural zeros, "
          f"{merged.to_numpy().sum():.0f} pairs")
    seconds["CA (2 dims)"], _ = best_of(args.repeats, correspondence_analysis, merged, 2)
    for m in (1, 2):
        # The CA start alone: what fit_rc cost before it tried every start (it stopped at the
        # first converged one, and the CA start converges on this table).
        seconds[f"RC({m}) CA start"], alone = best_of(args.repeats, fit_rc, merged, structural, n_dimensions=m,
                                                      n_starts=1)
        seconds[f"RC({m})"], result = best_of(args.repeats, fit_rc, merged, structural, n_dimensions=m)
        summary = result.summary()
        print(f"RC({m}): deviance {result.deviance:.1f} on {result.df} df, phi "
              f"{', '.join(f'{p:.3f}' for p in result.phi)}, {result.iterations} iterations, "
              f"converged {result.converged}, start {result.start}; {summary['starts_at_minimum']} of "
              f"{summary['starts']} starts reached it, the others: {summary['other_deviances']}, "
              f"not converged {summary['starts_not_converged']}; CA start alone: deviance {alone.deviance:.1f}")
    load_after = os.getloadavg()

    print(f"\n{'what':<18}{'wall s':>9}{'CPU s':>9}{'CPU x CA':>10}{'x CA start':>11}")
    for name, (wall, cpu) in seconds.items():
        baseline = seconds["build ca" if name.startswith("build") else "CA (2 dims)"][1]
        every = f"{cpu / seconds[name + ' CA start'][1]:11.2f}" if name + " CA start" in seconds else ""
        print(f"{name:<18}{wall:9.3f}{cpu:9.3f}{cpu / baseline:10.2f}{every}")
    print("(x CA: RC over the CA on the merged table; builds over the CA build; "
          "x CA start: every start over the CA start alone)")
    for m in (1, 2):
        wall, cpu = seconds[f"RC({m})"]
        verdict = "PASS" if max(wall, cpu) < 10 else "FAIL"
        print(f"target RC({m}) under 10 s on one core: {verdict} (wall {wall:.2f} s, CPU {cpu:.2f} s)")

    truth = demo.truth
    print("\ncorrelation of the published unit scores, and of each with the demo's true scores:")
    for side, true_column in (("m", "male_score"), ("f", "female_score")):
        both = pd.concat([builds["ca"].scores[f"{side}camsis"], builds["rc2"].scores[f"{side}camsis"],
                          truth[true_column].reindex(builds["ca"].scores.index)], axis=1).dropna()
        r = np.corrcoef(both.to_numpy().T)
        print(f"  {side}camsis over {len(both)} units: CA vs RC(1) {r[0, 1]:.4f}; "
              f"vs truth: CA {r[0, 2]:.4f}, RC(1) {r[1, 2]:.4f}")
    print(f"\nload average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
