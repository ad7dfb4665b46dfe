"""Keyed pseudonyms (HMAC-SHA256) for patients, sequences, UIDs and per-patient date shifts.

The key file is the linkage secret: created on first use with mode 0600, kept outside
``results/`` (path in config ``linkage.key``) and never committed. The same key always gives the
same pseudonyms, so re-runs and the files of one study stay consistent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from dynbus.errors import DynbusError

KEY_BYTES = 32


def _create_key_file(path: Path, key: bytes) -> bool:
    """Write ``key`` to a new file (0600), complete or not at all; False if ``path`` exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def create_key(path: str | Path, key: bytes) -> None:
    """Write ``key`` to a new key file (mode 0600); an existing key file is never replaced.

    A file that already holds the same key is left as it is; one holding another key is an error.
    """
    if not _create_key_file(Path(path), key) and read_key(path) != key:
        raise DynbusError(f"{path}: holds another linkage key, which is never overwritten")


def demo_key(seed: int) -> bytes:
    """The linkage key of the synthetic demo study: public, derived from its seed."""
    return hashlib.sha256(f"dynbus synthetic demo {seed}".encode()).digest()


def read_key(path: str | Path) -> bytes:
    """Read the hex HMAC key at ``path``."""
    key_path = Path(path)
    text = key_path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as error:
        raise DynbusError(f"{key_path}: linkage key is not hex") from error
    if len(key) < 16:
        raise DynbusError(f"{key_path}: linkage key is shorter than 16 bytes")
    return key


def load_or_create_key(path: str | Path) -> bytes:
    """Read the hex HMAC key at ``path``, creating a random one (mode 0600) if it is missing."""
    if not Path(path).exists():
        _create_key_file(Path(path), secrets.token_bytes(KEY_BYTES))
    return read_key(path)


def _digest(key: bytes, domain: str, value: str) -> bytes:
    """HMAC of ``value``; a raw name that is not valid UTF-8 (surrogate escapes) as its bytes."""
    message = f"{domain}\x00{value}".encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).digest()


def patient_pseudonym(key: bytes, patient_id: str) -> str:
    """Pseudonymous patient id, e.g. ``P3f9a1c07b2``."""
    return "P" + _digest(key, "patient", patient_id).hex()[:10]


def sequence_pseudonym(key: bytes, series_uid: str) -> str:
    """Pseudonymous sequence id (from the raw SeriesInstanceUID), e.g. ``S0c44d2e9a1``."""
    return "S" + _digest(key, "sequence", series_uid).hex()[:10]


def file_pseudonym(key: bytes, relative_path: str) -> str:
    """Pseudonym of a raw file path, used to refer to a raw file in reports without PHI."""
    return "F" + _digest(key, "file", relative_path).hex()[:10]


def uid_pseudonym(key: bytes, uid: str) -> str:
    """Replacement DICOM UID (``2.25.<int>``, PS3.5 B.2), the same for the same original UID."""
    return "2.25." + str(int.from_bytes(_digest(key, "uid", uid)[:16], "big"))


def date_shift_days(key: bytes, patient_id: str, max_days: int) -> int:
    """Keyed per-patient date offset in ``[-max_days, max_days]``, never 0."""
    value = int.from_bytes(_digest(key, "date", patient_id)[:8], "big")
    shift = value % (2 * max_days + 1) - max_days
    return shift if shift != 0 else max_days
