"""Rule tabulate: read the couples in chunks into an occ1 x occ2 table."""

from concurrent.futures import ThreadPoolExecutor

from camsis.classification import load_classification
from camsis.reading import file_sha256
from camsis.runner import run
from camsis.tables import tabulate


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    # The checksum is computed in a thread beside the reading, so on two cores it costs no
    # wall time: hashing a 200 MB file alone takes about half a second.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksum = pool.submit(file_sha256, snakemake.input.data)
        table = tabulate(
            snakemake.input.data,
            row["occ1"],
            row["occ2"],
            row["weight"] or None,
            classification.units,
            chunksize=snakemake.params.chunksize,
            on_missing_weight=snakemake.params.on_missing_weight,
            where=row["filter"] or None,
        )
        digest = checksum.result()
    table.save(snakemake.output.table, snakemake.output.info, input_sha256=digest)


run(main, snakemake)
