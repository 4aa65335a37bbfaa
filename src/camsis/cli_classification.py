"""`camsis classification import` and `camsis translate`: the command-line side.

Kept apart from camsis.cli (which holds the shared parser and error handling) so each
subcommand's options live beside the code that reads them; the work itself is done by
camsis.classifications.codeframe and camsis.publish.translating.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from camsis.classifications.classification import load_classification
from camsis.classifications.codeframe import check_destination, import_classification, write_classification_files
from camsis.classifications.statuses import available_schemes, load_scheme
from camsis.errors import CamsisError
from camsis.io.writing import check_paths
from camsis.publish.translating import read_crosswalk, read_scores, translate_by_status, translate_scores, write_translation

log = logging.getLogger("camsis.cli")


def add_classification(sub) -> None:
    """Register `camsis classification import`."""
    p = sub.add_parser("classification", help="code frames: import one from a label file",
                       description="Manage the code frames in data/classifications.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import", help="write NAME.tsv + NAME.yaml from a do-file, SPSS syntax, labelled .dta/.sav or IPUMS codebook",
        description="Build a code frame from value labels: the units' label set (or, in a .dta/.sav, the "
                    "variable), optionally the label sets of coarser groups (finest first). The hierarchy "
                    "comes from the codes: a group holds the units whose code, at full width, begins with "
                    "the group's code. Trailing-zero group codes (2100 for group 21) are recognised.")
    imp.add_argument("file", metavar="FILE",
                     help="Stata .do, SPSS .sps, labelled .dta/.sav, or an IPUMS codebook .xml (--units: its variable)")
    imp.add_argument("--name", required=True, help="classification name (file stem, scale sheet column)")
    imp.add_argument("--units", required=True, metavar="LABELSET_OR_VAR", help="label set of the units")
    imp.add_argument("--groups", nargs="+", default=[], metavar="LABELSET",
                     help="label sets of coarser levels, finest first")
    imp.add_argument("--group-digits", nargs="+", type=int, metavar="N",
                     help="group levels by leading digits, finest first (e.g. 3 2 1) when no label set names them")
    imp.add_argument("--exclude", nargs="+", type=int, default=[], metavar="CODE",
                     help="codes to leave out (counted in the report)")
    imp.add_argument("--links", metavar="FILE", help=".csv/.tsv/.dta/.sav with a code column and measures")
    imp.add_argument("--link-code", metavar="VAR", help="code column of --links (default: code, NAME, or the first)")
    imp.add_argument("--link-measures", nargs="+", metavar="VAR", help="measures to link (default: all numeric)")
    imp.add_argument("--reference-measure", metavar="VAR", help="linked measure that orients the scale by default")
    imp.add_argument("--variable", help="code variable name in score files (default NAME)")
    imp.add_argument("--label", help="its variable label (default: the file's, else NAME)")
    imp.add_argument("--out", default="data/classifications", metavar="DIR",
                     help="directory to write into, made if absent (default data/classifications)")
    imp.add_argument("--force", action="store_true",
                     help="replace a classification of the same name already in --out")
    imp.set_defaults(run=run_import)


def run_import(args: argparse.Namespace) -> None:
    """``camsis classification import``: a published code frame turned into the .tsv and .yaml a build reads."""
    check_destination(args.out, args.name, args.force)  # before the work, so a refusal costs nothing
    frame, metadata, report = import_classification(
        args.file, args.name, args.units, groups=args.groups, group_digits=args.group_digits,
        exclude=args.exclude, links=args.links, link_code=args.link_code, link_measures=args.link_measures,
        reference_measure=args.reference_measure, variable=args.variable, label=args.label)
    for line in report.lines():
        log.info("%s: %s", args.name, line)
    for line in report.warnings():
        log.warning("%s: %s", args.name, line)
    tsv, yaml_path = write_classification_files(frame, metadata, args.out, args.name, force=args.force)
    print(f"{args.name}: {report.summary()}; wrote {tsv} and {yaml_path}")


def add_translate(sub) -> None:
    """Register `camsis translate`."""
    p = sub.add_parser(
        "translate", help="carry a scale's scores to another classification through a crosswalk",
        description="Each target code gets the weighted mean of the scores of its source codes (weights: "
                    "n_m / n_f of the score file, or --weight); target codes without a source stay missing "
                    "and are counted; groups of the target are the weighted means of their units. A by-status "
                    "file (codes repeated, one row per status) is translated status by status.")
    p.add_argument("scores", metavar="SCOREFILE", help="score file of a built scale (.dta or .csv)")
    p.add_argument("--to", required=True, metavar="CLASSIFICATION", help="target classification name")
    p.add_argument("--crosswalk", required=True, metavar="FILE",
                   help=".csv/.tsv/.dta/.sav with a source and a target code column (a code frame .tsv with a "
                        "link to the target works: soc2020.tsv's isco08)")
    p.add_argument("--from-column", metavar="VAR", help="source code column of the crosswalk "
                   "(default: the score file's code variable, else code)")
    p.add_argument("--to-column", metavar="VAR", help="target code column of the crosswalk (default: the target's variable)")
    p.add_argument("--score-columns", nargs="+", metavar="VAR",
                   help="score columns to translate (default: mcamsis fcamsis mcamsis2 fcamsis2, those present; "
                        "the published GB 2010 files: gb_csm gb_csf)")
    p.add_argument("--weight", nargs="+", metavar="VAR",
                   help="column counting the people behind the scores: one for every score, or one per score "
                        "column (default n_m / n_f for camsis's columns, n_COLUMN otherwise: n_gb_csm for gb_csm)")
    p.add_argument("--status", metavar="VAR",
                   help="status column of a by-status score file (default: found when the codes repeat)")
    p.add_argument("--classifications", default="data/classifications", metavar="DIR",
                   help="where the target's code frame is (default data/classifications)")
    p.add_argument("--statuses", default="data/statuses", metavar="DIR",
                   help="status schemes, whose pair counts weight a build's by-status file (default data/statuses)")
    p.add_argument("--out", required=True, metavar="FILE", help="translated scores: .dta or .csv")
    p.set_defaults(run=run_translate)


def run_translate(args: argparse.Namespace) -> None:
    """``camsis classification translate``: scores carried to another classification through a crosswalk."""
    if Path(args.out).suffix.lower() not in (".csv", ".dta"):
        raise CamsisError(f"--out {args.out}: write .csv or .dta")
    check_paths({"SCOREFILE": args.scores, "--crosswalk": args.crosswalk}, {"--out": args.out})
    target = load_classification(args.to, args.classifications)
    schemes = [load_scheme(name, args.statuses) for name in available_schemes(args.statuses)]
    scores = read_scores(args.scores, args.score_columns, args.weight, args.status, schemes)
    crosswalk = read_crosswalk(args.crosswalk, args.from_column or scores.code, args.to_column or target.variable)
    if scores.status:
        result, report = translate_by_status(scores, crosswalk, target)
    else:
        result, report = translate_scores(scores.data, scores.code, crosswalk, target, scores.weights)
    write_translation(result, report, target, args.out, source=Path(args.scores).name, scores=scores)
    for line in report["lines"]:
        log.warning("%s", line)
    by = f" at each of {len(report['statuses'])} {scores.status} statuses" if scores.status else ""
    print(f"translated {report['sources_used']} source codes to {report['targets_scored']} of "
          f"{report['targets']} {target.name} units{by}; wrote {args.out}")
