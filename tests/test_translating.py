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
