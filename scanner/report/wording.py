"""The words every writer uses for suppressions and baseline states, so that a finding reads the same in
the console, the HTML page, Markdown, JUnit, SARIF, OSCAL, ASFF and OCSF.

Each function is one sentence or phrase; writers may escape, shorten or prefix it for their format, never
reword it (tests/test_report_wording.py checks every writer's output for these sentences).
"""

from __future__ import annotations

from typing import Literal

from scanner.model import Suppression


def scope(s: Suppression) -> str:
    """"account 111122223333, resources matching arn:aws:iam::*:role/x*" or "every account"."""
    account = f"account {s.account_id}" if s.account_id else "every account"
    return account + (f", resources matching {s.resource}" if s.resource else "")


def entry(s: Suppression) -> str:
    """Which entry of the suppressions file: its file:line when known, else its rule and scope."""
    return s.source or f"{s.rule_id} ({scope(s)})"


def details(s: Suppression) -> str:
    """Everything an entry says, for lists of entries."""
    return f"rule {s.rule_id}, {scope(s)}, owner {s.owner}, expires {s.expires}, reason: {s.reason}"


def accepted(s: Suppression) -> str:
    """A suppressed result: the failure is an accepted risk, until when, by whom, why."""
    return f"suppressed until {s.expires} by {s.owner}: {s.reason}"


def expiry(s: Suppression) -> str:
    """The core of every expired-suppression sentence."""
    return f"suppression {entry(s)} expired on {s.expires}"


def expired(s: Suppression) -> str:
    """A failure whose matching suppression has expired: it fails (and counts) again."""
    return f"{expiry(s)}, so this failure is no longer accepted"


def expired_entry(s: Suppression, failing: int) -> str:
    """An expired entry in a list of entries, with how many failures it no longer accepts."""
    return f"{expiry(s)}: {failing} failure{' fails' if failing == 1 else 's fail'} again"


def unused(s: Suppression) -> str:
    """An entry that matched no failure of the run."""
    return f"suppression {entry(s)} matched no failure of this run"


def baseline_state(state: Literal["new", "unchanged"], first_seen: str | None) -> str:
    """A finding compared with the baseline run."""
    return f"{state} since the baseline" + (f" (first seen {first_seen})" if first_seen else "")
