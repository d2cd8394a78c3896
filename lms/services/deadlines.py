"""Deadlines: the due time a student works to, whether work is still accepted, and how late it is.

All times are aware datetimes; the decision is made on the server at receipt. Lateness is
measured in whole seconds (work received at 23:59:59.4 for a 23:59:59 deadline is on time) and
penalised per *started* day: one second late is one day late.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ..models import Assignment, Extension

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Deadline:
    """The rules one student's work is judged by."""

    due_at: datetime
    closes_at: datetime | None  # no submissions after this; None: late work accepted for ever
    penalty_per_day: Decimal
    extended: bool


@dataclass(frozen=True)
class Lateness:
    """How late work received at a given time is, and the penalty that follows."""

    late_days: int
    penalty_percent: Decimal

    @property
    def late(self) -> bool:
        return self.late_days > 0


def deadline_for(assignment: Assignment, extension: Extension | None = None, *,
                 extended_to: datetime | None = None) -> Deadline:
    """The deadline of ``assignment`` for a student, moved by their extension if they have one.

    The extension is given as the row or, when only its due time was loaded, as ``extended_to``.
    An extension moves the due time; with ``late.until`` the closing time moves by the same
    amount, so the student keeps the same late window after their new due time.
    """
    late = assignment.late or {}
    due = assignment.due_at
    if extension is not None:
        extended_to = extension.due_at
    shift = timedelta(0)
    if extended_to is not None and extended_to > due:
        shift = extended_to - due
        due = extended_to
    if late.get("policy") == "reject":
        closes = due
    elif late.get("until"):
        closes = datetime.fromisoformat(late["until"]) + shift
    else:
        closes = None
    return Deadline(due_at=due, closes_at=closes,
                    penalty_per_day=Decimal(str(late.get("penalty_per_day") or 0)),
                    extended=shift > timedelta(0))


def _whole_seconds(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def is_open(deadline: Deadline, at: datetime) -> bool:
    """Whether work received at ``at`` is still accepted."""
    return deadline.closes_at is None or _whole_seconds(at) <= deadline.closes_at


def lateness(deadline: Deadline, at: datetime) -> Lateness:
    """Days late (per started day) and penalty percent (capped at 100) for work received at ``at``."""
    over = (_whole_seconds(at) - deadline.due_at).total_seconds()
    if over <= 0:
        return Lateness(0, Decimal(0))
    days = math.ceil(over / DAY.total_seconds())
    return Lateness(days, min(Decimal(100), deadline.penalty_per_day * days))
