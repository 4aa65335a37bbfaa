"""What checking an input's contents at every run costs: sha256 against reading, and the cache.

Rule tabulate (both variants) takes the input's sha256 as a param
(``camsis.io.reading.cached_sha256``), so a file whose contents changed under a kept mtime is
rebuilt. This prints, on one file of ``--gb`` gigabytes written to benchmarks/out/:

- read: the file read in 4 MiB blocks and thrown away (the baseline: the least any reading of it costs);
- sha256: ``camsis.io.reading.file_sha256`` of it (what a run pays when the file changed);
- cache hit: ``cached_sha256`` of the unchanged file (what every other run pays: one stat and a small JSON);
- stat: ``os.stat`` alone (what Snakemake's own mtime check costs),

each the fastest of ``--repeats``, with the ratios sha256/read and cache hit/stat, and the
1-minute load average before and after. The file is read from the page cache after the first
pass (24 GiB of memory holds it), so read and sha256 are CPU figures, not disk ones.

    python benchmarks/bench_input_checksum.py --gb 1 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from camsis.io.reading import cached_sha256, file_sha256  # noqa: E402

OUT = REPO / "benchmarks" / "out" / "input_checksum"


def fastest(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def read_all(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(1 << 22):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the file in GB (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path, cache = OUT / "input.bin", OUT / "checksums.json"
    size = int(args.gb * 1e9)
    if not path.exists() or path.stat().st_size != size:
        block = os.urandom(1 << 22)
        with open(path, "wb") as handle:
            for start in range(0, size, len(block)):
                handle.write(block[: min(len(block), size - start)])
    cache.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    read_all(path)  # into the page cache
    read = fastest(lambda: read_all(path), args.repeats)
    sha = fastest(lambda: file_sha256(path), args.repeats)
    cached_sha256(path, cache)
    hit = fastest(lambda: cached_sha256(path, cache), max(args.repeats, 100))
    stat = fastest(lambda: os.stat(path), max(args.repeats, 100))
    load_after = os.getloadavg()[0]
    print(f"file {size / 1e9:.2f} GB; load (1 min) {load_before:.2f} before, {load_after:.2f} after; "
          f"fastest of {args.repeats} (cache and stat: of 100)")
    print(f"read      {read:9.3f} s  ({size / read / 1e9:.2f} GB/s)")
    print(f"sha256    {sha:9.3f} s  ({size / sha / 1e9:.2f} GB/s)  = {sha / read:.1f}x read")
    print(f"cache hit {hit * 1e6:9.1f} us = {hit / stat:.1f}x stat ({stat * 1e6:.1f} us)")


if __name__ == "__main__":
    main()
