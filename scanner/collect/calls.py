"""What each AWS caller calls, where, and for which integrations: the declarations the printed IAM
policies (`artifact-scan permissions`, scanner.collect.permissions) are derived from.

A reader module (and the Security Hub publisher) declares its `Calls` beside the calls it makes, so that
adding a call and allowing it are one edit; a test records every call a moto scan makes for a rule set and
compares it with the policy derived for that rule set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Where = Literal["management", "every account"]


@dataclass(frozen=True, slots=True)
class Calls:
    sid: str  # the statement of the printed policy that allows them
    actions: tuple[str, ...]  # "service:Operation", as IAM names them
    # "management": made with the management account's credentials only; "every account": in every
    # scanned account (the member role's credentials, and the management account's own)
    where: Where
    # Made only when the loaded rules apply to one of these catalog integrations; None: for any rule set
    integrations: frozenset[str] | None = None
    resource: str = "*"

    def needed_for(self, integrations: Iterable[str]) -> bool:
        return self.integrations is None or not self.integrations.isdisjoint(integrations)
