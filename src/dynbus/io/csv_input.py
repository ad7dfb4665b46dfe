"""Read an input CSV table, turning every problem into an error that names the file."""

from __future__ import annotations

import warnings
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
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header
            table = pd.read_csv(path, index_col=False, **read_options)
    except pd.errors.ParserWarning as error:
        problem = "not a readable CSV (a row has more fields than the header)"
        raise InputFileError(path, problem) from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        problem = f"not a readable CSV ({' '.join(str(error).split())})"
        raise InputFileError(path, problem) from error
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputFileError(path, f"missing columns {', '.join(missing)}")
    return table
