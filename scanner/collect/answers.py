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


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer is read for: `owner` is the account every ARN in it must name (None: no owner)."""

    api: str
    owner: str | None = None


Check = Callable[[Any, str, Reading], None]
Spec = Any  # type | tuple[type, ...] | dict[str, Spec] | list[Spec] | Check


def _account_id(value: Any, path: str, reading: Reading) -> None:
    if not (isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit()):
        raise AnswerError(f"{path} is not an account id: {_short(value)}")


def _arn_account(value: Any, path: str) -> str:
    parts = value.split(":", 5) if isinstance(value, str) else []
    if len(parts) < 6 or parts[0] != "arn":
        raise AnswerError(f"{path} is not an ARN: {_short(value)}")
    return parts[4]


def _owned_arn(value: Any, path: str, reading: Reading) -> None:
    """An ARN in the account being read: another account's answer is never taken for this one's."""
    account = _arn_account(value, path)
    if reading.owner is not None and account != reading.owner:
        raise AnswerError(f"the answer belongs to account {account or '(none)'}, not {reading.owner}: {path} is {value}")


def _document(value: Any, path: str, reading: Reading) -> None:
    # botocore decodes IAM's URL-encoded policy documents into objects; one it could not decode stays text.
    if not isinstance(value, (str, Mapping)):
        raise AnswerError(f"{path} is not a policy document: {_short(value)}")


_STRING = str
_TIMESTAMP = (datetime, str)

_ACCOUNT_FIELDS: dict[str, Spec] = {"Id": _account_id, "Arn": str, "State|Status": str}


def _account(value: Any, path: str, reading: Reading) -> None:
    """An Organizations account entry: its Arn ends in its own id, and DescribeAccount answers the one asked."""
    _check(_ACCOUNT_FIELDS, value, path, reading)
    account_id, arn = value["Id"], value["Arn"]
    _arn_account(arn, f"{path}.Arn")
    if not arn.endswith(f"/{account_id}"):
        raise AnswerError(f"{path}.Arn {arn} does not name account {account_id}")
    if reading.owner is not None and account_id != reading.owner:
        raise AnswerError(f"the answer belongs to account {account_id}, not {reading.owner}")


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
    "iam:ListRoles": {"Roles": [_ROLE], "IsTruncated": bool},
    "iam:GetRole": {"Role": _ROLE},
    "iam:ListAttachedRolePolicies": {"AttachedPolicies": [{"PolicyArn": str}], "IsTruncated": bool},
    "iam:ListRolePolicies": {"PolicyNames": [str], "IsTruncated": bool},
    "iam:GetRolePolicy": {"RoleName": str, "PolicyName": str, "PolicyDocument": _document},
    "artifact:ListCustomerAgreements": {"customerAgreements": [{"id": str, "arn": str, "state": str}]},
}
"""api ("service:Operation") -> the spec of its answer."""


def check(reading: Reading, answer: Any) -> None:
    """Raise `AnswerError` unless `answer` holds everything `ANSWERS` declares for `reading.api`.

    An operation without a declaration is refused too: the collector must not call what it cannot check."""
    spec = ANSWERS.get(reading.api)
    if spec is None:
        raise AnswerError(f"no declaration of what {reading.api} answers (scanner.collect.answers.ANSWERS)")
    _check(spec, answer, "the answer", reading)


def _check(spec: Spec, value: Any, path: str, reading: Reading) -> None:
    if isinstance(spec, dict):
        if not isinstance(value, Mapping):
            raise AnswerError(f"{path} is not an object: {_short(value)}")
        for key, item_spec in spec.items():
            names = key.split("|")
            present = [name for name in names if value.get(name) is not None]
            if not present:
                raise AnswerError(f"{path} has no {' or '.join(names)}")
            for name in present:
                _check(item_spec, value[name], f"{path}.{name}" if path != "the answer" else name, reading)
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise AnswerError(f"{path} is not a list: {_short(value)}")
        (item_spec,) = spec
        for index, item in enumerate(value):
            _check(item_spec, item, f"{path}[{index}]", reading)
    elif isinstance(spec, (type, tuple)):
        # bool is an int in Python; no field here takes a number, so a plain isinstance is exact.
        if not isinstance(value, spec):
            # Never quote what might be a credential: the message is recorded before any secret is known.
            shown = "" if "Credentials" in path else f": {_short(value)}"
            raise AnswerError(f"{path} is not {_kind(spec)}{shown}")
    else:
        spec(value, path, reading)


def _kind(spec: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "true or false", datetime: "a timestamp"}
    kinds = spec if isinstance(spec, tuple) else (spec,)
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
