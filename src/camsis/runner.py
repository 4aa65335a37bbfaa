"""What every rule script shares: logging to the rule's log, and errors as one line.

A rule script defines ``main(snakemake)``, which unpacks the rule's inputs, outputs and
params into a call of the function of ``camsis.steps`` named after the rule (of
``camsis.diagnostics`` for the rules that draw), and ends with ``run(main, snakemake)``. A
CamsisError becomes ``camsis: error: <message>`` on stderr and in the log, and the
job fails (Snakemake then removes its declared outputs); anything else is a bug and
keeps its traceback. With ``scales_per_job`` > 1 one job runs the rule scripts of its stages for
each scale of a batch (``run_batch``), each as the scale's own job would.
"""

from __future__ import annotations

import logging
import runpy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from camsis.errors import CamsisError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_path=None, level: int = logging.INFO) -> None:
    """Send the package's log (logger ``camsis``) to stderr and, if given, to ``log_path``.

    The one logging set-up of the package: rule scripts (with the rule's log file) and the
    ``camsis`` command (stderr only, INFO with --verbose) both use it.
    """
    root = logging.getLogger("camsis")
    root.setLevel(level)
    root.handlers.clear()
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        root.addHandler(handler)


def say(line: str) -> None:
    """Write one line to stderr in one write, so that parallel jobs' lines never run into each other.

    ``print`` writes the text and its newline apart; unbuffered (PYTHONUNBUFFERED, as CI runners
    and containers often set) those are two writes to the stream jobs share, and another job's
    line can land between them.
    """
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def report_error(error: CamsisError) -> None:
    """The one line a user sees: ``camsis: error: <message>`` on stderr (and in a log file, if any)."""
    message = " ".join(str(error).split())
    root = logging.getLogger("camsis")
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    if files:
        root.handlers = files
        root.error("%s", message)
    say(f"camsis: error: {message}")


def run(main, snakemake) -> None:
    """Run a rule script's ``main(snakemake)``: log to the rule's log, a CamsisError as one line and exit 1.

    The line names the scale the job builds (and the rule) unless the message already does,
    so an error deep in a stage ("the CA needs ...") still says which scale of the sheet it is.
    """
    configure_logging(snakemake.log[0] if len(snakemake.log) else None)
    try:
        main(snakemake)
    except CamsisError as error:
        scale = dict(snakemake.wildcards.items()).get("scale")
        if scale and f"scale {scale}" not in str(error):
            error = CamsisError(f"scale {scale} ({snakemake.rule}): {error}")
        report_error(error)
        sys.exit(1)


class Named(dict):
    """A job's named inputs, outputs, params or wildcards with attribute access, as Snakemake's own."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ScaleJob:
    """One scale's share of a batch job, in the shape of the ``snakemake`` object its rule script takes.

    ``job`` holds the scale's ``wildcards``, ``input``, ``output``, ``params`` (name -> value) and
    ``log`` (paths), as the per-scale rule would have declared them (workflow/rules/common.smk, ``Stage``).
    """

    def __init__(self, rule: str, job: Mapping):
        self.rule = rule
        self.wildcards = Named(job["wildcards"])
        self.input, self.output, self.params = Named(job["input"]), Named(job["output"]), Named(job["params"])
        self.log = list(job["log"])


def run_batch(name: str, stages: Mapping[str, Sequence[Mapping]], scripts) -> None:
    """Build each scale of a batch job (scales_per_job > 1) through the job's stages, as its own jobs would.

    ``stages`` maps each stage's rule (``tabulate``, ...), in the order they run, to its jobs, one a
    scale in the batch's order; ``scripts`` is the folder of the rule scripts (``tabulate.py``, ...).
    A scale that fails says so in its own error line and log, as in its own job, and skips its later
    stages; the batch goes on to the next scale. The job then fails, naming every scale that did
    (Snakemake then removes every output of the job, its other scales' too).
    """
    failed = []
    scales = list(zip(*stages.values()))  # each scale's jobs, in stage order
    for jobs in scales:
        for rule, job in zip(stages, jobs):
            try:
                runpy.run_path(str(Path(scripts) / f"{rule}.py"), init_globals={"snakemake": ScaleJob(rule, job)},
                               run_name="__main__")
            except SystemExit as stop:
                if stop.code:
                    failed.append(f"{job['wildcards']['scale']} in {rule}")
                    break
    if failed:
        # Each failing scale has said why in its own error line; this only adds what it means for the others.
        say(f"camsis: {len(failed)} of the {len(scales)} scales of job {name} failed "
            f"({', '.join(failed)}); the job's other scales are built again with them once they build "
            "(scales_per_job: 1 gives every scale jobs of its own)")
        sys.exit(1)


def given(files):
    """An optional input as the step takes it: None when the rule declares none (an empty list),
    the path when one, the paths when several (a status scheme's .tsv and .yaml)."""
    if isinstance(files, str):
        return files
    files = list(files)
    if not files:
        return None
    return files[0] if len(files) == 1 else files
