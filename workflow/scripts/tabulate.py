"""Rule tabulate: read the couples in chunks into an occ1 x occ2 table."""

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from camsis.classification import load_classification
from camsis.runner import run
from camsis.tables import tabulate
from camsis.writing import write_json


def sha256(path, block=1 << 22):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def main(snakemake):
    row = snakemake.params.row
    classification = load_classification(row["classification"], snakemake.params.classifications)
    # The checksum lets a published file be traced to the exact input that made it. It is
    # computed in a thread beside the reading (hashlib releases the GIL), so on two cores
    # it costs no wall time: hashing a 200 MB file alone takes about half a second.
    with ThreadPoolExecutor(max_workers=1) as pool:
        checksum = pool.submit(sha256, snakemake.input.data)
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
    table.save(snakemake.output.table, snakemake.output.info)
    with open(snakemake.output.info) as handle:
        info = json.load(handle)
    write_json(info | {"input_sha256": digest}, snakemake.output.info)


run(main, snakemake)
