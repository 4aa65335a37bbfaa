"""The `camsis` command: one subcommand per tool.

Each subcommand is registered by an `_add_<name>(subparsers)` function that sets its
`run` callable; `main` only parses, configures logging (``camsis.runner``) and turns a
CamsisError into one line on stderr with exit status 2. Inputs are read by
``camsis.io.reading`` and outputs written through ``camsis.io.writing.atomic_path``, all of them
moved into place only when everything succeeded, so an error leaves no partial or
stale-looking output behind.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from camsis.cli_classification import add_classification, add_translate
from camsis.errors import CamsisError
from camsis.io.reading import read_columns
from camsis.io.survey import read_survey, values_for_matching, write_survey
from camsis.io.writing import atomic_path, check_paths, write_csv, write_dta, write_json
from camsis.method.esres import esres
from camsis.publish.match import match, score_index
from camsis.runner import configure_logging, report_error

log = logging.getLogger("camsis.cli")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `camsis` console script; returns the exit status."""
    parser = argparse.ArgumentParser(prog="camsis", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_esres(sub)
    add_classification(sub)
    add_translate(sub)
    _add_match(sub)
    args = parser.parse_args(argv)
    configure_logging(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        args.run(args)
    except CamsisError as err:
        report_error(err)
        return 2
    return 0


def _write_scores(scores: pd.DataFrame, path, labels: dict, value_labels: dict) -> None:
    if str(path).lower().endswith(".csv"):
        write_csv(scores, path)
        return
    try:
        write_dta(scores, path, labels, value_labels, file_label="")
    except (ValueError, TypeError, pyreadstat.PyreadstatError) as err:
        raise CamsisError(f"cannot write {path}: {' '.join(str(err).split())}") from err


# --- esres ---------------------------------------------------------------------------

def _add_esres(sub) -> None:
    p = sub.add_parser("esres", help="effect scores from random-effects residuals (ESRES) per category",
                       description="Fit a random-intercept model of OUTCOME with GROUP as the category "
                                   "(REML by default) and write per-category EPS and ESRES scores.")
    p.add_argument("data", metavar="DATA", help="input file: .dta, .sav, .csv or .parquet")
    p.add_argument("--outcome", required=True, metavar="Y")
    p.add_argument("--group", required=True, metavar="G")
    p.add_argument("--within", nargs="+", default=[], metavar="G2",
                   help="variables GROUP nests in, finest first (e.g. --group school --within la): a random "
                        "intercept each; ESRES then adds the posterior of the category's groups' effects")
    p.add_argument("--groups-out", metavar="FILE", help="with --within: every group's effect and posterior (.csv)")
    p.add_argument("--controls", nargs="+", default=[], metavar="X", help="control variables (numeric)")
    p.add_argument("--weight", metavar="W", help="frequency weight variable")
    p.add_argument("--log", action="store_true",
                   help="model log(Y); report EPS and ESRES as geometric means (exp), esres_se_log on the log scale")
    fit = p.add_mutually_exclusive_group()
    fit.add_argument("--reml", dest="reml", action="store_true", default=True, help="REML fit (default)")
    fit.add_argument("--ml", dest="reml", action="store_false", help="maximum likelihood fit")
    p.add_argument("--out", required=True, metavar="FILE", help="scores: .csv or .dta (labelled)")
    p.add_argument("--summary", metavar="FILE.json", help="model summary as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="caterpillar plot of ESRES with 95%% intervals")
    p.set_defaults(run=run_esres)


def run_esres(args: argparse.Namespace) -> None:
    """The `camsis esres` command: read, fit, then write every requested output atomically."""
    if Path(args.out).suffix.lower() not in (".csv", ".dta"):
        raise CamsisError(f"--out {args.out}: write scores as .csv or .dta")
    if args.plot:
        _check_plot_format(args.plot)
    if args.groups_out and not args.within:
        raise CamsisError("--groups-out writes the groups of --within: give the variables GROUP nests in")
    if args.groups_out and Path(args.groups_out).suffix.lower() != ".csv":
        raise CamsisError(f"--groups-out {args.groups_out}: write the groups as .csv")
    check_paths({"DATA": args.data}, {"--out": args.out, "--summary": args.summary, "--plot": args.plot,
                                      "--groups-out": args.groups_out})
    columns = [args.outcome, args.group, *args.within, *args.controls] + ([args.weight] if args.weight else [])
    data, value_labels, variable_labels = read_columns(args.data, columns)
    if args.log:
        data = _log_outcome(data, args.outcome, [args.group, *args.within, *args.controls])
    result = esres(data, args.outcome, args.group, controls=args.controls, weights=args.weight,
                   reml=args.reml, within=args.within)
    scores = result.scores
    for name in (args.group, *args.within):
        scores = _integral_groups(scores, name)
    labels = _column_labels(args.outcome, args.group, variable_labels.get(args.group, args.group), args.log)
    if args.log:
        scores = scores.assign(eps=np.exp(scores["eps"]), esres=np.exp(scores["esres"]))
        scores = scores.rename(columns={"esres_se": "esres_se_log"})
    group_labels = value_labels.get(args.group, {})
    # Every output goes to a temporary file; all are renamed into place only if all were written.
    with ExitStack() as outputs:
        _write_scores(scores, outputs.enter_context(atomic_path(args.out)), labels,
                      _dta_value_labels(scores, args.group, group_labels))
        if args.summary:
            summary = dict(result.summary, data=str(args.data), outcome=args.outcome, group=args.group,
                           within=list(args.within), controls=list(args.controls), weight=args.weight,
                           log=bool(args.log))
            write_json(summary, outputs.enter_context(atomic_path(args.summary)))
        if args.plot:
            _plot(result.scores, args, group_labels, outputs.enter_context(atomic_path(args.plot)))
        if args.groups_out:
            groups = pd.concat([level.assign(level=name) for name, level in zip(args.within, result.groups)])
            write_csv(groups[["level", "group", "n", "effect", "effect_se", "path", "path_se"]],
                      outputs.enter_context(atomic_path(args.groups_out)))
    log.info("wrote %d category scores to %s", len(scores), args.out)


def _check_plot_format(path: str) -> None:
    # Lazy: matplotlib is loaded only by a command that draws (--plot), not by every `camsis` call.
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in formats:
        raise CamsisError(f"--plot {path}: unknown image format {ext or '(no extension)'!r}; "
                          f"use one of {', '.join(sorted(formats))}")


def _dta_value_labels(scores: pd.DataFrame, group: str, group_labels: dict) -> dict:
    """Stata value labels attach to integer codes only; carry the input's labels over."""
    if not group_labels or not pd.api.types.is_integer_dtype(scores[group]):
        return {}
    return {group: {int(k): v for k, v in group_labels.items()}}


def _log_outcome(data: pd.DataFrame, outcome: str, others: list[str]) -> pd.DataFrame:
    y = data[outcome]
    if not pd.api.types.is_numeric_dtype(y):
        raise CamsisError(f"outcome {outcome!r} is not numeric (dtype {y.dtype})")
    used = y.notna() & data[others].notna().all(axis=1)
    bad = int((y[used] <= 0).sum())
    if bad:
        raise CamsisError(f"outcome {outcome!r} has {bad} non-positive values; --log needs {outcome} > 0")
    return data.assign(**{outcome: np.log(y.astype(float))})


def _integral_groups(scores: pd.DataFrame, group: str) -> pd.DataFrame:
    """Codes read as floats (Stata/SPSS numeric) are written back as integers."""
    col = scores[group]
    if pd.api.types.is_float_dtype(col) and np.all(np.mod(col.to_numpy(), 1) == 0) \
            and np.abs(col).max() < 2 ** 31:
        return scores.assign(**{group: col.astype(np.int64)})
    return scores


def _column_labels(outcome: str, group: str, group_label: str, logged: bool) -> dict:
    mean = f"Geometric mean of {outcome} (EPS)" if logged else f"Mean of {outcome} (EPS)"
    score = f"ESRES of {outcome}: exp(intercept + BLUP)" if logged else f"ESRES of {outcome}: intercept + BLUP"
    return {
        group: group_label,
        "n": "Observations (sum of weights)",
        "eps": mean,
        "esres": score,
        "esres_se": "Posterior SD of the BLUP",
        "esres_se_log": "Posterior SD of the BLUP, log scale",
        "lambda": "Shrinkage factor lambda",
        "effect": "The category's own effect (BLUP; nested models)",
        "effect_se": "Posterior SD of the category's own effect",
    }


def _plot(scores: pd.DataFrame, args, group_labels: dict, path: str) -> None:
    # Lazy: matplotlib is loaded only by a command that draws (--plot), not by every `camsis` call.
    from camsis.publish.plots import caterpillar_plot

    names = scores[args.group].map(lambda v: group_labels.get(v, v) if group_labels else v)
    frame = scores.assign(label=names.map(_short_label))
    what = f"log({args.outcome})" if args.log else args.outcome
    caterpillar_plot(frame, "label", "esres", "esres_se", path,
                     title=f"ESRES of {what} by {args.group}",
                     back_transform=np.exp if args.log else None,
                     xlabel=f"{'geometric mean of ' if args.log else ''}{args.outcome}: ESRES with 95% interval",
                     fmt=Path(args.plot).suffix.lstrip(".") or "png")


def _short_label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- match ---------------------------------------------------------------------------

def _add_match(sub) -> None:
    p = sub.add_parser("match", help="add CAMSIS scores (mcamsis, fcamsis, camsis) to survey data",
                       description="Add mcamsis and fcamsis (and camsis, the own-sex score, with --sex) to "
                                   "every row of a survey file, matched on its occupation code at whatever "
                                   "level it is coded (and on employment status for by-status score files). "
                                   "The survey's rows, columns, order and labels are kept; the input is "
                                   "never modified.")
    p.add_argument("survey", metavar="SURVEY", help="survey data: .dta, .sav, .csv or .parquet")
    p.add_argument("--scores", required=True, metavar="SCOREFILE",
                   help="a CAMSIS score file (this workflow's or a published one): .dta, .sav, .csv or .parquet")
    p.add_argument("--occ", required=True, metavar="VAR", help="the survey's occupation code variable")
    p.add_argument("--status", metavar="VAR",
                   help="the survey's employment status variable, coded as the score file's status "
                        "(by-status files; missing or negative = 0, no information)")
    p.add_argument("--scores-status", metavar="COLUMN",
                   help="which status column of the score file --status is coded to, when it has several")
    p.add_argument("--sex", metavar="VAR", help="1 male, 2 female: adds camsis, the own-sex score")
    p.add_argument("--prefix", default="", metavar="TEXT",
                   help="prefix for the new columns' names, e.g. sp_ for a spouse's occupation")
    p.add_argument("--out", required=True, metavar="FILE", help="the survey with scores: .dta, .sav, .csv or .parquet")
    p.add_argument("--summary", metavar="FILE.json", help="counts of matched, missing and unmatched rows as JSON")
    p.set_defaults(run=run_match)


def run_match(args: argparse.Namespace) -> None:
    """The `camsis match` command: read the survey and scores, match, write atomically."""
    check_paths({"SURVEY": args.survey, "--scores": args.scores}, {"--out": args.out, "--summary": args.summary})
    # CSV to CSV: the survey's cells pass through as text, unchanged (000001 stays 000001, NA stays NA).
    survey = read_survey(args.survey, text=Path(args.out).suffix.lower() == ".csv")
    scores = read_survey(args.scores)
    for name, variable in (("--occ", args.occ), ("--status", args.status), ("--sex", args.sex)):
        if variable is not None and variable not in survey.frame.columns:
            raise CamsisError(f"survey {args.survey}: no variable {variable!r} ({name})")
    index = score_index(scores.frame, status=args.scores_status, source=f"score file {args.scores}")
    plain = values_for_matching(survey, [args.occ, args.status, args.sex])
    scored, summary = match(plain, index, args.occ, status=args.status, sex=args.sex, prefix=args.prefix)
    added = summary["columns_added"]
    frame = survey.frame.assign(**{column: scored[column] for column in added})
    name = Path(args.scores).name
    labels = {added[0]: f"CAMSIS for males ({name})", added[1]: f"CAMSIS for females ({name})"}
    if args.sex:
        labels[added[2]] = f"CAMSIS for own sex by {args.sex} ({name})"
    # The summary is written first to its temporary file, and renamed into place only once the survey is.
    with ExitStack() as outputs:
        if args.summary:
            write_json(dict(summary, survey=str(args.survey), scores=str(args.scores), out=str(args.out)),
                       outputs.enter_context(atomic_path(args.summary)))
        write_survey(survey, frame, args.out, labels)
    log.info("matched %d of %d rows (%d missing codes, %d not in the score file)", summary["matched"],
             summary["rows"], summary["missing"], summary["not_in_scores"])
    if summary["not_in_scores"]:
        shown = ", ".join(f"{u['code']} ({u['rows']})" for u in summary["unmatched_codes"][:5])
        log.warning("%d rows have codes not in %s; most frequent: %s", summary["not_in_scores"], name, shown)


if __name__ == "__main__":
    sys.exit(main())
