"""What every rule script shares: logging to the rule's log, and errors as one line.

A rule script defines ``main(snakemake)`` and ends with ``run(main, snakemake)``. A
CamsisError becomes ``camsis: error: <message>`` on stderr and in the log, and the
job fails (Snakemake then removes its declared outputs); anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import logging
import sys

from camsis.errors import CamsisError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_path=None) -> None:
    root = logging.getLogger("camsis")
    root.setLevel(logging.INFO)
    root.handlers.clear()
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        root.addHandler(handler)


def run(main, snakemake) -> None:
    configure_logging(snakemake.log[0] if len(snakemake.log) else None)
    try:
        main(snakemake)
    except CamsisError as error:
        root = logging.getLogger("camsis")
        root.handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
        root.error("%s", error)
        print(f"camsis: error: {error}", file=sys.stderr)
        sys.exit(1)


def scale_inputs(snakemake):
    """What a rule rebuilding stages 4-7 reads: classification, table, both masks, options."""
    from camsis.blanking import load_masks
    from camsis.classification import load_classification
    from camsis.config import read_recodes
    from camsis.scale import ScaleOptions
    from camsis.tables import PairTable

    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    table = PairTable.load(snakemake.input.table, snakemake.input.info, classification.units)
    ca_blank, smooth_blank = load_masks(snakemake.input.blanked, classification.units)
    recodes = read_recodes(row["recodes"]) if row["recodes"] else {}
    options = ScaleOptions(**snakemake.params.options, recodes=recodes)
    return classification, table, ca_blank, smooth_blank, options
