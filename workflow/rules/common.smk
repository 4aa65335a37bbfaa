# Config helpers: validate the config and the sheet first, then answer the rules' questions.

import re
import sys
from functools import lru_cache
from pathlib import Path

import yaml

from jsonschema import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.io import report
from snakemake.iocontainers import Wildcards
from snakemake.utils import min_version, validate

from camsis.classifications.classification import read_classification
from camsis.classifications.statuses import available_schemes, load_scheme
from camsis.config import load_scales, read_recodes
from camsis.errors import CamsisError
from camsis.io.reading import cached_sha256, data_files, input_columns
from camsis.publish.compare import title_only_rows
from camsis.scaling.uncertainty import batches
from camsis.steps import input_variables

# The results/ layout (set-aside before a rebuild) is the workflow's: workflow/scripts/results_layout.py,
# which the rule scripts can import too (Snakemake puts their folder on sys.path).
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from results_layout import clear_stale, set_aside_products

min_version("8.0")


configfile: "config/config.yaml"


def validated(data, schema, what):
    """Snakemake's validate, its multi-line report cut to one line naming the key at fault."""
    try:
        validate(data, schema)
    except WorkflowError as error:
        cause = error.__context__
        if not isinstance(cause, ValidationError):
            raise
        where = "/".join(str(part) for part in cause.absolute_path)
        sys.exit(f"camsis: error: {what}{': ' + where if where else ''}: {cause.message}")


validated(config, "../schemas/config.schema.yaml", "config")

try:
    scales = load_scales(config["scales"], config["classifications"], config["statuses"])
except CamsisError as error:
    sys.exit(f"camsis: error: {error}")
validated(scales, "../schemas/scales.schema.yaml", f"scales sheet {config['scales']}")


wildcard_constraints:
    scale="|".join(scales.index),
    # "" for a scale's title-only units, "_by_status" for its occupation-by-status units
    variant="(_by_status)?",


def scale_row(wildcards):
    return scales.loc[wildcards.scale]


def sheet(column, empty=None):
    """A param holding one cell of the scale's sheet row (``empty`` when blank).

    Rules take the cells they use one by one, never the whole row: Snakemake reruns a job
    when a param changes, so editing compare_to must not rerun tabulate.
    """

    def cell(wildcards):
        value = scales.loc[wildcards.scale, column]
        return value if value != "" else empty

    return cell


# Sheet columns and config keys that make no number of a scale's score files: they steer only
# what is made from them (comparison, plots, release, the list of candidates), name the sheet
# itself or cut its jobs. The provenance score_file records leaves them out, so editing one reruns only the
# rules that use it. psd_top and psd_min_count make the masks when psd_rounds > 0, and are then kept.
DOWNSTREAM_COLUMNS = ("compare_to", "version", "title", "author")
DOWNSTREAM_CONFIG = ("scales", "compare_to", "plots", "plot_dpi", "plausible_values", "release", "scales_per_job") + (
    ("psd_top", "psd_min_count") if config["psd_rounds"] == 0 else ()
)
# In a fixed order, or the order of --config options would force a rerun.
PROVENANCE_CONFIG = {key: value for key, value in sorted(config.items()) if key not in DOWNSTREAM_CONFIG}


def sheet_row(wildcards):
    """The row, for the score files' provenance (notes and summary.json): every cell that makes its numbers."""
    return {key: value for key, value in scales.loc[wildcards.scale].items() if key not in DOWNSTREAM_COLUMNS}


def made_or_present(path):
    """A file that exists, or that a rule of this workflow makes (the demo input, another scale's score file)."""
    return Path(path).exists() or any(rule.is_producer(str(path)) for rule in workflow.rules)


def existing(path, what, wildcards):
    """A file the sheet names must exist or be made by a rule; else one line, before any job runs.

    Checked when the DAG is built (not when the sheet is read) because the demo input is
    made by a rule included after this file.
    """
    if not made_or_present(path):
        sys.exit(f"camsis: error: scales sheet {config['scales']}: {what} {path} of scale {wildcards.scale} does not exist")
    return path


def input_file(wildcards):
    return existing(scale_row(wildcards)["input"], "input file", wildcards)


# Every IPUMS extract (DDI codebook .xml) the sheet names, by a key naming its decoded columns
# results/inputs/work/{key}.parquet (rule decode_input): its stem, numbered when two share one.
EXTRACTS = {}
for _path in dict.fromkeys(path for path in scales["input"] if Path(path).suffix.lower() == ".xml"):
    _key = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(_path).stem)
    EXTRACTS[_key if _key not in EXTRACTS else f"{_key}_{len(EXTRACTS)}"] = _path
EXTRACT_KEYS = {path: key for key, path in EXTRACTS.items()}

# A row's cells that name input variables (its filter's are added by steps.input_variables).
VARIABLE_CELLS = ("occ1", "occ2", "status1", "status2", "weight", "person", "partner", "household", "sex", "occ",
                  "status", "wave")


def extract_variables(key):
    """The variables of extract ``key`` that the sheet's rows read, in sheet order, those the codebook has
    (a misspelt one is refused by its own scale's tabulate, naming the codebook, not by every scale's)."""
    path = EXTRACTS[key]
    rows = scales[scales["input"] == path]
    try:
        wanted = [name for _, row in rows.iterrows()
                  for name in input_variables([row[c] for c in VARIABLE_CELLS if c in row], row["filter"] or None)]
        available = set(input_columns(path))
    except CamsisError as error:
        sys.exit(f"camsis: error: scales sheet {config['scales']}: {error}")
    return [name for name in dict.fromkeys(wanted) if name in available]


def extract_files(wildcards):
    """An extract's codebook and data file: a new download reruns its decoding."""
    path = EXTRACTS[wildcards.extract]
    if not Path(path).exists():
        sys.exit(f"camsis: error: scales sheet {config['scales']}: input file {path} does not exist")
    try:
        return data_files(path)
    except CamsisError as error:
        sys.exit(f"camsis: error: scales sheet {config['scales']}: {error}")


def decoded_files(wildcards):
    """A scale's input decoded once for the sheet (rule decode_input), when it is an IPUMS extract; else []."""
    key = EXTRACT_KEYS.get(input_file(wildcards))
    return [f"results/inputs/work/{key}.parquet", f"results/inputs/work/{key}.json"] if key else []


# Where the inputs' checksums are kept between runs (camsis.io.reading.cached_sha256).
CHECKSUMS = ".snakemake/camsis_input_checksums.json"


def contents_checksum(path):
    """The sha256 of an input's contents, a param of the rules that read it, so new contents rerun them.

    Snakemake reruns a job when an input's mtime is newer than its outputs, which misses
    contents changed under a kept mtime (touch -r, cp -p, sync tools); a param that changes
    with the contents reruns it. The sha256 is computed again only when the file's
    fingerprint (inode, size, mtime, ctime; of an IPUMS extract's data file too) changed.
    """
    try:
        return cached_sha256(path, CHECKSUMS)
    except (OSError, CamsisError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        sys.exit(f"camsis: error: scales sheet {config['scales']}: input file {path} cannot be read ({reason})")


def input_checksum(wildcards):
    """The scale's input's contents_checksum; a file this workflow makes (the demo input) is left
    to Snakemake: it has no contents before its rule runs."""
    path = input_file(wildcards)
    if any(rule.is_producer(str(path)) for rule in workflow.rules):
        return "made by this workflow"
    return contents_checksum(path)


def classification_files(wildcards):
    """The code frame's .tsv and .yaml, then its status-links files (a change to one rebuilds)."""
    name = scale_row(wildcards)["classification"]
    folder = Path(config["classifications"])
    files = [existing(folder / f"{name}.{ext}", "code frame file", wildcards) for ext in ("tsv", "yaml")]
    return files + [str(folder / file) for file in status_link_files(files[1])]


@lru_cache(maxsize=None)
def status_link_files(path):
    """The status-links files a code frame's .yaml names, read once a run: every job of every scale
    of the classification asks (a sheet of 24 SOC2020 scales parsed the .yaml 144 times, most of
    Snakemake's start)."""
    try:
        links = yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("status_links") or {}
    except (yaml.YAMLError, AttributeError, UnicodeDecodeError):
        return ()  # the rule's own reading names what is wrong with the .yaml
    return tuple(str(file) for file in dict(links).values())


def sheet_classification_files():
    """The .tsv and .yaml of every classification the sheet's scales use (rule compare_scales)."""
    folder = Path(config["classifications"])
    names = dict.fromkeys(scales["classification"])
    return [str(folder / f"{name}.{ext}") for name in names for ext in ("tsv", "yaml")]


def comparison_outputs():
    """The comparison of the sheet's scales with one another, when it has more than one."""
    if len(scales.index) < 2:
        return []
    return [f"results/comparison/{name}" for name in ("mcamsis.tsv", "fcamsis.tsv", "heatmap.png", "against_mean.png")]


def by_status(scale):
    """Whether the scale is also built on occupation-by-status units (its row names a status scheme)."""
    return bool(scales.loc[scale, "statuses"])


VARIANTS = {"": "title-only units", "_by_status": "occupation-by-status units"}


def variants(scale):
    """The {variant}s a scale is built in: title-only, and by status when its row names a scheme."""
    return ["", "_by_status"] if by_status(scale) else [""]


def status_scheme_files(wildcards):
    """The status scheme's .tsv and .yaml (camsis.classifications.statuses.load_scheme reads both)."""
    name = scale_row(wildcards)["statuses"]
    if not name:
        sys.exit(f"camsis: error: scales sheet {config['scales']}: scale {wildcards.scale} names no statuses, "
                 f"so it has no by-status files")
    folder = Path(config["statuses"])
    return [existing(folder / f"{name}.{ext}", "status scheme file", wildcards) for ext in ("tsv", "yaml")]


def variant_scheme_files(wildcards):
    """The input ``scheme`` of a rule with a {variant}: the status scheme's files by status, else none."""
    return status_scheme_files(wildcards) if wildcards.variant else []


def variant_sheet(column):
    """A param holding a sheet cell only the by-status variant reads (a status variable), else None:
    editing it reruns no title-only job."""
    cell = sheet(column)
    return lambda wildcards: cell(wildcards) if wildcards.variant else None


def input_if(path, applies):
    """An optional input: ``path`` (formatted with the wildcards) where ``applies(wildcards)``, else [].

    The one idiom of optional inputs: every rule declares its optional inputs by name, each
    either a file or [], and the rule script reads it with ``camsis.runner.given``.
    """
    return lambda wildcards: path.format(**dict(wildcards.items())) if applies(wildcards) else []


def by_status_job(wildcards):
    """The job is the by-status variant's."""
    return bool(wildcards.variant)


def title_job_of_a_scale_by_status(wildcards):
    """The job is the title-only variant's of a scale also built by status (its summary.json reports that build)."""
    return not wildcards.variant and by_status(wildcards.scale)


def bootstrap_on(wildcards):
    """The config asks for a bootstrap."""
    return config["bootstrap"] > 0


def release_tables(wildcards):
    """The tables of a scale's release: its score file and, built with statuses, its by-status file."""
    stems = [wildcards.scale] + ([f"{wildcards.scale}_by_status"] if by_status(wildcards.scale) else [])
    return [f"results/{wildcards.scale}/release/{stem}.{ext}" for stem in stems for ext in ("dta", "sav", "tsv")]


def release_scheme_files(wildcards):
    """The status scheme the release's readme describes ([] for a title-only scale)."""
    return status_scheme_files(wildcards) if by_status(wildcards.scale) else []


def sheet_file(column, what):
    """An input: the file one sheet column names ([] when the cell is blank)."""

    def files(wildcards):
        path = scale_row(wildcards)[column]
        return [existing(path, what, wildcards)] if path else []

    return files


def recodes_file(wildcards):
    """The recodes file, declared by every rule that rebuilds stages 4-7 (editing it reruns them).

    One that exists is read now, so a bad one (empty, a code recoded twice) stops the run
    before the table, which on a large input takes the longest, is read.
    """
    files = sheet_file("recodes", "recodes file")(wildcards)
    if files and files[0] not in CHECKED_RECODES and Path(files[0]).exists() \
            and not any(rule.is_producer(str(files[0])) for rule in workflow.rules):
        try:
            read_recodes(files[0])
        except CamsisError as error:
            sys.exit(f"camsis: error: scale {wildcards.scale}: {error}")
        CHECKED_RECODES.add(files[0])
    return files


CHECKED_RECODES = set()  # each file once per run (several rules of a scale declare it)


low, high = config["clip"]
if not low < config["mean"] < high:
    sys.exit(
        f"camsis: error: config: clip [{low:g}, {high:g}] must be a range around the mean {config['mean']:g}, "
        f"lower bound first (e.g. [1, 99] for mean 50)"
    )


if config["plausible_values"] > config["bootstrap"]:
    sys.exit(
        f"camsis: error: config: plausible_values ({config['plausible_values']}) cannot exceed "
        f"bootstrap ({config['bootstrap']}): each plausible value is one bootstrap replicate; "
        f"lower plausible_values (0 turns them off) or raise bootstrap"
    )


def compare_file(scale):
    """The score file a scale is compared with: its sheet's compare_to, else the config's; None: none."""
    return scales.loc[scale, "compare_to"] or config.get("compare_to") or None


def compare_input(wildcards):
    """The compare_to file; one that exists is read now, so a wrong one stops the run before any job."""
    path = compare_file(wildcards.scale)
    if not made_or_present(path):
        sys.exit(f"camsis: error: compare_to file {path} of scale {wildcards.scale} does not exist")
    if Path(path).exists() and not any(rule.is_producer(str(path)) for rule in workflow.rules):
        variable = classification_variable(scale_row(wildcards)["classification"])
        try:
            title_only_rows(path, variable, status_variables())
        except CamsisError as error:
            sys.exit(f"camsis: error: scale {wildcards.scale}: compare_to file {path} is not a score file of "
                     f"{variable}: {error}")
    return path


def status_variables():
    """(status variable, no-information status) of every scheme: a compare_to file holding one of
    these variables is a by-status file (such as gb_soc2020_v2.dta, empst3)."""
    folder = config["statuses"]
    return [[scheme.variable, scheme.unknown] for scheme in (load_scheme(name, folder) for name in available_schemes(folder))]


def classification_variable(name):
    folder = Path(config["classifications"])
    return read_classification(folder / f"{name}.tsv", folder / f"{name}.yaml").variable


DIAGNOSTIC_PLOTS = ["caterpillar_m", "caterpillar_f", "shrinkage", "male_female", "ca_map", "linked_measures"]


def diagnostic_outputs():
    """Plots of every scale (and of its by-status units), and the comparison of those that name a compare_to file."""
    plots = [f"results/{scale}/plots{variant}/{name}.png" for scale in scales.index for variant in variants(scale)
             for name in DIAGNOSTIC_PLOTS] if config["plots"] else []
    compared = [f"results/{scale}/compare{variant}.tsv" for scale in scales.index if compare_file(scale)
                for variant in variants(scale)]
    return plots + compared + comparison_outputs()


def all_outputs():
    products = ["{scale}{variant}.dta", "{scale}{variant}.csv", "summary{variant}.json", "psd_candidates{variant}.tsv"]
    if config["plausible_values"] > 0:
        products.append("plausible{variant}.dta")
    return diagnostic_outputs() + [
        f"results/{scale}/" + product.format(scale=scale, variant=variant)
        for scale in scales.index for variant in variants(scale) for product in products
    ]


def scale_mask(wildcards):
    """The masks the scale is built with: those of the psd rounds when psd_rounds > 0."""
    name = "blanked_rounds" if config["psd_rounds"] > 0 else "blanked"
    return f"results/{wildcards.scale}/work/{name}.parquet"


def bootstrap_batches():
    """Replicates 1..B cut into batches of bootstrap_batch (default: two batches)."""
    size = config.get("bootstrap_batch") or max(1, -(-config["bootstrap"] // 2))
    return batches(config["bootstrap"], size)


def bootstrap_batch_files(wildcards):
    return [f"results/{wildcards.scale}/bootstrap{wildcards.variant}/batch_{b}.parquet"
            for b in range(1, len(bootstrap_batches()) + 1)]


def batch_replicates(wildcards):
    """The replicate numbers of batch {b}."""
    return list(bootstrap_batches()[int(wildcards.b) - 1])


# Keyword arguments of camsis.scaling.scale.ScaleOptions (recodes are an input file of the rule).
SCALE_OPTIONS = {
    key: config[key]
    for key in ("min_n", "reference_measure", "disconnected", "reml", "smoothing", "smoothing_levels", "mean", "sd",
                "clip", "reconstitution_order")
} | {"n_components": config["ca_dimensions"]}


def scale_options(wildcards):
    """SCALE_OPTIONS and this scale's estimator, rc_dimensions and blanked_cells: its sheet cells, else the config's.

    Only these cells are read, so editing another column of the sheet reruns nothing here.
    """
    estimator = scales.loc[wildcards.scale, "estimator"] or config["estimator"]
    dimensions = int(scales.loc[wildcards.scale, "rc_dimensions"] or config["rc_dimensions"])
    blanked_cells = sheet("blanked_cells", config["blanked_cells"])(wildcards)
    return SCALE_OPTIONS | {"estimator": estimator, "rc_dimensions": dimensions, "blanked_cells": blanked_cells}


def set_aside_before_rebuild(workflow):
    """Move the existing products of the jobs this run will run aside, and say so."""
    outputs = [str(path) for job in workflow.dag.needrun_jobs() for path in job.output]
    moved = set_aside_products(outputs)
    for folder, files in moved.items():
        if not files:
            continue
        print(f"camsis: {len(files)} earlier product(s) of {folder} are rebuilt by this run: moved to "
              f"{folder}/stale/ until it succeeds ({', '.join(files[:4])}{', ...' if len(files) > 4 else ''})",
              file=sys.stderr)
    return moved


# Many scales (scales_per_job > 1, docs/census.md): a batch of scales is built in two jobs, its
# scores and its plots (rules/batches.smk), so that a job's start (Python and the package's imports,
# about a second) is paid twice per batch rather than six times per scale. The stages batched are
# declared as Stage data, which their per-scale rule takes as it is and a batch job fills in for each
# of its scales: both kinds of job declare the same files, params and logs, and run the same rule script.


class Reported:
    """An output shown by `snakemake --report`: report()'s arguments, kept so that a batch job can
    fill in each of its scales where the rule leaves {scale} and {variant} to Snakemake."""

    def __init__(self, path, **details):
        self.path, self.details = path, details

    def flagged(self, **wildcards):
        def filled(value):
            if isinstance(value, dict):
                return {key: filled(item) for key, item in value.items()}
            return value.format(**wildcards) if wildcards and isinstance(value, str) else value

        details = {key: filled(value) if key in ("subcategory", "labels") else value
                   for key, value in self.details.items()}
        return report(self.path.format(**wildcards) if wildcards else self.path, **details)


class Stage:
    """A per-scale rule's declarations, as data (see above).

    ``input`` and ``params`` map names to patterns, values or functions of the wildcards, ``output``
    names to patterns or Reported outputs, ``log`` is a pattern; the rule takes them as ``**stage.input``,
    ``**stage.output`` (report() applied), ``**stage.params``, ``stage.log``, ``**stage.resources``.
    """

    def __init__(self, name, *, input, output, params, log, resources):
        self.name, self.input, self.declared, self.params = name, input, output, params
        self.log, self.resources = log, resources

    @property
    def output(self):
        return {key: value.flagged() if isinstance(value, Reported) else value for key, value in self.declared.items()}

    def job(self, scale):
        """What the scale's own job (title-only units) would be given: wildcards, files, params, log."""
        wildcards = {"scale": scale, "variant": ""}
        known = Wildcards(fromdict=wildcards)

        def path(value):
            value = value.path if isinstance(value, Reported) else value
            return value(known) if callable(value) else value.format(**wildcards)

        return {"wildcards": wildcards, "input": {key: path(value) for key, value in self.input.items()},
                "output": {key: path(value) for key, value in self.declared.items()},
                "params": {key: value(known) if callable(value) else value for key, value in self.params.items()},
                "log": [path(self.log)]}

    def batch_output(self, batch):
        """The outputs of the batch's scales, report() applied to each."""
        return [value.flagged(scale=scale, variant="") if isinstance(value, Reported)
                else value.format(scale=scale, variant="") for scale in batch for value in self.declared.values()]


def scale_batches():
    """The scales built together, scales_per_job at a time in sheet order: those without statuses (a
    scale with statuses has its by-status jobs, which stay its own), in batches of two or more."""
    size = config["scales_per_job"]
    names = [scale for scale in scales.index if not by_status(scale)]
    return [names[start:start + size] for start in range(0, len(names), size) if len(names[start:start + size]) > 1]


SCALE_BATCHES = scale_batches()
# The batched stages' per-scale rules serve the other scales only (a regex of their names).
OWN_JOBS = "|".join(re.escape(scale) for scale in scales.index
                    if not any(scale in batch for batch in SCALE_BATCHES)) or "(?!)"
