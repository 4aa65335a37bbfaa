"""The words the package uses for the two partners and for counts, defined once.

Every module, file and message names the partners and counts with these, so a column
``n_m`` or a key ``"pairs"`` means the same thing everywhere (docs/objects.md, "Vocabulary").

Partners (sides)
    ``"m"``: partner 1, the table's rows, the sheet's ``occ1`` column (husband / man), as
    the published ``mcamsis``; ``"f"``: partner 2, the columns, ``occ2`` (wife / woman),
    as ``fcamsis``. In Stata files that need a numeric sex, m is 1 and f is 2.

Counts
    ``pairs``: unweighted number of couples; ``weighted``: sum of the couples' weights
    (equal to ``pairs`` when the input has no weight). A key or column says which:
    ``pairs_blanked`` / ``pairs_blanked_weighted``, ``PairTable.counts`` /
    ``PairTable.weighted``. ``n_m`` / ``n_f`` in a score file are pairs.
"""

from __future__ import annotations

SIDES: tuple[str, str] = ("m", "f")
"""The two partners, in table order: rows (occ1) then columns (occ2)."""

OCCUPATION_COLUMNS: dict[str, str] = {"m": "occ1", "f": "occ2"}
"""The sheet column naming each side's occupation variable, and the pair table's axis names."""

PARTNER_NAMES: dict[str, str] = {"m": "husbands", "f": "wives"}
"""How messages name each side's people (the published files' terms)."""

PARTNERS_OF: dict[str, str] = {side: f"{PARTNER_NAMES[side]}'" for side in SIDES}
"""The possessive, for messages: "husbands'", "wives'"."""

SIDE_NAMES: dict[str, str] = {side: f"{PARTNER_NAMES[side]} ({OCCUPATION_COLUMNS[side]})" for side in SIDES}
"""How messages name each side's units: "husbands (occ1)", "wives (occ2)"."""

TABLE_AXES: dict[str, str] = {"m": "rows", "f": "columns"}
"""Where each side's units are in the pair table (and in the CA)."""

PEOPLE_NAMES: dict[str, str] = {"m": "men", "f": "women"}
"""How prose for readers (the release notes) names each side's people."""

SEX_NAMES: dict[str, str] = {"m": "male", "f": "female"}
"""How figures and labels name each side's scores (published: male and female CAMSIS)."""

SEX_CODES: dict[str, int] = {"m": 1, "f": 2}
"""The numeric sex of a side, as Stata files code it (1 male, 2 female)."""


def other(side: str) -> str:
    """The partner of ``side`` ("m" <-> "f").

    Parameters
    ----------
    side : str
        "m" or "f".

    Returns
    -------
    str
        The other side.
    """
    return SIDES[1 - SIDES.index(side)]
