"""What each rule of the workflow does, as one function per rule taking paths and plain values.

A rule script (``workflow/scripts/{rule}.py``) only unpacks ``snakemake.input``,
``.output`` and ``.params`` into a call of the function of the same name here, inside
``camsis.runner.run`` (logging, one-line errors). Nothing here reads the ``snakemake``
object, so every step runs as well from a test, a notebook or another workflow manager.

The classification comes in as its two files (``{name}.tsv``, ``{name}.yaml``), as the
rules declare them; sheet columns and config keys come in one by one, so that Snakemake
reruns a step only when a value it uses changes.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import camsis
from camsis.classifications.classification import Classification, read_classification
from camsis.classifications.statuses import by_status_classification, combine, load_scheme, split
from camsis.config import csv_separator, parse_groups, read_recodes
from camsis.errors import CamsisError
from camsis.io.reading import check_columns, file_sha256, input_columns, iter_chunks
from camsis.io.writing import atomic_path, read_json, score_file_labels, write_csv, write_dta, write_json
from camsis.method import tables
from camsis.method.blanking import (
    blank_cells,
    check_psd_coverage,
    diagonal_rule_warnings,
    load_masks,
    read_psd_file,
    save_masks,
    summarise_blanking,
)
from camsis.method.filling import fill_classification
from camsis.method.linking import PersonColumns
from camsis.method.pairs import filter_variables
from camsis.method.pairtable import PairTable
from camsis.method.synthetic import occupation_truth, simulate_status_couples, write_couples
from camsis.publish.release import scale_metadata, write_notes, write_table
from camsis.scaling import candidates as psd
from camsis.scaling import uncertainty
from camsis.scaling.by_status import (STATUS_ZERO_NOTE, build_on_status_units, by_status_labels, by_status_table,
                                      by_status_value_labels, status_unit_inputs)
from camsis.scaling.scale import ScaleOptions, UnitScores, build_unit_scores
from camsis.scaling.summary import BlankingSummary, BootstrapInfo, ScalingSummary, all_warnings, build_summary
from camsis.scaling.uncertainty import (DISAGREEMENT, add_total_errors, bootstrap_summary, combine_batches, fallen_apart,
                                        fill_replicate, replicate_agreement)
from camsis.vocabulary import SEX_CODES, SEX_NAMES, SIDES

log = logging.getLogger("camsis.steps")


# Which interval to use, in the score files' notes (docs/validation.md has the coverage behind it).
INTERVALS_NOTE = ("intervals: mcam_lo-mcam_hi (fcam_lo-fcam_hi) is score +/- 1.96 x mcam_tse (fcam_tse), which "
                  "covered 89-95% of true scores in every band of unit size in validation; mcam_se alone is too "
                  "small for units with many pairs (docs/validation.md)")


def classification_from(files: str | Path | Sequence) -> Classification:
    """The classification of a rule's ``classification`` input: the .tsv (and .yaml) path(s)."""
    if isinstance(files, (str, Path)):
        return read_classification(files)
    tsv = next(Path(f) for f in files if str(f).endswith(".tsv"))
    yaml = next((Path(f) for f in files if str(f).endswith((".yaml", ".yml"))), None)
    return read_classification(tsv, yaml)


@dataclass
class ScaleInputs:
    """What a step rebuilding stages 4-7 reads: the classification, the table, both masks, the options."""

    classification: Classification
    table: PairTable
    ca_blank: pd.DataFrame
    smooth_blank: pd.DataFrame
    options: ScaleOptions


@dataclass(frozen=True)
class ScaleFiles:
    """The files a step rebuilding stages 4-7 reads (rules score_units, psd_rounds, bootstrap_batch).

    Attributes
    ----------
    table, table_info : path
        The pair table (``PairTable.save``).
    blanked : path
        The masks (``camsis.method.blanking.save_masks``).
    classification : path or sequence of paths
        The classification's .tsv and .yaml.
    recodes : path, optional
        Hand-written merges (``camsis.config.read_recodes``); None or "" for none.
    """

    table: str | Path
    table_info: str | Path
    blanked: str | Path
    classification: str | Path | Sequence
    recodes: str | Path | None = None


def read_scale_inputs(files: ScaleFiles, **options) -> ScaleInputs:
    """Read the inputs of stages 4-7 from their files; ``options`` are ``ScaleOptions``' keywords but ``recodes``."""
    frame = classification_from(files.classification)
    return ScaleInputs(
        classification=frame,
        table=PairTable.load(files.table, files.table_info, frame.units),
        ca_blank=(masks := load_masks(files.blanked, frame.units))[0],
        smooth_blank=masks[1],
        options=ScaleOptions(**options, recodes=read_recodes(files.recodes) if files.recodes else {}),
    )


def _build(inputs: ScaleInputs, table: PairTable | None = None) -> UnitScores:
    return build_unit_scores(table if table is not None else inputs.table, inputs.ca_blank, inputs.smooth_blank,
                             inputs.classification, inputs.options)


@dataclass(frozen=True)
class InputSpec:
    """How to read a scale's input: the sheet row's variable cells and the reading config keys.

    Rule tabulate passes its params as these fields
    (``InputSpec(**snakemake.params)``); an empty cell is ``None`` or ``""``: not given.

    Attributes
    ----------
    occ1, occ2, status1, status2, weight, where, weight_type, sep, encoding : str
        The sheet's columns of a couples file (empty weight or filter: none; empty sep and
        encoding: ',' and utf-8); status1 and status2 only by status.
    layout, person, partner, household, sex, first_sex, occ, status, wave, repeat_couples : str
        The sheet's columns of a person file (``camsis.method.linking``); unused with layout
        "couples". The person's status is read only by status.
    chunksize, on_missing_weight
        Config keys.
    """

    occ1: str | None = None
    occ2: str | None = None
    status1: str | None = None
    status2: str | None = None
    weight: str | None = None
    where: str | None = None
    weight_type: str = "survey"
    sep: str | None = None
    encoding: str | None = None
    layout: str = "couples"
    person: str | None = None
    partner: str | None = None
    household: str | None = None
    sex: str | None = None
    first_sex: str | float | None = None
    occ: str | None = None
    status: str | None = None
    wave: str | None = None
    repeat_couples: str = "all"
    chunksize: int = tables.CHUNKSIZE
    on_missing_weight: str = "error"

    def reading_options(self) -> dict:
        """The reading keywords of ``camsis.method.tables`` (empty cells: the defaults)."""
        return dict(chunksize=self.chunksize, on_missing_weight=self.on_missing_weight, where=self.where or None,
                    weight_type=self.weight_type or "survey", sep=csv_separator(self.sep or ""),
                    encoding=self.encoding or "utf-8")

    def person_columns(self, with_status: bool = False) -> PersonColumns:
        """The variables of a person file (empty cells: not given); its status only ``with_status``."""
        return PersonColumns(person=self.person, partner=self.partner, sex=self.sex, occ=self.occ,
                             household=self.household or None, wave=self.wave or None,
                             status=(self.status or None) if with_status else None, weight=self.weight or None)

    def cells(self, with_status: bool = False) -> list:
        """The variable cells the reading uses (an extract's are checked against its codebook)."""
        if with_status:
            return [self.occ1, self.occ2, self.status1, self.status2, self.weight, self.person, self.partner,
                    self.household, self.sex, self.occ, self.status, self.wave]
        return [self.occ1, self.occ2, self.weight, self.person, self.partner, self.household, self.sex, self.occ,
                self.wave]


def tabulate(data, classification, table, table_info, spec: InputSpec, *, scheme=None, decoded: Sequence = (),
             input_sha256: str | None = None) -> None:
    """Rule tabulate: read the couples (or link the persons) in chunks into an occ1 x occ2 table.

    With ``scheme`` (the by-status variant) the units are (occupation, status): the
    (occ1, status1) x (occ2, status2) table (``camsis.method.tables.tabulate_by_status``); pairs
    without a scored status on both sides stay in the scale's title-only table (the same
    rule without ``scheme``, the same pairs) and are counted here under ``status_unknown``.
    A person file is linked as for the title-only table, each couple carrying its partners'
    ``status`` as status1 and status2.

    Parameters
    ----------
    data : path
        The input microdata.
    classification : path or sequence of paths
        The classification's files.
    table, table_info : path
        Outputs: the table's parquet and json (with the input's checksum, and for a person
        file the linking counts under ``linking``); by status, the units are combined codes
        ``unit * 10 + status``.
    spec : InputSpec
        The variables to read and how (the rule's params).
    scheme : path or sequence of paths, optional
        The status scheme's files: tabulate by status.
    decoded : sequence of paths
        An IPUMS extract's decoded columns (rule decode_input: the .parquet and its .json),
        read instead of ``data``; empty for other inputs.
    input_sha256 : str
        The input's checksum when the run was planned (``camsis.io.reading.cached_sha256``);
        a file whose contents differ now changed under the run, and is refused.
    """
    frame = classification_from(classification)
    statuses = scheme_from(scheme) if scheme else None
    options = spec.reading_options()
    source = decoded_source(data, decoded, spec.cells(with_status=statuses is not None), spec.where)
    if statuses is not None and spec.layout == "persons":
        ((_, result), linking), digest = counted_with_checksum(data, lambda: tables.tabulate_persons_by_status(
            source, spec.person_columns(with_status=True), float(spec.first_sex), frame.units, statuses.scored,
            repeat_couples=spec.repeat_couples, **options), decoded)
    elif statuses is not None:
        ((_, result), linking), digest = counted_with_checksum(data, lambda: (tables.tabulate_by_status(
            source, tables.CoupleColumns(spec.occ1, spec.occ2, spec.status1, spec.status2, spec.weight or None),
            frame.units, statuses.scored, **options), None), decoded)
    elif spec.layout == "persons":
        (result, linking), digest = counted_with_checksum(data, lambda: tables.tabulate_persons(
            source, spec.person_columns(), float(spec.first_sex), frame.units, repeat_couples=spec.repeat_couples,
            **options), decoded)
    else:
        (result, linking), digest = counted_with_checksum(data, lambda: (
            tables.tabulate(source, spec.occ1, spec.occ2, spec.weight or None, frame.units, **options), None), decoded)
    check_unchanged(data, input_sha256, digest)
    extra = {"linking": linking} if linking is not None else {}
    if statuses is not None:
        result.save(table, table_info, statuses=statuses.name, **extra)
    else:
        result.save(table, table_info, input_sha256=digest, **extra)


def counted_with_checksum(data, count, decoded: Sequence = ()):
    """``count()`` and the input's sha256, computed in a thread beside the reading.

    On two cores the checksum then costs no wall time: hashing a 200 MB file alone takes
    about half a second. A decoded extract's checksum is the one rule decode_input took.
    """
    if decoded:
        return count(), read_json(_decoded_info(decoded))["input_sha256"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksum = pool.submit(file_sha256, data)
        counted = count()
        return counted, checksum.result()


def input_variables(cells: Sequence, where: str | None = None) -> list[str]:
    """The input variables a sheet row reads: its variable cells (empty ones skipped) and its filter's, each once."""
    names = [cell for cell in cells if cell]
    return list(dict.fromkeys(names + (filter_variables(where, "filter") if where else [])))


def _decoded_info(decoded: Sequence) -> str:
    return next(str(path) for path in decoded if str(path).endswith(".json"))


def decoded_source(data, decoded: Sequence, cells: Sequence, where: str | None) -> str:
    """The file a scale reads: its IPUMS extract's decoded columns when rule decode_input made them, else ``data``.

    The scale's variables are checked against the codebook first, so a wrong name is refused
    naming the file the sheet gives, with all of the codebook's variables listed.
    """
    if not decoded:
        return data
    check_columns(data, input_variables(cells, where), input_columns(data))
    return next(str(path) for path in decoded if str(path).endswith(".parquet"))


def decode_input(data, cache, info, *, variables: Sequence[str], chunksize: int = tables.CHUNKSIZE,
                 input_sha256: str | None = None) -> int:
    """Rule decode_input: an IPUMS extract's variables the sheet's rows use, decoded once into Parquet.

    Every scale of the extract then reads this columnar file (rule tabulate, both variants)
    instead of decoding the fixed-width records again: six samples of one extract are decoded
    once, not six times. Written chunk by chunk, so memory holds one chunk. ``info`` records
    the extract's checksum (codebook and data file), which the scales' files report as theirs;
    ``input_sha256`` is it when the run was planned (see rule tabulate's). Returns the rows written.
    """

    def write() -> int:
        rows, writer = 0, None
        with atomic_path(cache) as temporary:
            try:
                for chunk in iter_chunks(data, list(variables), chunksize):
                    part = pa.Table.from_pandas(chunk, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(temporary, part.schema, compression="zstd")
                    writer.write_table(part.cast(writer.schema))
                    rows += len(chunk)
            finally:
                if writer is not None:
                    writer.close()
        return rows

    rows, digest = counted_with_checksum(data, write)
    check_unchanged(data, input_sha256, digest)
    write_json({"input": str(data), "input_sha256": digest, "rows": rows, "variables": list(variables)}, info)
    log.info("%s: %s rows of %d variables decoded into %s", data, f"{rows:,}", len(variables), cache)
    return rows


def check_unchanged(data, planned: str | None, digest: str) -> None:
    """Refuse a table read from contents other than those the run was planned on (a file being copied in)."""
    if planned and len(planned) == len(digest) and planned != digest:
        raise CamsisError(f"input file {data} changed while this run read it (sha256 {planned[:12]}... when the run "
                          f"started, {digest[:12]}... now); run again once it is complete")


def blank(table, table_info, classification, blanked, blanking, *, scale: str, diagonal_digits,
          diagonal_groups: str = "", psds: str | None = None, psds_smooth: str | None = None) -> BlankingSummary:
    """Rule blank: mark the diagonal and pseudo-diagonal cells, for the CA and for the smoothing.

    Parameters
    ----------
    table, table_info : path
        The pair table.
    classification : path or sequence of paths
        The classification's files.
    blanked, blanking : path
        Outputs: the masks and their ``BlankingSummary``.
    scale : str
        The scale's name (for messages).
    diagonal_digits, diagonal_groups, psds, psds_smooth
        The sheet's columns (empty: none).
    """
    frame = classification_from(classification)
    ca, smooth, summary = blank_table(PairTable.load(table, table_info, frame.units), frame, scale=scale,
                                      diagonal_digits=diagonal_digits, diagonal_groups=diagonal_groups, psds=psds,
                                      psds_smooth=psds_smooth)
    save_masks(ca, smooth, blanked)
    write_json(summary.as_dict(), blanking)
    return summary


def blank_table(pairs: PairTable, frame: Classification, *, scale: str, diagonal_digits, diagonal_groups: str = "",
                psds: str | None = None, psds_smooth: str | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, BlankingSummary]:
    """Rule blank's work in memory: the CA's and the smoothing's masks of ``pairs``, and their summary."""
    units = frame.units
    diagonal = dict(
        diagonal_digits=int(diagonal_digits),
        diagonal_groups=parse_groups(diagonal_groups, f"scale {scale}, diagonal_groups") or None,
        classification=frame,
    )
    warnings = diagonal_rule_warnings(units, units, diagonal["diagonal_digits"], diagonal["diagonal_groups"])
    psd_sets = {path: read_psd_file(path) for path in (psds, psds_smooth) if path}
    for path, rows in psd_sets.items():
        warnings += check_psd_coverage(rows, units, units, path)
    ca = blank_cells(units, units, psds=psd_sets.get(psds), **diagonal)
    smooth = blank_cells(units, units, psds=psd_sets[psds_smooth], **diagonal) if psds_smooth else ca
    summary = BlankingSummary(
        ca=summarise_blanking(ca, pairs.weighted, pairs.counts),
        smooth=summarise_blanking(smooth, pairs.weighted, pairs.counts),
        same_sets=bool(smooth is ca),
        warnings=warnings,
    )
    return ca, smooth, summary


def score_units(files: ScaleFiles, scores, scaling, ranking, *, scheme=None, **options) -> UnitScores:
    """Rule score_units: stages 4-7, and every candidate pseudo-diagonal of the same fit, ranked.

    Parameters
    ----------
    files : ScaleFiles
        The table, masks, classification and recodes. By status, ``files.table`` is the
        by-status table and the masks are the title-only scale's, expanded to every status
        (``camsis.scaling.by_status.build_by_status_scores``); recodes of occupations apply to each
        of their statuses.
    scores, scaling : path
        Outputs of ``UnitScores.save``: the unit file and its diagnostics.
    ranking : path
        Output: every cell with a positive residual, with its pairs
        (``camsis.scaling.candidates.rank_cells``); rule ``psd_candidates`` keeps the first
        ``psd_top`` of those with ``psd_min_count`` pairs, so neither setting refits.
        By status, the cells are (occupation, status) cells.
    scheme : path or sequence of paths, optional
        The status scheme's files: the by-status variant.
    **options
        ``ScaleOptions`` keywords.
    """
    if scheme is None:
        inputs = read_scale_inputs(files, **options)
        result = _build(inputs)
        table, ca_blank, frame = inputs.table, inputs.ca_blank, inputs.classification
    else:
        frame = classification_from(files.classification)
        ca_blank, smooth_blank = load_masks(files.blanked, frame.units)
        options = ScaleOptions(**options, recodes=read_recodes(files.recodes) if files.recodes else {})
        status_inputs = status_unit_inputs(ca_blank, smooth_blank, frame, scheme_from(scheme), options)
        table = PairTable.load(files.table, files.table_info, status_inputs.classification.units)
        result = build_on_status_units(table, status_inputs)
        ca_blank, frame = status_inputs.ca_blank, status_inputs.classification
    result.save(scores, scaling)
    psd.write_candidates(psd.rank_cells(table, ca_blank, result, frame), ranking)
    return result


def psd_candidates(ranking, candidates, *, top: int | None = psd.TOP, min_count: float = psd.MIN_COUNT) -> None:
    """Rule psd_candidates: the first ``top`` cells (None: all) with ``min_count`` pairs of score_units' ranking."""
    psd.write_candidates(psd.select_candidates(psd.read_candidates(ranking), top, min_count), candidates)


def psd_rounds(files: ScaleFiles, rounds_file, blanked_rounds, rounds_info, *, rounds: int, threshold: float,
               top: int | None = psd.TOP, min_count: float = 5, **options) -> psd.PsdRounds:
    """Rule psd_rounds: blank the cells the fitted scale under-predicts most, and refit, ``rounds`` times.

    The same reader as score_units and bootstrap_batch, so the rounds refit the scale's own build.
    ``top`` (config psd_top) bounds the final candidates, whose count above the threshold
    summary.json reports.
    """
    inputs = read_scale_inputs(files, **options)
    result = psd.blank_in_rounds(inputs.table, inputs.ca_blank, inputs.smooth_blank, inputs.classification,
                                 inputs.options, rounds=rounds, threshold=threshold, top=top, min_count=min_count)
    psd.write_candidates(result.rounds[["round"] + psd.CANDIDATE_COLUMNS], rounds_file)
    save_masks(result.ca_blank, result.smooth_blank, blanked_rounds)
    write_json(psd.summarise_rounds(result, rounds, threshold).as_dict(), rounds_info)
    return result


def bootstrap_batch(files: ScaleFiles, batch, *, replicates: Sequence[int], seed: int, scheme=None,
                    status_table: StatusTableFiles | None = None, **options) -> pd.DataFrame:
    """Rule bootstrap_batch: resample the couples and rebuild the unit scores (stages 4-7), once per replicate.

    The replicates of a batch share one process and one reading of the inputs; each
    repeats exactly what score_units does (``read_scale_inputs`` + ``build_unit_scores``)
    on a multinomial redraw of the table, from its own stream (seed, r)
    (``camsis.scaling.uncertainty.bootstrap_batch``). Writes every code's scores in each replicate
    (code, replicate, mcamsis, fcamsis) to ``batch`` (parquet).

    By status (``scheme`` and ``status_table`` given), replicate r's couples are drawn as
    the title-only replicate r draws them (``files`` are the title-only table and masks),
    each occupation cell's drawn couples are then spread over its statuses
    (``camsis.scaling.uncertainty.StatusDraw``), and the by-status units are rebuilt as
    score_units does by status; ``batch`` then holds the (occupation, status) units'
    scores (combined codes).
    """
    inputs = read_scale_inputs(files, **options)
    replicates = [int(r) for r in replicates]
    if scheme is None:
        long = uncertainty.bootstrap_batch(inputs.table, inputs.ca_blank, inputs.smooth_blank, inputs.classification,
                                           inputs.options, replicates, int(seed))
    else:
        statuses = scheme_from(scheme)
        pairs = PairTable.load(status_table.table, status_table.table_info,
                               by_status_classification(inputs.classification, statuses).units)
        _, long = uncertainty.bootstrap_batch_by_status(inputs.table, pairs, inputs.ca_blank, inputs.smooth_blank,
                                                        inputs.classification, statuses, inputs.options, replicates,
                                                        int(seed), with_title=False)
    with atomic_path(batch) as path:
        long.to_parquet(path, index=False)
    return long


@dataclass(frozen=True)
class StatusTableFiles:
    """The by-status table's parquet and json (rule tabulate by status), as rule bootstrap_batch takes them."""

    table: str | Path
    table_info: str | Path


def bootstrap_gather(batches: Sequence, scores, classification, summary, replicates, bootstrap_info, *, bootstrap: int,
                     seed: int, scheme=None) -> BootstrapInfo:
    """Rule bootstrap_gather: the batches' replicates together; per code the bootstrap SE and interval.

    By status (``scheme`` given) the codes are the (occupation, status)
    units' combined codes, and ``scores`` the by-status unit scores they are checked against.
    """
    frame = classification_from(classification)
    if scheme is not None:
        frame = by_status_classification(frame, scheme_from(scheme))
    per_unit, gathered, result = gather_bootstrap([pd.read_parquet(path) for path in batches], UnitScores.load(scores),
                                                  frame, replicates=int(bootstrap), seed=int(seed))
    with atomic_path(summary) as path:
        per_unit.to_csv(path, sep="\t")
    with atomic_path(replicates) as path:
        gathered.to_parquet(path, index=False)
    if scheme is not None:
        result.resampling = ("replicate r's couples are those of the title-only replicate r (same stream); each "
                             "occupation cell's drawn couples spread over its status cells by a multinomial draw, "
                             "each pair with its status cell's mean weight")
    write_json(result.as_dict(), bootstrap_info)
    return result


def gather_bootstrap(batches: Sequence[pd.DataFrame], units: UnitScores, frame: Classification, *, replicates: int,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame, BootstrapInfo]:
    """Rule bootstrap_gather's work in memory: the per-unit summary (SEs, intervals), the replicates, the info.

    ``batches`` are bootstrap batches (``camsis.scaling.uncertainty.bootstrap_batch``) and ``units``
    the scale they are checked against (on ``frame``'s codes).
    """
    gathered = combine_batches(list(batches), replicates)
    scale = fill_replicate(units, frame)
    agreement = replicate_agreement(gathered, scale)
    result = BootstrapInfo(
        replicates=int(gathered["replicate"].nunique()),
        seed=seed,
        correlation_with_scale={
            side: {"min": float(agreement[side].min()), "median": float(agreement[side].median())} for side in SIDES
        },
        replicates_disagreeing=[int(r) for r in agreement.index[(agreement < DISAGREEMENT).any(axis=1)]],
    )
    left_out = fallen_apart(gathered)
    result.replicates_fallen_apart, result.units_left_out = len(left_out), left_out
    return add_total_errors(bootstrap_summary(gathered), units.scores, scale), gathered, result


def plausible_values(replicates, summary, classification, dta, *, scale: str, m: int, seed: int, scheme=None,
                     title_replicates=None, title_summary=None, clip: Sequence[float] = (1.0, 99.0)) -> None:
    """Rule plausible_values: M plausible values per code and sex from the bootstrap replicates, long .dta.

    ``summary`` is the bootstrap summary (bse and tse per code) the remaining deviation of
    each unit is drawn from (``camsis.scaling.uncertainty.plausible_values``); values are clipped to
    ``clip``, the config's range of the scores.

    By status (``scheme`` given) ``replicates`` are the by-status
    bootstrap's and ``title_replicates`` the title-only bootstrap's: the file then has the
    rows of the by-status file (every unit x status, status 0 and the groups from the
    title-only replicates, as in the by-status score file), code and status columns
    (``summary`` and ``title_summary`` the two bootstraps' summaries). Its
    replicate r of both bootstraps resampled the same couples
    (``camsis.scaling.uncertainty.StatusDraw``), so plausible value pv rests on one whole
    replicate of both, picked as the title-only file's pv is (same seed, same replicates);
    status 0 is the title-only file's pv, draws included.
    """
    frame = classification_from(classification)
    long = pd.read_parquet(replicates)
    errors = pd.read_csv(summary, sep="\t", index_col=0)
    variable = frame.variable
    status_columns, value_labels = [], {variable: frame.value_labels()}
    labels = {variable: frame.label}
    if scheme is not None:
        statuses = scheme_from(scheme)
        title = pd.read_parquet(title_replicates)
        title_errors = pd.read_csv(title_summary, sep="\t", index_col=0)
        title_errors.index = combine(title_errors.index.to_numpy(), statuses.unknown)
        # status 0 drawn as the title-only file draws it (same stream, same code order); status units from another
        title = title.assign(code=combine(title["code"], statuses.unknown))
        values = pd.concat([uncertainty.plausible_values(title, m, seed, title_errors, clip=clip),
                            uncertainty.plausible_values(long, m, seed, errors, clip=clip, stream=2)],
                           ignore_index=True)
    else:
        values = uncertainty.plausible_values(long, m, seed, errors, clip=clip)
    if scheme is not None:
        code, status = split(values["code"])
        values = values.assign(code=code)
        values.insert(1, statuses.variable, status)
        status_columns = [statuses.variable]
        labels[statuses.variable] = statuses.label
        value_labels[statuses.variable] = dict(sorted(statuses.labels.items()))
    out = values.rename(columns={"code": variable})[[variable, *status_columns, "sex", "pv", "camsis"]]
    out = out.sort_values([variable, *status_columns, "sex", "pv"], kind="stable").reset_index(drop=True)
    labels |= {
        "sex": "Sex of the person the score describes",
        "pv": f"Plausible value number (1-{m}): replicate + draw of the rest of the total SE",
        "camsis": f"CAMSIS for {variable.upper()}"
                  + (f" x {status_columns[0]}" if status_columns else "") + ": plausible value pv",
    }
    value_labels["sex"] = {SEX_CODES[s]: SEX_NAMES[s] for s in SIDES}
    per = "code, status and sex" if status_columns else "code and sex"
    set_names = frame.label_set_names() | ({statuses.variable: statuses.value_label_name} if status_columns else {})
    write_dta(out, dta, labels, value_labels, f"CAMSIS {scale} plausible values ({m} per {per})",
              label_set_names=set_names)


@dataclass(frozen=True)
class BuildRecords:
    """The files a scale's build left that its score file's notes and summary.json report.

    Attributes
    ----------
    table_info, blanking : path
        ``table.json`` and ``blanking.json``.
    bootstrap, bootstrap_info, psd_rounds : path, optional
        The bootstrap's summary.tsv and bootstrap.json, psd_rounds.json: present when the
        config asks for them.
    by_status_table, by_status_scaling, by_status_bootstrap_info : path, optional
        The by-status build's table json, scaling json and bootstrap json, for a scale with
        statuses: summary.json then reports ``status_unknown`` (pairs of this scale left out
        of the by-status one for want of a scored status) and a ``by_status`` section.
    """

    table_info: str | Path
    blanking: str | Path
    bootstrap: str | Path | None = None
    bootstrap_info: str | Path | None = None
    psd_rounds: str | Path | None = None
    by_status_table: str | Path | None = None
    by_status_scaling: str | Path | None = None
    by_status_bootstrap_info: str | Path | None = None


@dataclass(frozen=True)
class Provenance:
    """How a score file was made, as its notes and summary.json record it.

    Rule score_file (both variants) makes it from the scale's name and their params.

    Attributes
    ----------
    scale : str
        The scale's name.
    sheet_row, config : mapping
        The scale's sheet row and the config keys that shape it.
    built : str, optional
        ISO date of the build (today by default).
    """

    scale: str
    sheet_row: Mapping
    config: Mapping
    built: str | None = None

    def date(self) -> str:
        """The build's ISO date: ``built``, else today."""
        return self.built or datetime.date.today().isoformat()


def score_file(scores, scaling, records: BuildRecords, classification, dta, csv, summary,
               provenance: Provenance, *, scheme=None, title_csv=None) -> dict:
    """Rule score_file: score every code of the classification; write the .dta, .csv and summary.json.

    By status (``scheme`` given) the score file is the by-status one, in the layout of the
    published v2: one row per unit x status of the scheme, the status-0 rows being the
    title-only score file of the same pairs (``title_csv``), so users without status data
    match every occupation (``camsis.scaling.by_status.by_status_table``); its summary is the
    by-status build's (``by_status_section``), which the title-only summary.json also holds.

    Parameters
    ----------
    scores, scaling : path
        ``UnitScores.save``'s files.
    records : BuildRecords
        The build's other files that the notes and summary.json report (by status: the
        by-status table's json and bootstrap files).
    classification : path or sequence of paths
        The classification's files.
    dta, csv, summary : path
        Outputs.
    provenance : Provenance
        The scale's name, sheet row, config and date, recorded in the notes and summary.json.
    scheme : path or sequence of paths, optional
        The status scheme's files: the by-status variant.
    title_csv : path, optional
        By status: the title-only score file (rule score_file without ``scheme``).

    Returns
    -------
    dict
        The summary written.
    """
    frame = classification_from(classification)
    units = UnitScores.load(scores, scaling)
    boot = pd.read_csv(records.bootstrap, sep="\t", index_col=0) if records.bootstrap else None
    if scheme is not None:
        return _by_status_score_file(units, boot, records, frame, scheme_from(scheme), title_csv, dta, csv, summary,
                                     provenance)
    table = fill_classification(units.scores, units.population, frame, boot)

    scale, sheet_row, config, built = provenance.scale, provenance.sheet_row, provenance.config, provenance.date()
    pairs = read_json(records.table_info)
    notes = score_file_notes(frame, scale, built, sheet_row, config, pairs.get("input_sha256"),
                             all_warnings(read_json(records.blanking), units.diagnostics),
                             intervals=boot is not None and "mcam_tse" in boot)
    label_warnings = write_score_dta(table, frame, dta, scale, built, notes)
    write_csv(table, csv)
    # Labels cut to the format's limits are warnings like the build's: in the notes (write_dta) and here.
    scaling = replace(units.diagnostics, warnings=units.diagnostics.warnings + label_warnings)
    result = build_summary(
        scale, built, pairs, read_json(records.blanking), scaling, table, dict(sheet_row), dict(config),
        bootstrap=read_json(records.bootstrap_info) if records.bootstrap_info else None,
        psd_rounds=read_json(records.psd_rounds) if records.psd_rounds else None,
        linking=pairs.get("linking"),
        status_unknown=(read_json(records.by_status_table)["dropped"].get("status_unknown", 0)
                        if records.by_status_table else None),
        by_status=(by_status_summary(records.by_status_table, records.by_status_scaling,
                                     records.by_status_bootstrap_info) if records.by_status_table else None),
    )
    write_json(result, summary)
    return result


def _by_status_score_file(units: UnitScores, boot: pd.DataFrame | None, records: BuildRecords, frame: Classification,
                          statuses, title_csv, dta, csv, summary, provenance: Provenance) -> dict:
    """Rule score_file by status: the by-status file, in the layout of the published v2, and its summary."""
    table = by_status_table(units.scores, pd.read_csv(title_csv), frame, statuses, boot)
    scale, built = provenance.scale, provenance.date()
    notes = by_status_file_notes(frame, statuses, scale, built, provenance.sheet_row, provenance.config,
                                 read_json(records.table_info), units.diagnostics.warnings,
                                 intervals=boot is not None and "mcam_tse" in boot)
    write_by_status_dta(table, frame, statuses, dta, scale, built, notes)
    write_csv(table, csv)
    result = {"scale": scale, "built": built, "camsis_version": camsis.__version__,
              **by_status_section(read_json(records.table_info), units.diagnostics,
                                  read_json(records.bootstrap_info) if records.bootstrap_info else None)}
    write_json(result, summary)
    return result


def score_file_notes(frame: Classification, scale: str, built: str, sheet_row: Mapping, config: Mapping,
                     input_sha256: str | None, warnings: Sequence[str], intervals: bool) -> list[str]:
    """The score file's notes: they trace a published file to what made it, as summary.json does."""
    return [
        f"CAMSIS scale {scale} for {frame.variable}, built {built} by camsis {camsis.__version__}",
        f"input {sheet_row.get('input')} sha256 {input_sha256}",
        "sheet row: " + json.dumps(dict(sheet_row), sort_keys=True),
        "config: " + json.dumps(dict(config), sort_keys=True, default=str),
    ] + ([INTERVALS_NOTE] if intervals else []) + [f"warning: {text}" for text in warnings]


def write_score_dta(table: pd.DataFrame, frame: Classification, dta, scale: str, built: str,
                    notes: Sequence[str]) -> list[str]:
    """The labelled score file ``{scale}.dta``; returns the warnings of labels cut to the format's limits."""
    return write_dta(table, dta, *score_dta_labels(table, frame, scale, built), notes=list(notes),
                     label_set_names=frame.label_set_names())


def score_dta_labels(table: pd.DataFrame, frame: Classification, scale: str, built: str) -> tuple[dict, dict, str]:
    """The score file's variable labels, value labels and dataset label, before they are fitted to the .dta."""
    file_label = f"CAMSIS {scale} for {frame.variable.upper()} [camsis {camsis.__version__}, {built}]"
    value_labels = {frame.variable: frame.value_labels()} | frame.link_value_labels
    return score_file_labels(frame, table.columns), value_labels, file_label


def simulate_demo(classification, psds, scheme, couples, truth, truth_by_status, *, n_couples: int, seed: int) -> None:
    """Rule simulate_demo: the embedded default input, synthetic couples with known true scores.

    The couples carry employment statuses (``hemp``, ``wemp``, coded in ``scheme``) drawn
    with known status effects (``camsis.method.synthetic.simulate_status_couples``), so the
    default build makes the by-status file too. ``truth`` holds the occupations' true
    scores (share-weighted over statuses, what the title-only scale estimates),
    ``truth_by_status`` those of the (occupation, status) units.
    """
    frame = classification_from(classification)
    statuses = scheme_from(scheme)
    demo = simulate_status_couples(frame.units, statuses=statuses.scored, n_couples=n_couples, seed=seed,
                                   blocks=read_psd_file(psds))
    write_couples(demo.couples, couples)
    with atomic_path(truth) as path:
        occupation_truth(demo.truth).to_csv(path, sep="\t")
    with atomic_path(truth_by_status) as path:
        demo.truth.to_csv(path, sep="\t")


def scheme_from(files: str | Path | Sequence):
    """The status scheme given as its files (``{name}.tsv`` and ``.yaml``, as the rules declare them)."""
    tsv = Path(files if isinstance(files, (str, Path)) else files[0])
    return load_scheme(tsv.stem, tsv.parent)


def by_status_summary(table_info, scaling, bootstrap_info=None) -> dict:
    """summary.json's ``by_status`` section: the by-status build's pairs, its own scaling diagnostics, its bootstrap."""
    return by_status_section(read_json(table_info), ScalingSummary.load(scaling),
                             read_json(bootstrap_info) if bootstrap_info else None)


def by_status_section(pairs: Mapping, diagnostics: ScalingSummary, bootstrap: Mapping | None = None) -> dict:
    """``by_status_summary`` from the by-status table's bookkeeping, its diagnostics and its bootstrap info."""
    section = {"statuses": pairs.get("statuses"), "pairs_used": pairs["used"], "dropped": pairs["dropped"],
               "warnings": diagnostics.warnings, "shared": diagnostics.shared or {},
               "ca": diagnostics.ca.as_dict() if diagnostics.ca else None, "merging": diagnostics.merging}
    if diagnostics.dropped_blocks:  # units left out of the by-status CA (disconnected: drop), counted
        section["dropped_blocks"] = diagnostics.dropped_blocks
    if bootstrap:
        section["bootstrap"] = dict(bootstrap)
    return section


def by_status_file_notes(frame: Classification, statuses, scale: str, built: str, sheet_row: Mapping,
                         config: Mapping, pairs: Mapping, warnings: Sequence[str], intervals: bool) -> list[str]:
    """The by-status score file's notes; ``pairs`` is the by-status table's bookkeeping (``PairTable.info``)."""
    return [
        f"CAMSIS scale {scale} for {frame.variable} by {statuses.variable}, built {built} by camsis {camsis.__version__}",
        STATUS_ZERO_NOTE.format(unknown=statuses.unknown) + f" {scale}.dta, built from the same pairs",
        f"input {sheet_row.get('input')}: {pairs['used']:,} pairs with a scored status on both sides; "
        f"{pairs['dropped'].get('status_unknown', 0):,} without (kept in the title-only scale only)",
        "sheet row: " + json.dumps(dict(sheet_row), sort_keys=True),
        "config: " + json.dumps(dict(config), sort_keys=True, default=str),
    ] + ([INTERVALS_NOTE] if intervals else []) + [f"warning: {text}" for text in warnings]


def write_by_status_dta(table: pd.DataFrame, frame: Classification, statuses, dta, scale: str, built: str,
                        notes: Sequence[str]) -> list[str]:
    """The labelled by-status score file ``{scale}_by_status.dta``; returns the label-cut warnings."""
    file_label = f"CAMSIS {scale} for {frame.variable.upper()} x {statuses.variable} [camsis {camsis.__version__}, {built}]"
    return write_dta(table, dta, by_status_labels(frame, statuses, table.columns), by_status_value_labels(frame, statuses),
                     file_label, notes=list(notes),
                     label_set_names=frame.label_set_names() | {statuses.variable: statuses.value_label_name})


def release_table(dta, summary, out_dta, out_sav, out_tsv) -> None:
    """Rule release_table: one score table of a release as .dta, .sav and .tsv (camsis.publish.release).

    The .sav is stamped with the build date of ``summary`` so a release is byte-reproducible.
    """
    write_table(dta, out_dta, out_sav, out_tsv, read_json(summary).get("built", ""))


def release(tables, summary, readme, zip_file, *, scale: str, scheme=None, version: str = "", title: str = "",
            author: str = "", defaults: Mapping | None = None) -> None:
    """Rule release_scale: readme, matching syntax, CITATION.cff, SHA256SUMS and the zip of a release.

    ``tables`` are the release's tables (rule release_table) beside ``readme``: the
    scale's, and its by-status ones when it was built with ``scheme`` (the status scheme's
    files). ``version``, ``title``, ``author``: the sheet's cells, else the config's
    ``release`` block (``defaults``).
    """
    folder = Path(readme).parent
    summary, meta = scale_metadata(summary, tables[0], scale, version=version, title=title, author=author,
                                   defaults=dict(defaults or {}))
    write_notes(folder, zip_file, meta, summary, has_status=bool(scheme), scheme=scheme_from(scheme) if scheme else None)