"""camsis translate: weighted means through a crosswalk, checked against sums done by hand."""

import pandas as pd
import pyreadstat
import pytest

from camsis.cli import main


@pytest.fixture
def scorefile(tmp_path):
    # source codes 1..4 (plus a group row 9 that the crosswalk does not mention)
    scores = pd.DataFrame({
        "src": [1, 2, 3, 4, 9],
        "mcamsis": [40.0, 60.0, 70.0, 20.0, 50.0],
        "fcamsis": [45.0, 55.0, 65.0, 25.0, 50.0],
        "n_m": [100, 300, 50, 0, 450],
        "n_f": [200, 100, 50, 10, 360],
    })
    path = tmp_path / "scores.csv"
    scores.to_csv(path, index=False)
    return path


@pytest.fixture
def crosswalk(tmp_path):
    # 111 <- 1, 2; 112 <- 3; 121 <- 3 (3 counts in full for both); 211 <- 4; the rest has no source
    path = tmp_path / "xwalk.csv"
    pd.DataFrame({"src": [1, 2, 3, 3, 4, 4], "toy": [111, 111, 112, 121, 211, 211]}).to_csv(path, index=False)
    return path


def test_translate_is_the_weighted_mean_of_the_source_codes(toy, tmp_path, scorefile, crosswalk, caplog):
    out = tmp_path / "toy_scores.csv"
    status = main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(crosswalk),
                   "--classifications", str(tmp_path), "--out", str(out)])
    assert status == 0
    table = pd.read_csv(out).set_index("toy")
    # by hand: 111 = (100*40 + 300*60) / 400 = 55; wives (200*45 + 100*55) / 300 = 48.333...
    assert table.at[111, "mcamsis"] == pytest.approx(55.0)
    assert table.at[111, "fcamsis"] == pytest.approx(145 / 3)
    assert table.at[112, "mcamsis"] == pytest.approx(70.0) and table.at[121, "mcamsis"] == pytest.approx(70.0)
    # 211: its only source has n_m = 0: the plain mean of its sources (20), and 0 husbands behind it
    assert table.at[211, "mcamsis"] == pytest.approx(20.0) and table.at[211, "n_m"] == 0
    assert table.loc[[122, 212, 221, 222], "mcamsis"].isna().all()
    # groups: 11 = (400*55 + 50*70) / 450; 12 = 121 alone; 2 = 211 alone (weight 0 -> plain mean)
    assert table.at[11, "mcamsis"] == pytest.approx((400 * 55 + 50 * 70) / 450)
    assert table.at[1, "mcamsis"] == pytest.approx((400 * 55 + 50 * 70 + 50 * 70) / 500)
    assert table.at[12, "mcamsis"] == pytest.approx(70.0)
    assert table.at[1, "n_m"] == 500 and table.at[111, "n_sources"] == 2 and table.at[1, "n_sources"] == 4
    assert any("4 toy units have no source code" in r.getMessage() for r in caplog.records)


def test_translate_to_dta_carries_the_target_labels(toy, tmp_path, scorefile, crosswalk):
    out = tmp_path / "toy_scores.dta"
    assert main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(crosswalk),
                 "--classifications", str(tmp_path), "--out", str(out)]) == 0
    data, meta = pyreadstat.read_dta(str(out))
    assert meta.value_labels[meta.variable_to_label["toy"]][111] == "111. u111"
    assert "isei" in data.columns


def test_pairs_that_map_to_a_group_are_left_out_and_named(toy, tmp_path, scorefile, caplog):
    xwalk = tmp_path / "groups.csv"
    pd.DataFrame({"src": [1, 2], "toy": [111, 12]}).to_csv(xwalk, index=False)
    out = tmp_path / "o.csv"
    assert main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(xwalk),
                 "--classifications", str(tmp_path), "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("toy")
    assert table.at[111, "mcamsis"] == pytest.approx(40.0) and pd.isna(table.at[12, "mcamsis"])
    assert any("1 crosswalk pairs map to toy groups, not units, and are left out: 12" in r.getMessage()
               for r in caplog.records)


def test_translate_refuses_targets_outside_the_classification(toy, tmp_path, scorefile, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"src": [1, 2], "toy": [111, 999]}).to_csv(bad, index=False)
    assert main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(bad),
                 "--classifications", str(tmp_path), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "999" in err[0] and err[0].startswith("camsis: error:")
    assert not (tmp_path / "o.csv").exists()


def test_published_by_status_file_translates_status_by_status_with_its_own_columns(tmp_path, repo):
    """The published GB 2010 SOC2010 file (codes x es, gb_csm/gb_csf weighted by
    n_gb_csm/n_gb_csf) through a crosswalk, against a pandas groupby done here."""
    import numpy as np

    from camsis.classifications.classification import load_classification

    details = repo / "data" / "classifications" / "sources" / "gb2010soc2010_details.dta"
    published, _ = pyreadstat.read_dta(str(details))
    isco = load_classification("isco08", repo / "data" / "classifications")
    rng = np.random.default_rng(8)
    sources = np.unique(published["soc2010"].astype(int))
    # every SOC2010 unit to one or two ISCO-08 units (many-to-many, as real crosswalks)
    pairs = pd.DataFrame({"soc2010": np.repeat(sources, 2), "isco08": rng.choice(isco.units, 2 * len(sources))})
    pairs = pairs[(np.arange(len(pairs)) % 2 == 0) | (rng.random(len(pairs)) < 0.3)]
    pairs.to_csv(tmp_path / "xwalk.csv", index=False)
    out = tmp_path / "isco.dta"
    assert main(["translate", str(details), "--to", "isco08", "--crosswalk", str(tmp_path / "xwalk.csv"),
                 "--score-columns", "gb_csm", "gb_csf", "--classifications", str(repo / "data" / "classifications"),
                 "--statuses", str(repo / "data" / "statuses"), "--out", str(out)]) == 0
    got, meta = pyreadstat.read_dta(str(out))
    assert meta.value_labels[meta.variable_to_label["es"]][3] == "3. Self-employed, no employees"
    assert meta.variable_to_label == {"isco08": "isco08_label", "es": "esl"}  # the published files' set names
    got = got.set_index(["isco08", "es"])

    merged = pairs.merge(published, on="soc2010")
    for score, count in (("gb_csm", "n_gb_csm"), ("gb_csf", "n_gb_csf")):
        rows = merged[merged[score].notna()].assign(w=lambda d: d[count].fillna(0))
        rows = rows.assign(wx=rows["w"] * rows[score])
        sums = rows.groupby(["isco08", "es"]).agg(wx=("wx", "sum"), w=("w", "sum"), plain=(score, "mean"))
        expected = (sums["wx"] / sums["w"].where(sums["w"] > 0)).fillna(sums["plain"])
        expected.index = expected.index.set_levels(expected.index.levels[1].astype(int), level=1)
        np.testing.assert_allclose(got.loc[expected.index, score], expected, rtol=1e-6)
        np.testing.assert_allclose(got.loc[expected.index, count], sums["w"], rtol=1e-6)
    # the statuses differ where the published scores do: no status took another's score
    assert (got.xs(3, level="es")["gb_csm"] != got.xs(5, level="es")["gb_csm"]).any()


def test_a_builds_by_status_file_is_weighted_by_its_scheme_counts(toy, tmp_path, crosswalk, repo):
    """A by-status file as camsis writes it (status empst3, counts n_hbst3/n_wbst3, group
    rows at status 0 only) translates without options."""
    rows = pd.DataFrame({"src": [1, 1, 1, 2, 2, 2, 9], "empst3": [0, 1, 3, 0, 1, 3, 0],
                         "mcamsis": [40.0, 50, 30, 60, 80, 10, 50], "fcamsis": [45.0, 55, 35, 55, 75, 15, 50],
                         "n_hbst3": [100, 10, 90, 300, 30, 270, 450], "n_wbst3": [200, 20, 180, 100, 50, 50, 360]})
    rows.to_csv(tmp_path / "s_by_status.csv", index=False)
    out = tmp_path / "o.csv"
    assert main(["translate", str(tmp_path / "s_by_status.csv"), "--to", "toy", "--crosswalk", str(crosswalk),
                 "--classifications", str(tmp_path), "--statuses", str(repo / "data" / "statuses"),
                 "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index(["toy", "empst3"])
    # 111 <- 1, 2 at each status: status 1 = (10*50 + 30*80) / 40; status 3 = (90*30 + 270*10) / 360
    assert table.at[(111, 1), "mcamsis"] == pytest.approx((10 * 50 + 30 * 80) / 40)
    assert table.at[(111, 3), "mcamsis"] == pytest.approx((90 * 30 + 270 * 10) / 360)
    assert table.at[(111, 3), "fcamsis"] == pytest.approx((180 * 35 + 50 * 15) / 230)
    assert table.at[(111, 0), "n_hbst3"] == 400


def test_translate_never_overwrites_its_inputs(toy, tmp_path, scorefile, crosswalk, capsys):
    for target in (scorefile, crosswalk):
        before = target.read_bytes()
        assert main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(crosswalk),
                     "--classifications", str(tmp_path), "--out", str(target)]) == 2
        assert "never overwrites its input" in capsys.readouterr().err
        assert target.read_bytes() == before


def test_repeated_codes_without_a_status_column_are_refused_by_name(toy, tmp_path, crosswalk, capsys):
    pd.DataFrame({"src": [1, 1], "mcamsis": [1.0, 2.0], "n_m": [1, 1]}).to_csv(tmp_path / "s.csv", index=False)
    assert main(["translate", str(tmp_path / "s.csv"), "--to", "toy", "--crosswalk", str(crosswalk),
                 "--classifications", str(tmp_path), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "codes repeat, as in a by-status file" in err[0] and "--status" in err[0]


@pytest.mark.parametrize("name", ["out.csv", "scores.csv"])
def test_an_output_that_is_a_folder_or_the_input_is_refused_in_one_line(toy, tmp_path, scorefile, crosswalk, capsys, name):
    """`translate --out DIR` was a traceback; --out naming the score file would overwrite it."""
    before = scorefile.read_bytes()
    (tmp_path / "out.csv").mkdir()
    status = main(["translate", str(scorefile), "--to", "toy", "--crosswalk", str(crosswalk),
                   "--classifications", str(tmp_path), "--out", str(tmp_path / name)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("camsis: error: --out"), err
    assert ("is a folder" if name == "out.csv" else "is an input file (SCOREFILE)") in err
    assert scorefile.read_bytes() == before and not any((tmp_path / "out.csv").iterdir())
