"""What the benchmark scripts share: the repository they measure, their scratch folder, the seed's inputs.

The scripts run as ``python benchmarks/bench_x.py``, so this folder is first on ``sys.path``
and ``from _common import ...`` finds this file. camsis is imported only when asked for, so
that importing this costs nothing (bench_import.py times camsis's imports in fresh processes).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"  # inputs and temporary project copies (gitignored)


def soc2020():
    """The SOC2020 classification and the GB pseudo-diagonal blocks (data/psds/gb_soc2020.tsv)."""
    from camsis.method.blanking import read_psd_file
    from camsis.classifications.classification import load_classification

    return (load_classification("soc2020", REPO / "data" / "classifications"),
            read_psd_file(REPO / "data" / "psds" / "gb_soc2020.tsv"))
