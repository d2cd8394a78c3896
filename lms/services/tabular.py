"""Shared by the lists and exports: one page of rows, and safe, streamed CSV cells."""
from __future__ import annotations

import io
from dataclasses import dataclass


@dataclass
class Page:
    """One page of a longer list: its rows, its number, the page size and the total row count."""

    rows: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def safe_cell(text) -> str:
    """Free text for a CSV cell, with spreadsheet formulas neutralised (CSV injection)."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def drain(buffer: io.StringIO) -> str:
    """What a CSV writer put in ``buffer`` so far; the buffer is emptied for the next chunk."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
