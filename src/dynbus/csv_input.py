"""Read an input CSV table, turning every problem into an error that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dynbus.errors import InputFileError


def read_csv_checked(path: str | Path, columns: list[str], **read_options: Any) -> pd.DataFrame:
    """Read ``path`` with pandas; raise ``InputFileError`` if it is missing, unreadable or lacks
    one of ``columns``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file not found")
    if path.stat().st_size == 0:
        raise InputFileError(path, f"empty file (expected a header line: {','.join(columns)})")
    try:
        table = pd.read_csv(path, **read_options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputFileError(path, f"not a readable CSV ({error})") from error
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputFileError(path, f"missing columns {', '.join(missing)}")
    return table
