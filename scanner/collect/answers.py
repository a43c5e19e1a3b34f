"""What every answer the collector uses must contain, checked before it becomes data.

The scanner's silence is only worth something if an answer that was not really read can never pass: an
HTTP 200 with an empty body, `{}`, an entry without the field a fact is built from, or another account's
roles would otherwise be read as "nothing there" (and a rule would pass on it) or crash the scan. So
every operation the collector calls has ONE declaration here (`ANSWERS`) of the members its answer
must hold and, per item, the fields the facts use. An empty list is a legitimate answer when its member
is present (`"Accounts": []` on a last page); a missing member is not.

`check()` raises `AnswerError` naming the first problem; `scanner.collect.session` calls it on every
answer (botocore's `after-call` event) and records the failure as `MalformedAnswer` for that read, so
the results that need it become `error`. Nothing here talks to AWS.

The spec language is plain data: a type (or tuple of types) is an isinstance check; a dict is an
object whose keys are all required (a key "A|B" needs at least one of A and B); a one-item list is a
list whose every item matches that item's spec; a callable is a custom check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class AnswerError(Exception):
    """An answer that does not hold what the collector needs; the message names the place."""


class _Problem(Exception):
    """Raised inside the checks; each enclosing level adds its step of the path on the way out, so that
    an answer that is fine costs no message and no path."""

    def __init__(self, what: str, value: Any = None, *, show: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.value = value
        self.show = show
        self.path: list[str] = []


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer is read for: `owner` is the account every ARN in it must name (None: no owner)."""

    api: str
    owner: str | None = None


Check = Callable[[Any, "Reading"], None]
Spec = Any  # type | tuple[type, ...] | dict[str, Spec] | list[Spec] | Check


def _account_id(value: Any, reading: Reading) -> None:
    if not (isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit()):
        raise _Problem("is not an account id", value, show=True)


def _arn_account(value: Any) -> str:
    parts = value.split(":", 5) if isinstance(value, str) else []
    if len(parts) < 6 or parts[0] != "arn":
        raise _Problem("is not an ARN", value, show=True)
    return parts[4]


def _owned_arn(value: Any, reading: Reading) -> None:
    """An ARN in the account being read: another account's answer is never taken for this one's."""
    account = _arn_account(value)
    if reading.owner is not None and account != reading.owner:
        raise _Problem(f"is {value}: the answer belongs to account {account or '(none)'}, not {reading.owner}")


def _document(value: Any, reading: Reading) -> None:
    # botocore decodes IAM's URL-encoded policy documents into objects; one it could not decode stays text.
    if not isinstance(value, (str, Mapping)):
        raise _Problem("is not a policy document", value, show=True)


_TIMESTAMP = (datetime, str)


def _account(value: Any, reading: Reading) -> None:
    """An Organizations account entry: its Arn ends in its own id, and DescribeAccount answers the one asked."""
    _ACCOUNT_FIELDS(value, reading)
    account_id, arn = value["Id"], value["Arn"]
    _arn_account(arn)
    if not arn.endswith(f"/{account_id}"):
        raise _Problem(f"has an Arn ({arn}) that does not name account {account_id}")
    if reading.owner is not None and account_id != reading.owner:
        raise _Problem(f"is account {account_id}: the answer belongs to account {account_id}, not {reading.owner}")


def _kind(spec: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "true or false", datetime: "a timestamp"}
    kinds = spec if isinstance(spec, tuple) else (spec,)
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)


def _compile(spec: Spec) -> Check:
    """The spec as one function, built once: checking a 1,000-role page is a loop of isinstance calls."""
    if isinstance(spec, dict):
        members = [(tuple(key.split("|")), _compile(item)) for key, item in spec.items()]

        def check_object(value: Any, reading: Reading) -> None:
            if not isinstance(value, Mapping):
                raise _Problem("is not an object", value, show=True)
            for names, check in members:
                found = False
                for name in names:
                    item = value.get(name)
                    if item is not None:
                        found = True
                        try:
                            check(item, reading)
                        except _Problem as problem:
                            problem.path.insert(0, f".{name}")
                            raise
                if not found:
                    raise _Problem(f"has no {' or '.join(names)}")

        return check_object
    if isinstance(spec, list):
        (item_spec,) = spec
        check_item = _compile(item_spec)

        def check_list(value: Any, reading: Reading) -> None:
            if not isinstance(value, list):
                raise _Problem("is not a list", value, show=True)
            for index, item in enumerate(value):
                try:
                    check_item(item, reading)
                except _Problem as problem:
                    problem.path.insert(0, f"[{index}]")
                    raise

        return check_list
    if isinstance(spec, (type, tuple)):
        kind = _kind(spec)

        def check_type(value: Any, reading: Reading) -> None:
            # bool is an int in Python; no field here takes a number, so a plain isinstance is exact.
            if not isinstance(value, spec):
                raise _Problem(f"is not {kind}", value, show=True)

        return check_type
    checker: Check = spec
    return checker


_ACCOUNT_FIELDS = _compile({"Id": _account_id, "Arn": str, "State|Status": str})
_ROLE: dict[str, Spec] = {"RoleName": str, "Arn": _owned_arn, "Path": str, "AssumeRolePolicyDocument": _document}

ANSWERS: Mapping[str, Spec] = {
    "sts:GetCallerIdentity": {"Account": _account_id, "Arn": str, "UserId": str},
    # The identity AssumeRole hands out must be the target account's (owner: the RoleArn's account).
    "sts:AssumeRole": {
        "Credentials": {"AccessKeyId": str, "SecretAccessKey": str, "SessionToken": str, "Expiration": _TIMESTAMP},
        "AssumedRoleUser": {"Arn": _owned_arn},
    },
    "organizations:DescribeOrganization": {
        "Organization": {"Id": str, "Arn": str, "FeatureSet": str, "MasterAccountId": _account_id},
    },
    "organizations:ListAWSServiceAccessForOrganization": {"EnabledServicePrincipals": [{"ServicePrincipal": str}]},
    "organizations:ListAccounts": {"Accounts": [_account]},
    "organizations:DescribeAccount": {"Account": _account},
    "organizations:ListAccountsForParent": {"Accounts": [{"Id": _account_id}]},
    "organizations:ListOrganizationalUnitsForParent": {"OrganizationalUnits": [{"Id": str}]},
    # Which account administers a service, and whether it is ACTIVE: the facts the rules need.
    "organizations:ListDelegatedAdministrators": {"DelegatedAdministrators": [{"Id": _account_id, "Status|State": str}]},
    "organizations:ListDelegatedServicesForAccount": {"DelegatedServices": [{"ServicePrincipal": str}]},
    "iam:ListRoles": {"Roles": [_ROLE], "IsTruncated": bool},
    "iam:GetRole": {"Role": _ROLE},
    "iam:ListAttachedRolePolicies": {"AttachedPolicies": [{"PolicyArn": str}], "IsTruncated": bool},
    "iam:ListRolePolicies": {"PolicyNames": [str], "IsTruncated": bool},
    "iam:GetRolePolicy": {"RoleName": str, "PolicyName": str, "PolicyDocument": _document},
    "artifact:ListCustomerAgreements": {"customerAgreements": [{"id": str, "arn": str, "state": str}]},
}
"""api ("service:Operation") -> the spec of its answer."""

_CHECKS = {api: _compile(spec) for api, spec in ANSWERS.items()}


def check(reading: Reading, answer: Any) -> None:
    """Raise `AnswerError` unless `answer` holds everything `ANSWERS` declares for `reading.api`.

    An operation without a declaration is refused too: the collector must not call what it cannot check."""
    checker = _CHECKS.get(reading.api)
    if checker is None:
        raise AnswerError(f"no declaration of what {reading.api} answers (scanner.collect.answers.ANSWERS)")
    try:
        checker(answer, reading)
    except _Problem as problem:
        path = "".join(problem.path).lstrip(".") or "the answer"
        # Never quote what might be a credential: the message is recorded before any secret is known.
        shown = f": {_short(problem.value)}" if problem.show and "Credentials" not in path else ""
        raise AnswerError(f"{path} {problem.what}{shown}") from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
