"""Cost of blanked_cells: reconstitute against zero on the demo's SOC2020 table (stages 4-7).

Prints, for each mode, the seconds of build_unit_scores (best of --repeat), the passes the
reconstitution took, and the ratio to zero in the same run. The table: the synthetic demo
couples (camsis.method.synthetic, seeded) with the published SOC2020 blanking (diagonals in major
groups 1 and 2 and data/psds/gb_soc2020.tsv).

    python benchmarks/bench_reconstitute.py --couples 200000 --repeat 3
"""

import argparse
import time

import numpy as np

from camsis.method.blanking import blank_cells
from camsis.method.synthetic import simulate_couples
from camsis.method.tables import tabulate_frame
from camsis.scaling.scale import ScaleOptions, build_unit_scores

from _common import soc2020


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--couples", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    soc, psds = soc2020()
    couples = simulate_couples(soc.units, args.couples, seed=2020).couples
    table = tabulate_frame(couples, "hocc", "wocc", None, soc.units)
    blank = blank_cells(soc.units, soc.units, diagonal_digits=0, diagonal_groups=[1, 2],
                        psds=psds, classification=soc)
    print(f"table {len(soc.units)} x {len(soc.units)}, {int(table.counts.to_numpy().sum())} pairs, "
          f"{int(blank.to_numpy().sum())} cells blanked")
    baseline = None
    for mode, order in (("zero", 0), ("reconstitute", 0), ("reconstitute", 1), ("reconstitute", 2)):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = build_unit_scores(table, blank, blank, soc,
                                       ScaleOptions(blanked_cells=mode, reconstitution_order=order))
            times.append(time.perf_counter() - start)
        best = min(times)
        baseline = baseline or best
        info = result.diagnostics.reconstitution or {}
        print(f"{mode:13s} order {order}: {best:7.2f} s  x{best / baseline:5.1f}  passes {info.get('iterations', '-')}"
              f"  converged {info.get('converged', '-')}  male-female r {result.diagnostics.male_female_correlation:.3f}"
              f"  reference r {result.diagnostics.ca.chosen_correlation:.3f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
