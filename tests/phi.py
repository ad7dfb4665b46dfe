"""Every identifying value the simulator plants, as a reader would search for it, and a scan of
files, names and consoles for those values.

The values come from the simulator itself: every field of every ``Identity`` it draws for the
study (``dynbus.simulate.study.identities``; a new field is searched without a change here), and
from the raw headers every UID that is not a registered DICOM UID, every date and date-time,
every private-tag string, and the raw folder and file names. Variants, as a reader would search:

- names (the PN fields, each ``=`` representation): family and given name together in either
  order, joined by ``^``, space, ``_``, ``-``, ``,`` or nothing, in any case ("DOE^JOHN",
  "john doe", "Doe, John", "张伟"), and each part alone as written, in upper and in title case;
- dates as ``20190312``, ``2019-03-12``, ``12.03.2019``, ``03/12/2019``; study and acquisition
  date-times in DICOM and ISO forms;
- telephone numbers as written and as bare digits (with and without the extension);
- addresses and institutions whole and each comma-separated part; other strings whole.

Matching ignores separators: text is compared with every character that is not an ASCII letter
or digit (or a byte of a UTF-8 letter) read as a space, so a value is found as whole words only
("3974709" in "ID_3974709" but not in "0.73974709"). Excluded, as they occur by chance or name
no one: values shorter than 5 bytes after that (the sex "F", the age "047Y", the prefix "Dr.",
a 2-letter family name alone, a lone Chinese character; each still searched inside the full
name); a name part alone in lower case ("white" is a CSS colour, "mason" a word); a time of day
without its date (six digits and clock times occur in scores and in log timestamps); and values
every patient shares ("Breast Imaging"); a single word that the libraries Snakemake embeds in
report.html contain (a licence's "Charles", a colour "White"). Contents searched: each file's
bytes; a DICOM file's header only (pixels are checked by the de-identification tests); a PNG's
text chunks (its compressed pixels hold no text: burned-in text is the OCR tests' job); every
member and member name of a zip, such as a torch checkpoint, bar its tensor storages (raw
numbers, 245 MB of a tiny run: slow to search, and no text); every base64 ``data:`` URI of a
page, such as the Snakemake report's embedded results.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pydicom
import snakemake
from PIL import Image
from pydicom.uid import UID_dictionary

from dynbus.simulate.study import identities

MIN_BYTES = 5
SEPARATORS = ("^", " ", "_", "-", ", ", "")
DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y")
DATETIME_FORMATS = ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M")


def _table(fold: bool) -> bytes:
    """Byte translation: ASCII letters and digits kept (lower-cased when ``fold``), UTF-8
    bytes kept, every other byte a space."""
    return bytes(
        ch if ch >= 0x80 else ord(chr(ch).lower() if fold else chr(ch)) if chr(ch).isalnum() else 32
        for ch in range(256)
    )


_KEPT, _FOLDED = _table(fold=False), _table(fold=True)
TENSOR_STORAGE = re.compile(r"(^|/)data/\d+$")  # a torch checkpoint's raw tensor numbers
_DATA_URI = re.compile(rb"data:[\w.+/-]*(?:;[\w.+-]+=[\w.+-]+)*;base64,([A-Za-z0-9+/=]+)")


@dataclass(frozen=True)
class Needles:
    """Normalised values: ``folded`` are found in any case, ``exact`` as written."""

    folded: frozenset[bytes]
    exact: frozenset[bytes]

    def __len__(self) -> int:
        return len(self.folded) + len(self.exact)


def _words(text: str | bytes, fold: bool) -> bytes:
    """``text`` as space-separated words (bytes), lower-cased when ``fold``."""
    data = text.encode() if isinstance(text, str) else text
    return b" " + b" ".join(data.translate(_FOLDED if fold else _KEPT).split()) + b" "


def _name_variants(pn: str) -> tuple[set[str], set[str]]:
    """(any-case, as-written) variants of a DICOM PN value, each ``=`` representation."""
    folded: set[str] = set()
    exact: set[str] = set()
    for group in pn.split("="):
        parts = [part for part in group.split("^")[:2] if part]
        folded.add(group)
        for family, given in [parts, parts[::-1]] if len(parts) == 2 else []:
            folded |= {f"{family}{sep}{given}" for sep in SEPARATORS}
        for part in parts:
            exact |= {part, part.upper(), part.title()}
    return folded, exact


def _value_variants(value: object) -> set[str]:
    """Any-case variants of one non-name value: dates, date-times, phones, addresses."""
    if isinstance(value, datetime):
        return _value_variants(value.date()) | {f"{value:{form}}" for form in DATETIME_FORMATS}
    if isinstance(value, date):
        return {f"{value:{form}}" for form in DATE_FORMATS}
    text = str(value)
    variants = {text, *(part.strip() for part in text.split(","))}
    if re.fullmatch(r"[0-9 ()+./x-]+", text):  # a telephone number: also its bare digits
        variants |= {re.sub(r"\D", "", text), re.sub(r"\D", "", text.split("x")[0])}
    return variants


def _header_values(path: Path) -> set[str]:
    """A raw file's non-registry UIDs, dates, date-times and private strings."""
    header = pydicom.dcmread(path, stop_before_pixels=True)
    values: set[str] = set()
    for element in header.iterall():
        if element.VR == "UI" and element.value and element.value not in UID_dictionary:
            values |= {str(element.value), str(element.value).rsplit(".", 1)[-1]}
        elif element.VR == "DA" and element.value:
            values |= _value_variants(datetime.strptime(str(element.value), "%Y%m%d").date())
        elif element.VR == "DT" and element.value:
            values |= _value_variants(datetime.strptime(str(element.value)[:14], "%Y%m%d%H%M%S"))
        elif element.tag.is_private and isinstance(element.value, str):
            values.add(element.value)
    return values


@cache
def _report_vocabulary(fold: bool) -> frozenset[bytes]:
    """The words of the libraries Snakemake embeds in report.html (their licences name people)."""
    assets = Path(snakemake.__file__).parent / "assets"
    words = (_words(path.read_bytes(), fold) for path in assets.rglob("*") if path.is_file())
    return frozenset(word for text in words for word in text.split())


def needles_for(folded: Iterable[str], exact: Iterable[str]) -> Needles:
    """Needles of ``folded`` (searched in any case) and ``exact`` values, short and
    vocabulary words dropped."""

    def keep(values: Iterable[str], fold: bool) -> frozenset[bytes]:
        words = {_words(value, fold) for value in values}
        vocabulary = _report_vocabulary(fold)
        return frozenset(
            word for word in words if len(word) - 2 >= MIN_BYTES and word.strip() not in vocabulary
        )

    return Needles(keep(folded, True), keep(exact, False))


def planted_phi(raw_dir: Path, seed: int, patients: int) -> Needles:
    """Every identifying value the simulator planted in ``raw_dir`` (``dynbus simulate`` with
    ``seed`` and ``patients``) and the raw folder's, folders' and files' names, in variants."""
    people = identities(seed, patients)
    folders = {path.parent.name for path in raw_dir.rglob("*.dcm")}
    assert folders == {person.folder for person in people}, "not the simulator's identities"
    folded: set[str] = set()
    exact: set[str] = set()
    shared = set.intersection(*({str(v) for v in dataclasses.astuple(p)} for p in people))
    for person in people:
        for field in dataclasses.fields(person):
            value = getattr(person, field.name)
            if patients > 1 and str(value) in shared:
                continue
            if isinstance(value, str) and "^" in value:
                names = _name_variants(value)
                folded |= names[0]
                exact |= names[1]
            else:
                folded |= _value_variants(value)
    paths = sorted(raw_dir.rglob("*.dcm"))
    for name in {
        name for path in paths for name in path.relative_to(raw_dir.parent).with_suffix("").parts
    }:
        folded.add(name)
        for part in name.split("_"):  # e.g. MUELLER^ANNA_1234567
            names = _name_variants(part) if "^" in part else ({part}, set())
            folded |= names[0]
            exact |= names[1]
    for path in paths:
        folded |= _header_values(path)
    return needles_for(folded, exact)


def _parts(data: bytes) -> Iterable[bytes]:
    """The searchable contents of a file's bytes (see the module's docstring)."""
    if data[128:132] == b"DICM":
        dataset = pydicom.dcmread(io.BytesIO(data))
        if "PixelData" in dataset:
            del dataset.PixelData
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        yield buffer.getvalue()
        return
    if data.startswith(b"\x89PNG"):
        text = Image.open(io.BytesIO(data)).text
        yield "\n".join(f"{key}\n{value}" for key, value in text.items()).encode()
    elif data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                yield member.filename.encode()
                if not TENSOR_STORAGE.search(member.filename):
                    yield from _parts(archive.read(member))
    else:
        yield data
    for match in _DATA_URI.finditer(data):
        yield from _parts(base64.b64decode(match[1] + b"=" * (-len(match[1]) % 4)))


def found_in(data: bytes | str, needles: Needles) -> list[str]:
    """The needles (as words) found in ``data`` or in what it contains."""
    raw = data.encode() if isinstance(data, str) else data
    found = []
    for part in _parts(raw):
        for fold, values in [(True, needles.folded), (False, needles.exact)]:
            words = _words(part, fold)
            tokens = set(words.split())
            found += [
                value.strip().decode(errors="replace")
                for value in values
                if set(value.split()) <= tokens and value in words
            ]
    return found


def phi_found_under(
    root: Path, needles: Needles, skip: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(relative path, value) for every value in a name, content or link target under ``root``,
    bar its top-level entries ``skip``."""
    found = []
    for folder, folders, files in os.walk(root):
        if Path(folder) == root:
            folders[:] = [name for name in folders if name not in skip]
            files = [name for name in files if name not in skip]
        for path in sorted(Path(folder) / name for name in [*folders, *files]):
            found += _found_at(root, path, needles)
    return found


def _found_at(root: Path, path: Path, needles: Needles) -> list[tuple[str, str]]:
    """(relative path, value) for every value in ``path``'s name, content or link target."""
    name = path.relative_to(root).as_posix()
    found = [(name, value) for value in found_in(name, needles)]
    if path.is_symlink():
        found += [(name, value) for value in found_in(str(path.readlink()), needles)]
    elif path.is_file():
        found += [(name, value) for value in found_in(path.read_bytes(), needles)]
    return found
