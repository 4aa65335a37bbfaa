"""The workflow's layout of ``results/``, which the package does not know.

``results/{scale}/`` holds a scale's published products; its ``work/`` and ``bootstrap/``
folders (by status ``work_by_status/`` and ``bootstrap_by_status/``) hold intermediate files (Snakemake manages them) and ``stale/`` the products a run
set aside before rebuilding them. The Snakefile's onstart/onsuccess (through common.smk)
and the release rule's script import this module; the package's functions take the
folders and paths as arguments (``camsis.io.writing.move_aside``).
"""

import shutil
from pathlib import Path

from camsis.io.writing import move_aside

RESULTS = "results"
STALE = "stale"
# Folders of a scale's results that hold intermediate files, not published products.
WORK_FOLDERS = ("work", "work_by_status", "bootstrap", "bootstrap_by_status", STALE)
STALE_NOTE = (
    "These files were published by an earlier build of this scale. A later run set out to rebuild them\n"
    "(its input, sheet row or options changed) and moved them here first; that run failed or was\n"
    "interrupted, so they no longer match what the workflow would build now. Rerun the workflow to\n"
    "rebuild them (after an interruption: snakemake --cores 2 --rerun-incomplete).\n"
)
# What Snakemake puts in a directory() output; releases built before every release file was a
# declared output have one, which would sit in the folder outside SHA256SUMS and the zip.
SNAKEMAKE_MARKER = ".snakemake_timestamp"


def products_by_scale(outputs, results=RESULTS) -> dict[str, list[Path]]:
    """The published products among a run's ``outputs``, by scale folder ``results/{scale}``.

    Every scale folder the run writes products to is a key, in the order of ``outputs``.
    """
    products: dict[str, list[Path]] = {}
    for path in map(Path, outputs):
        parts = path.parts
        if len(parts) < 3 or parts[0] != results or parts[2] in WORK_FOLDERS:
            continue
        products.setdefault(str(Path(*parts[:2])), []).append(path)
    return products


def set_aside_products(outputs, results=RESULTS) -> dict[str, list[str]]:
    """Move the existing products a run is about to rebuild into ``results/{scale}/stale/``.

    A rebuild that then fails must not leave the previous score file and summary looking
    current beside the new input. Returns {scale folder: [files moved]} for every scale
    folder the run writes products to (an empty list where none existed yet).
    """
    return {folder: move_aside(files, folder, Path(folder) / STALE, STALE_NOTE)
            for folder, files in products_by_scale(outputs, results).items()}


def clear_stale(folders) -> None:
    """After a successful run, the files set aside for it are superseded: remove them."""
    for folder in folders:
        shutil.rmtree(Path(folder) / STALE, ignore_errors=True)


def drop_snakemake_marker(folder) -> None:
    """Remove the marker an older release rule's directory() output left: it is not part of the release."""
    (Path(folder) / SNAKEMAKE_MARKER).unlink(missing_ok=True)
