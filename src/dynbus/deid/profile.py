"""PS3.15 Annex E Table E.1-1 (Basic Application Level Confidentiality Profile) on a dataset.

The table itself comes from ``dicom-anonymizer`` (its ``dicomfields_2026c`` database, the
current standard; its own default is still 2023). Its ``anonymize_dataset`` is not used: it only
acts on top-level elements, replaces UIDs with random, unkeyed ones and has no date shifting or
audit. Here the profile is applied at every nesting level with keyed, reproducible values:

- UIDs (the table's U actions and any other UI value that is not a well-known DICOM UID) become
  ``uid_pseudonym(key, uid)``, consistent across files, runs and processes;
- DA / DT values are shifted by a keyed per-patient number of days (``dates: shift``, option
  113107) or handled by the table's action (``dates: remove``); TM always follows the table, and
  a shifted DT keeps only its date (no time of day, fraction or UTC offset);
- PatientID and PatientName become the keyed patient pseudonym;
- conditional actions take the IOD-safe choice (dicom-anonymizer's reading): X/Z -> Z,
  Z/D, X/D, X/Z/D -> D, X/Z/U* -> keep the sequence and clean its items;
- a public attribute the table does not list is kept only when it is on the keep-list
  (``dynbus.deid.keep``), else removed: overlay groups 60xx, TextValue, unknown tags.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from dicomanonymizer.simpledicomanonymizer import replace_element
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID_dictionary

from dynbus.deid.audit import Audit
from dynbus.deid.keep import keep_tags

TABLE_VERSION = "dicomfields_2026c"
_CATEGORY_ACTION = {
    "X_TAGS": "X",
    "Z_TAGS": "Z",
    "D_TAGS": "D",
    "U_TAGS": "U",
    "X_Z_TAGS": "Z",
    "Z_D_TAGS": "D",
    "X_D_TAGS": "D",
    "X_Z_D_TAGS": "D",
    "X_Z_U_STAR_TAGS": "CLEAN",
}
PSEUDONYMISED = {0x00100010, 0x00100020}  # PatientName, PatientID
NOT_KEPT = "removed: not in Table E.1-1, not on the keep-list"


@cache
def table() -> tuple[dict[int, str], tuple[tuple[int, int, int, int, str], ...]]:
    """Table E.1-1 as (exact tag -> action, masked (group, element, gmask, emask, action))."""
    database = dicom_anonymization_database_selector(TABLE_VERSION)
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for category, action in _CATEGORY_ACTION.items():
        for entry in database[category]:
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:
                masked.append((*entry, action))
    return exact, tuple(masked)


def table_action(tag: int) -> str | None:
    """The resolved action (X, Z, D, U, CLEAN) of Table E.1-1 for ``tag``, None if not listed."""
    exact, masked = table()
    if tag in exact:
        return exact[tag]
    group, element = tag >> 16, tag & 0xFFFF
    for g, e, gmask, emask, action in masked:
        if group & gmask == g & gmask and element & emask == e & emask:
            return action
    return None


def shift_date(value: str, days: int) -> str | None:
    """The date of a DA or DT value shifted by ``days`` (YYYYMMDD); None unless it starts with one.

    A DT keeps only its shifted date: its time of day, fraction and UTC offset are dropped, as
    Table E.1-1 removes, empties or replaces every TM attribute (no time of day survives there).
    """
    try:
        day = dt.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d")


class Profile:
    """Apply Table E.1-1 with keyed values to datasets, recording every change in an audit."""

    def __init__(
        self, uid: Callable[[str], str], patient: str, shift_days: int | None, audit: Audit
    ) -> None:
        """``uid`` maps a UID to its pseudonym; ``shift_days`` None removes dates (table action)."""
        self.uid = uid
        self.patient = patient
        self.shift_days = shift_days
        self.audit = audit

    def apply(self, ds: Dataset, path: str = "") -> None:
        """De-identify ``ds`` and its sequences in place; ``path`` prefixes audit tag paths."""
        for elem in list(ds):
            where = f"{path}{_tag_name(elem.tag)}"
            action = table_action(elem.tag)
            if elem.tag.is_private:
                del ds[elem.tag]
                self.audit.record(where, elem, "removed")
            elif elem.tag in PSEUDONYMISED:
                elem.value = self.patient
                self.audit.record(where, elem, "pseudonymised")
            elif action is None and elem.tag not in keep_tags():
                del ds[elem.tag]
                self.audit.record(where, elem, NOT_KEPT)
            elif elem.VR in ("DA", "DT") and action != "X" and self.shift_days is not None:
                self._shift(ds, elem, where)
            elif action == "X":
                del ds[elem.tag]
                self.audit.record(where, elem, "removed")
            elif action == "Z":
                elem.value = [] if elem.VR == "SQ" else elem.empty_value
                self.audit.record(where, elem, "emptied")
            elif action == "D":
                self._dummy(elem, where)
            elif elem.VR == "UI":
                self._uid(elem, where)
            elif elem.VR == "SQ":
                for index, item in enumerate(elem.value):
                    self.apply(item, f"{where}[{index}]")

    def _shift(self, ds: Dataset, elem: DataElement, where: str) -> None:
        assert self.shift_days is not None
        values = _values(elem)
        if not values:
            return
        shifted = [shift_date(value, self.shift_days) for value in values]
        if any(value is None for value in shifted):
            del ds[elem.tag]
            self.audit.record(where, elem, "removed")
            return
        elem.value = shifted if len(shifted) > 1 else shifted[0]
        self.audit.record(where, elem, "date-shifted")

    def _uid(self, elem: DataElement, where: str) -> None:
        values = _values(elem)
        if not values or all(value in UID_dictionary for value in values):
            return
        new = [value if value in UID_dictionary else self.uid(value) for value in values]
        elem.value = new if len(new) > 1 else new[0]
        self.audit.record(where, elem, "UID-replaced")

    def _dummy(self, elem: DataElement, where: str) -> None:
        """D: a dummy value of the VR; every leaf of a sequence's items likewise."""
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value):
                for sub in list(item):
                    self._dummy(sub, f"{where}[{index}]{_tag_name(sub.tag)}")
            return
        if elem.VR == "UI":
            self._uid(elem, where)
            return
        if elem.VR in ("DA", "DT") and self.shift_days is not None:
            value = shift_date(_values(elem)[0], self.shift_days) if _values(elem) else None
            if value is not None:
                elem.value = value
                self.audit.record(where, elem, "date-shifted")
                return
        try:
            replace_element(elem)
        except NotImplementedError:
            elem.value = elem.empty_value
            self.audit.record(where, elem, "emptied")
            return
        self.audit.record(where, elem, "replaced")


def _values(elem: DataElement) -> list[str]:
    value = elem.value
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue | list) else [str(value)]


def _tag_name(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
