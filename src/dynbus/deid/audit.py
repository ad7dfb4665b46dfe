"""The de-identification audit: per output file, which tags changed and how (never values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.dataelem import DataElement


@dataclass
class Audit:
    """Actions taken on one file: ``record`` tag changes, ``pixels`` the Clean Pixel Data step."""

    output: str
    actions: list[dict[str, str]] = field(default_factory=list)
    pixels: dict[str, Any] = field(default_factory=dict)

    def record(self, where: str, elem: DataElement, action: str) -> None:
        """Note that the element at tag path ``where`` was ``action`` (removed, emptied, ...)."""
        keyword = "" if elem.tag.is_private else elem.keyword
        self.actions.append({"tag": where, "keyword": keyword, "action": action})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record of this file."""
        return {"output": self.output, "actions": self.actions, "pixels": self.pixels}
