"""What every rule script shares: logging to the rule's log, and errors as one line.

A rule script defines ``main(snakemake)``, which unpacks the rule's inputs, outputs and
params into a call of the function of ``camsis.steps`` named after the rule, and ends
with ``run(main, snakemake)``. A
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


def first(files):
    """The one path of an optional input (a list of zero or one), or None."""
    if isinstance(files, str):
        return files
    files = list(files)
    if len(files) > 1:
        raise ValueError(f"expected at most one file, got {files}")
    return files[0] if files else None
