"""What the collector's speed-ups and the scale benchmark's ideal must keep true. Behaviour, not timing
(bench/scale.py measures):

- IAM's policy documents are decoded exactly as botocore decodes them (`unquote_policy`, `decode_policies`),
  for every IAM operation's answer shape and any text;
- the benchmark's simulated organization enables catalog integrations (never named here), answers the
  delegated-administrator reads, and its ideal counts what SPEC14 says a perfect scanner calls.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.handlers import json_decode_policies
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.scale import ideal_calls_by_operation, ideal_seconds, organization_tasks
from bench.simulator import (
    BASE_ACCESS_KEY,
    BASE_SECRET_KEY,
    MANAGEMENT_ID,
    PAGE,
    SimulatedOrganization,
    integrations_for_bench,
    member_id,
)
from scanner.catalog import load_catalog
from scanner.collect import collect
from scanner.collect.session import Clients, decode_policies, unquote_policy
from scanner.config import Collection, Config
from scanner.rules import load_rules

RULES = load_rules([], builtin=True)
IAM = botocore.session.get_session().get_service_model("iam")


# --------------------------------------------------------------------------------------------
# Policy documents: the same answer as botocore's
# --------------------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list("%%%0123456789abcdefABCDEFxyz{}\":,\\ \u00e9\u20ac+/"))


@settings(max_examples=400, deadline=60_000)
@given(st.text(_ALPHABET, max_size=40))
def test_unquote_policy_is_unquote(text: str) -> None:
    assert unquote_policy(text) == urllib.parse.unquote(text)


@settings(max_examples=200, deadline=60_000)
@given(st.recursive(st.none() | st.booleans() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=12))
def test_an_encoded_document_round_trips(document: Any) -> None:
    quoted = urllib.parse.quote(json.dumps(document), safe="")
    assert unquote_policy(quoted) == urllib.parse.unquote(quoted) == json.dumps(document)


@pytest.mark.parametrize("value", [None, 7, b"%7B%7D", "%7", "%zz%41", "caf\u00e9%41", "%C3%A9", "%FF%FE", "\\x41%41"])
def test_unusual_values_are_unquoted_as_the_standard_library_does(value: Any) -> None:
    try:
        expected: Any = urllib.parse.unquote(value)
    except Exception as exc:  # not text: the same exception from both
        with pytest.raises(type(exc)):
            unquote_policy(value)
        return
    assert unquote_policy(value) == expected


def _answer(shape: Any, depth: int = 0) -> Any:
    """An answer holding every member of `shape`: every string a URL-encoded document (or text that is not
    one), lists of two items, so that a walk that misses or adds a member decodes differently."""
    if depth > 8:
        return None
    if shape.type_name == "structure":
        return {name: _answer(member, depth + 1) for name, member in shape.members.items()}
    if shape.type_name == "list":
        return [_answer(shape.member, depth + 1), _answer(shape.member, depth + 1)]
    if shape.type_name == "map":
        return {"k": _answer(shape.value, depth + 1)}
    if shape.type_name == "string":
        return urllib.parse.quote(json.dumps({"Statement": [{"Effect": "Allow", "Sid": shape.name}]}), safe="")
    return None


@pytest.mark.parametrize("operation", sorted(IAM.operation_names))
def test_every_iam_answer_is_decoded_as_botocore_decodes_it(operation: str) -> None:
    model = IAM.operation_model(operation)
    if model.output_shape is None:
        return
    answer = _answer(model.output_shape)
    ours, theirs = copy.deepcopy(answer), copy.deepcopy(answer)
    decode_policies(ours, model)
    json_decode_policies(theirs, model)
    assert ours == theirs


def test_an_iam_client_decodes_each_document_once() -> None:
    sim = SimulatedOrganization(2, latency=0)
    session = boto3.Session(aws_access_key_id=BASE_ACCESS_KEY, aws_secret_access_key=BASE_SECRET_KEY,
                            region_name="us-east-1")
    sim.install(session)
    iam = Clients(session, Collection(), "us-east-1").client("iam")
    handlers = [h for h in iam.meta.events._emitter._handlers.prefix_search("after-call.iam.ListRoles")]
    assert json_decode_policies not in handlers and decode_policies in handlers
    roles = iam.list_roles(MaxItems=1000)["Roles"]
    assert roles and all(isinstance(role["AssumeRolePolicyDocument"], dict) for role in roles)


# --------------------------------------------------------------------------------------------
# The benchmark's organization and its ideal
# --------------------------------------------------------------------------------------------


def _session(sim: SimulatedOrganization) -> boto3.Session:
    session = boto3.Session(aws_access_key_id=BASE_ACCESS_KEY, aws_secret_access_key=BASE_SECRET_KEY,
                            region_name="us-east-1")
    sim.install(session)
    return session


def test_the_bench_enables_catalog_integrations_with_roles_in_members_and_delegated_administrators() -> None:
    chosen = integrations_for_bench(10)
    catalog = load_catalog()
    assert len(chosen) == 10 and len({e.id for e in chosen}) == 10
    assert all(catalog[e.id] is e for e in chosen)
    assert any("members" in r.created_in for e in chosen for r in e.service_linked_roles)
    sim = SimulatedOrganization(45, latency=0, integrations=chosen)
    assert len(sim.enabled_principals) == 11  # Artifact's, always there, and the ten
    assert sim.member_roles and all(r.path.startswith("/aws-service-role/") for r in sim.member_roles)
    assert len(sim.management_roles) > len(chosen)  # some integrations own more than one role there

    orgs = _session(sim).client("organizations")
    enabled = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in enabled] == list(sim.enabled_principals)
    admins = orgs.list_delegated_administrators()["DelegatedAdministrators"]
    assert sorted(a["Id"] for a in admins) == sorted(sim.delegated) == [member_id(1), member_id(2)]
    for account, principals in sim.delegated.items():
        services = orgs.list_delegated_services_for_account(AccountId=account)["DelegatedServices"]
        assert tuple(s["ServicePrincipal"] for s in services) == principals
    with pytest.raises(orgs.exceptions.AccountNotRegisteredException):
        orgs.list_delegated_services_for_account(AccountId=member_id(3))


def test_the_ideal_counts_what_spec14_says_a_perfect_scanner_calls() -> None:
    chosen = integrations_for_bench(10)
    scope = tuple(e.id for e in load_catalog().integrations)
    accounts = 45  # 3 ListAccounts pages; member 200000000000 + n for n < 45: no legacy role
    sim = SimulatedOrganization(accounts, latency=0, integrations=chosen, legacy_every=0, scope=frozenset(scope))
    members = accounts - 1
    management_roles = len(sim.management_roles)
    ideal = ideal_calls_by_operation(sim, scope)
    assert ideal == {
        "sts:GetCallerIdentity": 1,
        "sts:AssumeRole": members,  # 2 calls per healthy member: AssumeRole ...
        "iam:ListRoles": accounts,  # ... and ListRoles; the management account's ListRoles too
        "organizations:DescribeOrganization": 1,
        "organizations:ListAWSServiceAccessForOrganization": 1,
        "organizations:ListAccounts": -(-accounts // PAGE),
        # 3 detail reads for each of the management account's service-linked roles, none for a member's
        "iam:GetRole": management_roles,
        "iam:ListAttachedRolePolicies": management_roles,
        "iam:ListRolePolicies": management_roles,
        "artifact:ListCustomerAgreements": 1,
        "organizations:ListDelegatedAdministrators": 1,
        "organizations:ListDelegatedServicesForAccount": len(sim.delegated),
    }
    assert [sim.ideal_calls(a) for a in sim.ids] == [1 + 3 * management_roles] + [2] * members
    # The delegated-administrator reads are made only for a scope holding an integration that supports one.
    unsupported = tuple(e.id for e in load_catalog().integrations if e.delegated_administrator.supported is False)
    assert "organizations:ListDelegatedAdministrators" not in ideal_calls_by_operation(sim, unsupported)
    # Those reads and trusted access are worker tasks of one latency each beside the accounts' own calls.
    assert organization_tasks(ideal) == 1 + 1 + 1 + len(sim.delegated)
    bounds = ideal_seconds([2] * 32, concurrency=16, latency=1.0, startup_calls=2, rates={}, api_calls={},
                           organization_tasks=0)
    assert bounds["ideal"] == 2 + 1 + 2 * 2  # start-up, the one page, two rounds of 16 workers


def test_a_collection_of_the_bench_organization_reads_what_the_ideal_counts_at_least() -> None:
    """The simulated endpoint answers every read the collector makes there (nothing unanswered, nothing
    refused), and the collector makes at least the ideal's calls for each operation it calls today."""
    chosen = integrations_for_bench(10)
    scope = tuple(e.id for e in load_catalog().integrations)
    sim = SimulatedOrganization(6, latency=0, integrations=chosen, scope=frozenset(scope))
    snapshot = collect(Config(), rules_sha256=RULES.sha256, session=_session(sim), integrations=scope)
    assert snapshot.metadata.complete, [e for a in snapshot.accounts for e in a.errors]
    ideal = ideal_calls_by_operation(sim, scope)
    for api, calls in sim.calls.items():
        assert calls >= ideal.get(api, 0), api
    management = next(a for a in snapshot.accounts if a.id == MANAGEMENT_ID)
    kept = {str(r.role["RoleName"]) for r in management.roles}
    assert {r.name for r in sim.management_roles} <= kept
