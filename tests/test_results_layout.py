"""The workflow's results/ layout (workflow/scripts/results_layout.py): what a run sets aside before a rebuild.

The end-to-end behaviour (a failed rebuild leaves the earlier products in stale/, a good
run removes them) is test_bad_input's; this checks the moves themselves. The release
rule's dropping of Snakemake's marker is test_release's.
"""

import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from results_layout import STALE_NOTE, clear_stale, set_aside_products  # noqa: E402


def make(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_products_a_run_rebuilds_are_moved_to_stale_and_intermediate_files_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, "results/a/a.dta", "results/a/summary.json", "results/a/release/a.sav",
         "results/a/work/table.json", "results/a/bootstrap/batch_1.parquet", "other/x.txt")
    outputs = ["results/a/a.dta", "results/a/summary.json", "results/a/release/a.sav", "results/a/a.csv",
               "results/a/work/table.json", "results/a/bootstrap/batch_1.parquet", "results/b/b.dta",
               "other/x.txt", "results/top.txt"]
    moved = set_aside_products(outputs)
    assert moved == {"results/a": ["a.dta", "summary.json", "release/a.sav"], "results/b": []}
    stale = tmp_path / "results/a/stale"
    assert (stale / "release/a.sav").read_text() == "results/a/release/a.sav"
    assert (stale / "README.txt").read_text() == STALE_NOTE
    assert not (tmp_path / "results/a/a.dta").exists() and not (tmp_path / "results/b/stale").exists()
    assert all((tmp_path / name).exists() for name in
               ("results/a/work/table.json", "results/a/bootstrap/batch_1.parquet", "other/x.txt"))
    clear_stale(moved)
    assert not stale.exists() and (tmp_path / "results/a/work/table.json").exists()

