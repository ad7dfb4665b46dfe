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


def write_key(path: str | Path, key: bytes) -> None:
    """Write ``key`` as hex to ``path`` with mode 0600, atomically (replacing any old key)."""
    key_path = Path(path)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key.", dir=key_path.parent)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    os.replace(tmp, key_path)


def demo_key(seed: int) -> bytes:
    """The linkage key of the synthetic demo study: public, derived from its seed."""
    return hashlib.sha256(f"dynbus synthetic demo {seed}".encode()).digest()


def load_or_create_key(path: str | Path) -> bytes:
    """Read the hex HMAC key at ``path``, creating a random one (mode 0600) if it is missing."""
    key_path = Path(path)
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    text = key_path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as error:
        raise DynbusError(f"{key_path}: linkage key is not hex") from error
    if len(key) < 16:
        raise DynbusError(f"{key_path}: linkage key is shorter than 16 bytes")
    return key


def _digest(key: bytes, domain: str, value: str) -> bytes:
    return hmac.new(key, f"{domain}\x00{value}".encode(), hashlib.sha256).digest()


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
