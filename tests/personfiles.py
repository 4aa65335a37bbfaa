"""Person files built from a couples file, with every kind of fault, and the counts they must give.

The couples of the couples file are the truth: each becomes a man (sex 1) and a woman
(sex 2) who name each other. Around them come persons who must not form a couple
(singles, partners not in the file, links not returned, same-sex and sex-missing
couples) and, in a second wave, some of the same couples again. The faults are made
in known numbers, so the counts linking reports can be checked against construction,
not against the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# UKHLS-style: a person id unique in the whole file (pidp) and the partner's (ppid).
UKHLS = dict(person="pidp", partner="ppid", household=None, wave="wave", sex="sex", occ="occ", status="jbstat", weight="indin")
# IPUMS-style: person numbers within a household (serial, pernum, sploc), a sample year as the wave.
IPUMS = dict(person="pernum", partner="sploc", household="serial", wave="year", sex="sex", occ="occ", status="classwkr", weight="perwt")
STYLES = {"ukhls": UKHLS, "ipums": IPUMS}

FAULTS = dict(no_partner=7, partner_not_found=5, link_not_reciprocal=4, same_sex=3, sex_missing=2)


def _person(v, *, pid, partner, hh, wave, sex, occ, status, weight):
    return {v["person"]: pid, v["partner"]: partner, **({v["household"]: hh} if v["household"] else {}),
            v["wave"]: wave, v["sex"]: sex, v["occ"]: occ, v["status"]: status, v["weight"]: weight}


def person_file(couples: pd.DataFrame, style: str, repeats: int, seed: int = 0, codes=(1111, 9269, 2211)):
    """Persons whose linked couples (repeat_couples first) are exactly ``couples``.

    ``couples`` has hocc, wocc, wt, hstat, wstat. The first half of the couples are in
    wave 1, the rest in wave 2; ``repeats`` couples of wave 1 appear again in wave 2
    (with other occupations, so keeping them would change the table). Persons outside
    the couples have the occupations ``codes`` (use units of the classification, so a
    wrongly kept one would change the scale rather than be dropped as an unknown code).
    Returns the shuffled person rows and the counts linking must report.
    """
    v = STYLES[style]
    rng = np.random.default_rng(seed)
    n = len(couples)
    wave = np.where(np.arange(n) < n // 2, 1, 2)
    rows, next_id, next_hh = [], [10_001], [500]

    def new_id():
        next_id[0] += int(rng.integers(1, 50))  # gaps, like real ids
        return next_id[0]

    def household():
        next_hh[0] += 1
        return next_hh[0]

    def pair_ids():
        """Ids of two persons: in a new household numbered 1 and 2 (IPUMS) or file-wide ids (UKHLS)."""
        if style == "ipums":
            return household(), 1, 2
        return 0, new_id(), new_id()

    other_weight = lambda: float(rng.integers(1, 32)) / 4  # noqa: E731 - partner 2's weight, never used
    couple_ids = []
    for i, c in enumerate(couples.itertuples(index=False)):
        hh, a, b = pair_ids()
        couple_ids.append((hh, a, b))
        rows.append(_person(v, pid=a, partner=b, hh=hh, wave=wave[i], sex=1, occ=c.hocc, status=c.hstat, weight=c.wt))
        rows.append(_person(v, pid=b, partner=a, hh=hh, wave=wave[i], sex=2, occ=c.wocc, status=c.wstat, weight=other_weight()))
    first_wave = [k for k in range(n) if wave[k] == 1][:repeats]
    for k in first_wave:  # the same two persons (same household) again in wave 2, with other jobs
        hh, a, b = couple_ids[k]
        rows.append(_person(v, pid=a, partner=b, hh=hh, wave=2, sex=1, occ=codes[0], status=1, weight=1.0))
        rows.append(_person(v, pid=b, partner=a, hh=hh, wave=2, sex=2, occ=codes[1], status=1, weight=1.0))
    single = lambda pid, partner, hh, sex=1: _person(  # noqa: E731
        v, pid=pid, partner=partner, hh=hh, wave=1, sex=sex, occ=codes[2], status=1, weight=1.0)
    for k in range(FAULTS["no_partner"]):
        hh, a, _ = pair_ids()
        rows.append(single(a, [0, -8, np.nan][k % 3], hh))
    for _ in range(FAULTS["partner_not_found"] - 1):
        # b is never a person here; in IPUMS style person number 2 exists, but only in other households
        hh, a, b = pair_ids()
        rows.append(single(a, b, hh))
    # links are made within a wave: naming a wave-1 husband (not repeated) from wave 2 finds nobody
    k = repeats  # the first wave-1 couple that is not repeated
    hh_k, a_k, _ = couple_ids[k]
    rows.append(_person(v, pid=3 if style == "ipums" else new_id(), partner=a_k, hh=hh_k, wave=2, sex=2,
                        occ=codes[2], status=1, weight=1.0))
    for k in range(FAULTS["link_not_reciprocal"] // 2):
        # A names B who names nobody (B: no_partner); D names a wife whose husband names her back
        hh, a, b = pair_ids()
        rows.append(single(a, b, hh))
        rows.append(single(b, 0, hh, sex=2))
        hh_e, _, e = couple_ids[k]
        d = 3 if style == "ipums" else new_id()
        rows.append(_person(v, pid=d, partner=e, hh=hh_e, wave=wave[k], sex=1, occ=codes[2], status=1, weight=1.0))
    for k in range(FAULTS["same_sex"]):
        hh, a, b = pair_ids()
        sex = 1 + k % 2
        rows.append(single(a, b, hh, sex=sex))
        rows.append(single(b, a, hh, sex=sex))
    for _ in range(FAULTS["sex_missing"]):
        hh, a, b = pair_ids()
        rows.append(single(a, b, hh, sex=1))
        rows.append(single(b, a, hh, sex=np.nan))
    persons = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    extra_no_partner = FAULTS["link_not_reciprocal"] // 2  # the B's
    couples_made = n + repeats + FAULTS["same_sex"] + FAULTS["sex_missing"]
    counts = {
        "persons": len(persons),
        "filtered": 0,
        "no_partner": FAULTS["no_partner"] + extra_no_partner,
        "partner_not_found": FAULTS["partner_not_found"],
        "link_not_reciprocal": FAULTS["link_not_reciprocal"],
        "couples": couples_made,
        "sex_missing": FAULTS["sex_missing"],
        "same_sex": FAULTS["same_sex"],
        "repeat_couple": repeats,
        "couples_kept": n,
    }
    assert counts["persons"] == (counts["no_partner"] + counts["partner_not_found"]
                                 + counts["link_not_reciprocal"] + 2 * counts["couples"])
    return persons, counts


def sheet_columns(style: str) -> dict:
    """The sheet's person columns for a style (household empty for UKHLS)."""
    v = STYLES[style]
    return {key: (value or "") for key, value in v.items()}
