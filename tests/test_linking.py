"""Linking persons into couples: against person files built from known couples (both id
styles, every fault in known numbers), against a plain-Python linker on random messy
links, in every input format and chunk size, and bad input refused in one line."""

import json

import numpy as np
import pandas as pd
import pytest

from camsis.errors import CamsisError
from camsis.method.linking import LINK_COUNTS, PersonColumns, link_couples, link_file, persons_from_frame, read_persons
from camsis.method.tables import (CoupleColumns, tabulate_by_status, tabulate_frame, tabulate_persons,
                                  tabulate_persons_by_status)
from personfiles import STYLES, person_file, sheet_columns
from helpers import write_data as write

UNITS = np.array([1111, 1112, 2211, 9269], dtype=np.int64)


def known_couples(n=40, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "hocc": rng.choice([1111, 1112, 2211, 9269, -9], n).astype(float),
        "wocc": rng.choice([1111, 1112, 2211, 9269, 5555], n).astype(float),
        "wt": rng.integers(1, 16, n) / 4,  # dyadic: sums are exact in any order
        "hstat": rng.integers(1, 4, n).astype(float),
        "wstat": rng.integers(1, 4, n).astype(float),
    })


def columns(style, weight=True, status=True):
    v = STYLES[style]
    return PersonColumns(person=v["person"], partner=v["partner"], sex=v["sex"], occ=v["occ"],
                         household=v["household"], wave=v["wave"],
                         status=v["status"] if status else None, weight=v["weight"] if weight else None)


def as_rows(frame, names):
    return sorted(map(tuple, frame[names].fillna(-1e9).to_numpy().tolist()))


@pytest.mark.parametrize("style", STYLES)
def test_person_file_links_back_to_its_couples_and_counts_every_fault(style):
    couples = known_couples()
    persons, expected = person_file(couples, style, repeats=6)
    linked = link_couples(persons_from_frame(persons, columns(style), 1, "p"), columns(style), "first")
    assert linked.counts == expected
    got = linked.couples.rename(columns={"occ1": "hocc", "occ2": "wocc", "weight": "wt", "status1": "hstat", "status2": "wstat"})
    assert as_rows(got, list(couples.columns)) == as_rows(couples, list(couples.columns))
    # the same table as the couples file, pair counts, weights and dropped pairs included
    a = tabulate_frame(couples, "hocc", "wocc", "wt", UNITS)
    b = tabulate_frame(linked.couples, "occ1", "occ2", "weight", UNITS)
    pd.testing.assert_frame_equal(a.weighted, b.weighted)
    pd.testing.assert_frame_equal(a.counts, b.counts)
    assert (a.read, a.used, a.dropped) == (b.read, b.used, b.dropped)


@pytest.mark.parametrize("style", STYLES)
def test_repeat_couples_all_keeps_the_later_waves(style):
    couples = known_couples()
    persons, expected = person_file(couples, style, repeats=6)
    linked = link_couples(persons_from_frame(persons, columns(style), 1, "p"), columns(style), "all")
    assert linked.counts == expected | {"couples_kept": len(couples) + 6}
    repeated = linked.couples[(linked.couples["occ1"] == 1111) & (linked.couples["occ2"] == 9269) & (linked.couples["status1"] == 1)]
    assert len(repeated) >= 6


@pytest.mark.parametrize("suffix", [".dta", ".sav", ".csv", ".parquet"])
@pytest.mark.parametrize("style", STYLES)
def test_every_format_and_chunk_size_gives_the_same_couples(tmp_path, style, suffix):
    couples = known_couples()
    persons, expected = person_file(couples, style, repeats=4, seed=5)
    persons["unused"] = 1.0
    path = write(persons, tmp_path / f"persons{suffix}")
    whole = link_couples(persons_from_frame(persons, columns(style), 1, path), columns(style), "first")
    for chunksize in (7, 1000):
        linked = link_file(path, columns(style), 1, "first", chunksize=chunksize)
        assert linked.counts == expected
        pd.testing.assert_frame_equal(linked.couples, whole.couples)


def test_reading_holds_only_the_needed_columns(tmp_path):
    persons, _ = person_file(known_couples(), "ukhls", repeats=2)
    persons["big"] = "x" * 50
    held = read_persons(write(persons, tmp_path / "p.parquet"), columns("ukhls", weight=False, status=False), 1, chunksize=10)
    assert held.status is None and held.weight is None
    # UKHLS style names no household: nothing is held for it
    assert {k for k, v in vars(held).items() if isinstance(v, np.ndarray)} == {"person", "partner", "wave", "sex", "occ"}


def reference_link(persons, first_sex=1):
    """A plain-Python linker: dictionaries keyed by (wave, household, id)."""
    key = {}
    for i, p in enumerate(persons.itertuples(index=False)):
        key[(p.wave, p.hh, p.pid)] = i
    partner_of = {}
    counts = dict.fromkeys(LINK_COUNTS, 0)
    counts["persons"] = len(persons)
    rows = list(persons.itertuples(index=False))
    for i, p in enumerate(rows):
        if not (p.partner > 0):
            counts["no_partner"] += 1
            continue
        j = key.get((p.wave, p.hh, p.partner))
        if j is None:
            counts["partner_not_found"] += 1
        elif j == i or not (rows[j].partner > 0) or key.get((rows[j].wave, rows[j].hh, rows[j].partner)) != i:
            counts["link_not_reciprocal"] += 1
        else:
            partner_of[i] = j
    seen, kept = set(), []
    for i, j in sorted(partner_of.items()):
        if i > j:
            continue
        counts["couples"] += 1
        a, b = rows[i], rows[j]
        if np.isnan(a.sex) or np.isnan(b.sex):
            counts["sex_missing"] += 1
        elif (a.sex == first_sex) == (b.sex == first_sex):
            counts["same_sex"] += 1
        else:
            one, two = (a, b) if a.sex == first_sex else (b, a)
            kept.append((one.wave, one.hh, one.pid, two.pid, one.occ, two.occ))
    firsts = []
    for c in sorted(kept):
        identity = c[1:4]
        if identity in seen:
            counts["repeat_couple"] += 1
        else:
            seen.add(identity)
            firsts.append(c)
    counts["couples_kept"] = len(firsts)
    return counts, sorted((c[4], c[5]) for c in firsts)


@pytest.mark.parametrize("seed", range(5))
def test_random_messy_links_agree_with_a_plain_python_linker(seed):
    rng = np.random.default_rng(seed)
    n = 600
    # few ids, households and waves: many collisions, chains, self-links and cross-household names
    persons = pd.DataFrame({"wave": 1, "hh": rng.integers(1, 40, n), "pid": rng.integers(1, 12, n)})
    persons = persons.drop_duplicates(["hh", "pid"]).reset_index(drop=True)
    # partners: mostly a real member of the same household, else noise
    partner = rng.integers(-1, 12, len(persons)).astype(float)
    partner[rng.random(len(persons)) < 0.05] = np.nan
    persons["partner"] = partner
    for _, group in persons.groupby("hh"):
        idx = rng.permutation(group.index.to_numpy())
        for a, b in zip(idx[0::2], idx[1::2]):
            if rng.random() < 0.8:
                persons.loc[a, "partner"], persons.loc[b, "partner"] = persons.loc[b, "pid"], persons.loc[a, "pid"]
    persons["sex"] = rng.choice([1.0, 2.0, 2.0, np.nan], len(persons), p=[0.45, 0.45, 0.05, 0.05])
    # a second wave: half the households again, a tenth of their links changed
    again = persons[persons["hh"] % 2 == 0].assign(wave=2)
    again["partner"] = again["partner"].where(rng.random(len(again)) > 0.1, rng.integers(0, 12, len(again)))
    persons = pd.concat([persons, again], ignore_index=True)
    m = len(persons)
    persons["occ"] = rng.integers(1, 100, m).astype(float)
    persons = persons.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cols = PersonColumns(person="pid", partner="partner", sex="sex", occ="occ", household="hh", wave="wave")
    linked = link_couples(persons_from_frame(persons, cols, 1, "p"), cols, "first")
    expected_counts, expected_couples = reference_link(persons)
    assert linked.counts == expected_counts
    assert sorted(map(tuple, linked.couples[["occ1", "occ2"]].to_numpy().tolist())) == expected_couples
    assert expected_counts["couples"] > 50 and expected_counts["repeat_couple"] > 5 and expected_counts["link_not_reciprocal"] > 20


@pytest.mark.parametrize("style", STYLES)
def test_duplicated_person_id_names_the_first_duplicate(style):
    persons, _ = person_file(known_couples(), style, repeats=2)
    v = STYLES[style]
    twin = persons.iloc[[5]].assign(**{v["occ"]: 2211})
    later = persons.iloc[[9]]
    persons = pd.concat([persons.iloc[:20], twin, later.assign(**{v["occ"]: 1}), persons.iloc[20:]], ignore_index=True)
    with pytest.raises(CamsisError) as error:
        link_couples(persons_from_frame(persons, columns(style), 1, "persons.csv"), columns(style))
    message = str(error.value)
    assert "\n" not in message and "persons.csv" in message and f"person id {int(persons.loc[5, v['person']])}" in message
    assert "persons 6 and 21" in message and f"wave {int(persons.loc[5, v['wave']])}" in message
    if v["household"]:
        assert f"household {int(persons.loc[5, v['household']])}" in message


def test_first_sex_no_row_has_is_refused(tmp_path):
    persons, _ = person_file(known_couples(), "ukhls", repeats=2)
    path = write(persons, tmp_path / "persons.parquet")
    with pytest.raises(CamsisError, match=r"first_sex 3 is not a value of variable 'sex' in .*persons.parquet \(values: 1, 2\)"):
        read_persons(path, columns("ukhls"), 3, chunksize=11)


def test_missing_or_fractional_person_id_is_refused():
    persons, _ = person_file(known_couples(), "ukhls", repeats=2)
    with pytest.raises(CamsisError, match="'pidp' in f.csv is missing in 1 rows"):
        persons_from_frame(persons.assign(pidp=persons["pidp"].where(persons.index != 3)), columns("ukhls"), 1, "f.csv")
    with pytest.raises(CamsisError, match="'ppid' in f.csv holds 2.5"):
        persons_from_frame(persons.assign(ppid=persons["ppid"].where(persons.index != 3, 2.5)), columns("ukhls"), 1, "f.csv")


def test_filter_leaves_persons_out_before_linking(tmp_path):
    persons, expected = person_file(known_couples(), "ukhls", repeats=6)
    path = write(persons, tmp_path / "p.csv")
    linked = link_file(path, columns("ukhls"), 1, "first", chunksize=9, where="wave == 1")
    wave2 = int((persons["wave"] == 2).sum())
    assert linked.counts["persons"] == len(persons) and linked.counts["filtered"] == wave2
    assert linked.counts["repeat_couple"] == 0
    total = sum(linked.counts[k] for k in ("filtered", "no_partner", "partner_not_found", "link_not_reciprocal"))
    assert total + 2 * linked.counts["couples"] == len(persons)


def status_couples(n=60, seed=11):
    """Known couples with statuses: scored ones (1-3 of empst3), 0 (no information), missing and 7 (not in the scheme)."""
    couples = known_couples(n, seed)
    rng = np.random.default_rng(seed)
    for side in ("hstat", "wstat"):
        couples[side] = rng.choice([1, 2, 3, 3, 0, np.nan, 7], n)
    return couples


def assert_same_table(a, b):
    pd.testing.assert_frame_equal(a.weighted, b.weighted, check_exact=True)
    pd.testing.assert_frame_equal(a.counts, b.counts, check_exact=True)
    assert (a.weights_squared is None) == (b.weights_squared is None)
    if a.weights_squared is not None:  # the squared survey weights are summed couple by couple
        pd.testing.assert_frame_equal(a.weights_squared, b.weights_squared, check_exact=True)
    assert (a.read, a.used, a.dropped) == (b.read, b.used, b.dropped)


@pytest.mark.parametrize("suffix", [".dta", ".parquet"])
@pytest.mark.parametrize("style", STYLES)
def test_person_file_with_statuses_gives_the_couples_files_by_status_tables(tmp_path, style, suffix):
    """Singles, broken links, same-sex couples and a repeated wave around known couples with statuses:
    both tables (title-only and by-status, status_unknown included) are the couples file's."""
    couples = status_couples()
    persons, expected = person_file(couples, style, repeats=5, seed=4)
    couples_path = write(couples, tmp_path / f"couples{suffix}")
    persons_path = write(persons, tmp_path / f"persons{suffix}")
    scored = np.array([1, 2, 3])
    want = tabulate_by_status(couples_path, CoupleColumns("hocc", "wocc", "hstat", "wstat", "wt"),
                              UNITS, scored, chunksize=7)
    got, counts = tabulate_persons_by_status(persons_path, columns(style), 1, UNITS, scored, "first", chunksize=7)
    assert counts == expected
    for a, b in zip(got, want):
        assert_same_table(a, b)
    assert got[1].dropped["status_unknown"] > 0 and got[1].used > 0


def test_by_status_person_file_needs_its_status_variable(tmp_path):
    persons, _ = person_file(status_couples(), "ukhls", repeats=0)
    path = write(persons, tmp_path / "p.parquet")
    with pytest.raises(CamsisError, match="needs its status variable"):
        tabulate_persons_by_status(path, columns("ukhls", status=False), 1, UNITS, np.array([1, 2, 3]))
    missing = PersonColumns(**{**columns("ukhls").__dict__, "status": "jbstat_w"})
    with pytest.raises(CamsisError, match="jbstat_w"):
        tabulate_persons_by_status(path, missing, 1, UNITS, np.array([1, 2, 3]))


@pytest.mark.parametrize("layout", ["couples", "persons"])
def test_a_by_status_scale_s_two_tables_hold_the_pairs_of_one_joint_reading(tmp_path, layout):
    """Rule tabulate writes a by-status scale's title-only and by-status tables in two jobs: they
    must be the tables one joint reading counts (``tables.tabulate_by_status``), same pairs."""
    from camsis import steps
    from camsis.classifications.statuses import by_status_classification, load_scheme
    from camsis.method.pairtable import PairTable
    from helpers import REPO

    couples = status_couples()
    if layout == "persons":
        persons, _ = person_file(couples, "ipums", repeats=5, seed=4)
        path = write(persons, tmp_path / "persons.dta")
        cells = dict(layout="persons", **sheet_columns("ipums"), first_sex=1, repeat_couples="first")
        by_status_cells = dict(cells, status=cells.pop("status"))
    else:
        path = write(couples, tmp_path / "couples.dta")
        cells = dict(occ1="hocc", occ2="wocc", weight="wt")
        by_status_cells = dict(cells, status1="hstat", status2="wstat")
    classification = [REPO / f"data/classifications/soc2020.{ext}" for ext in ("tsv", "yaml")]
    scheme = [REPO / f"data/statuses/empst3.{ext}" for ext in ("tsv", "yaml")]
    title, by_status = tmp_path / "title", tmp_path / "by_status"
    steps.tabulate(path, classification, title / "table.parquet", title / "table.json",
                   steps.InputSpec(chunksize=7, **cells))
    steps.tabulate(path, classification, by_status / "table.parquet", by_status / "table.json",
                   steps.InputSpec(chunksize=7, **by_status_cells), scheme=scheme)
    frame, statuses = steps.classification_from(classification), load_scheme("empst3", REPO / "data/statuses")
    spec = steps.InputSpec(chunksize=7, **by_status_cells)
    if layout == "persons":
        (want_title, want), _ = tabulate_persons_by_status(path, spec.person_columns(with_status=True), 1.0,
                                                           frame.units, statuses.scored, repeat_couples="first",
                                                           chunksize=7)
    else:
        want_title, want = tabulate_by_status(path, CoupleColumns("hocc", "wocc", "hstat", "wstat", "wt"), frame.units,
                                              statuses.scored, chunksize=7)
    got_title = PairTable.load(title / "table.parquet", title / "table.json", frame.units)
    got = PairTable.load(by_status / "table.parquet", by_status / "table.json",
                         by_status_classification(frame, statuses).units)
    pd.testing.assert_frame_equal(got_title.weighted, want_title.weighted)
    pd.testing.assert_frame_equal(got.weighted, want.weighted)
    pd.testing.assert_frame_equal(got.counts, want.counts)
    info = json.loads((by_status / "table.json").read_text())
    assert info["dropped"]["status_unknown"] > 0


BIG = 2**60  # float64 holds only multiples of 256 here: BIG + 1 and BIG + 2 both read as BIG


def big_id_persons():
    """Persons whose ids differ below float64's spacing: one couple (BIG+1, BIG+2), a person naming a
    partner nobody has (BIG+7, which a float reads as BIG+1's neighbour), and one without a partner."""
    return pd.DataFrame({
        "pid": [BIG + 1, BIG + 2, BIG + 3, BIG + 4, BIG + 1024, BIG + 1536],
        "partner": pd.array([BIG + 2, BIG + 1, BIG + 7, None, BIG + 1536, BIG + 1024], dtype="Int64"),
        "sex": [1, 2, 2, 1, 1, 2],
        "occ": [1111, 1112, 2211, 9269, 2211, 1111],
    })


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ids_above_2_to_the_53_are_linked_exactly(tmp_path, suffix):
    """Ids went through float64: a partner id nobody has was linked to another person, and two
    distinct ids gave a false 'appears more than once'."""
    path = write(big_id_persons(), tmp_path / f"persons{suffix}")
    linked = link_file(path, PersonColumns(person="pid", partner="partner", sex="sex", occ="occ"), 1, chunksize=4)
    assert linked.counts | {"couples": linked.counts["couples"]} == {
        "persons": 6, "filtered": 0, "no_partner": 1, "partner_not_found": 1, "link_not_reciprocal": 0,
        "couples": 2, "sex_missing": 0, "same_sex": 0, "repeat_couple": 0, "couples_kept": 2}
    assert linked.couples[["occ1", "occ2"]].to_numpy().tolist() == [[1111, 1112], [2211, 1111]]


@pytest.mark.parametrize("suffix", [".dta", ".sav"])
def test_ids_above_2_to_the_53_stored_as_floating_point_are_refused(tmp_path, suffix):
    """Stata and SPSS store such ids as doubles, where two ids can be one number: refused, not guessed."""
    path = write(big_id_persons().astype({"partner": float}), tmp_path / f"persons{suffix}")
    with pytest.raises(CamsisError, match=r"id variable '(pid|partner)' in .*persons\.(dta|sav) holds \d+ as a "
                                          r"floating-point number: above 2\^53"):
        link_file(path, PersonColumns(person="pid", partner="partner", sex="sex", occ="occ"), 1)


def test_id_text_that_is_not_a_whole_number_is_refused_in_one_line(tmp_path):
    path = tmp_path / "persons.csv"
    path.write_text("pid,partner,sex,occ\n1,2,1,1111\n2,x1,2,1112\n")
    with pytest.raises(CamsisError, match=r"id variable 'partner' in .*persons\.csv holds 'x1', not a whole number"):
        link_file(path, PersonColumns(person="pid", partner="partner", sex="sex", occ="occ"), 1)


def test_a_file_where_everyone_names_themselves_says_so_with_its_linking_counts(tmp_path):
    """It said '0 pairs read', without the linking counts."""
    path = tmp_path / "persons.csv"
    path.write_text("pid,partner,sex,occ\n1,1,1,1111\n2,2,2,1112\n3,3,1,2211\n")
    with pytest.raises(CamsisError) as raised:
        tabulate_persons(path, PersonColumns(person="pid", partner="partner", sex="sex", occ="occ"), 1, UNITS)
    message = str(raised.value)
    assert message.startswith(f"no couples linked in {path}: 3 persons: 0 filtered, 0 without partner")
    assert "3 whose partner names someone else" in message and "0 couples kept" in message
    assert "(3 persons name themselves as partner: 'partner' holds their own id)" in message


def test_a_by_status_table_with_no_status_of_the_scheme_says_so(tmp_path):
    """It was reported as every pair 'blanked', by the CA of an empty by-status table."""
    couples = known_couples().assign(hstat=7.0, wstat=np.where(np.arange(40) % 2, 8.0, 1.0))
    path = write(couples, tmp_path / "couples.csv")
    with pytest.raises(CamsisError, match=r"no pair in .*couples\.csv has a status of the scheme \(scored: 1, 2, 3\) on both "
                                          r"sides \('hstat', 'wstat'\): all \d+ pairs lack one; values found, most "
                                          r"frequent first: 7 \(\d+\), 8 \(\d+\)"):
        tabulate_by_status(path, CoupleColumns("hocc", "wocc", "hstat", "wstat", "wt"), UNITS, np.array([1, 2, 3]))
