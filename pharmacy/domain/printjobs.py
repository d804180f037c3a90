"""A print job's states (pure): every label sent to a printer is a job, and a job is never lost.

    queued ──send──► sent
       │
       └──fail──► failed ──retry──► queued (attempts + 1) ──► sent | failed …
                    └────cancel──► cancelled (with a reason)

A PDF download is sent the moment it is made (the PDF goes back in the same response). A job left
``queued`` longer than ``STALE_AFTER`` (the process stopped while sending) is treated as failed with
an unknown outcome: it may have printed.

The reprint counter (``LabelPrint``, REPRINT n) counts labels that came out or may have: a job that
failed before a byte reached the printer did not print, so its retry is still the same label (the
same number); a job that failed after bytes left may have printed, so that number is spent and a
retry prints the next one, marked REPRINT.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pharmacy.domain.errors import StateConflict
from pharmacy.domain.lifecycle import STATE_WORDS
from pharmacy.i18n import _, lazy, now


class JobState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The state as a person reads it, in the current language."""
        return now(_JOB_WORDS[self])


# (a cancelled order is the same word: one text to translate)
_JOB_WORDS: dict[JobState, str] = {JobState.QUEUED: lazy("queued"), JobState.SENT: lazy("sent"),
                                   JobState.FAILED: lazy("failed"), JobState.CANCELLED: STATE_WORDS["cancelled"]}


OPEN = frozenset({JobState.QUEUED, JobState.FAILED})  # not done: the label is still owed
STALE_AFTER = timedelta(minutes=2)

_MOVES = {
    (JobState.QUEUED, "send"): JobState.SENT,
    (JobState.QUEUED, "fail"): JobState.FAILED,
    (JobState.FAILED, "retry"): JobState.QUEUED,
    (JobState.FAILED, "cancel"): JobState.CANCELLED,
}


class PrintJobRefused(StateConflict):
    code = "print_job_refused"


def seen_state(state: str, updated_at: datetime, now: datetime) -> JobState:
    """A queued job nobody finished within ``STALE_AFTER`` is seen as failed (outcome unknown)."""
    current = JobState(state)
    if current is JobState.QUEUED and now - updated_at > STALE_AFTER:
        return JobState.FAILED
    return current


def move(state: JobState, event: str, job_id: int) -> JobState:
    try:
        return _MOVES[(state, event)]
    except KeyError:
        if state is JobState.QUEUED:
            raise PrintJobRefused(_("Print job {job} is being sent right now; wait a moment and reload. "
                                    "Nothing was changed.", job=job_id)) from None
        raise PrintJobRefused(_("Print job {job} is {state}: only a failed job can be retried or cancelled. "
                                "Nothing was changed.", job=job_id, state=state.label)) from None
