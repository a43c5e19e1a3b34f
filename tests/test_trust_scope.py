"""Trust facts search only the integrations a trust policy can concern, and answer exactly as a search of all.

scanner.policy skips the search for an integration whose principals the policy does not name when no service
it does not name can be allowed; the entry it gives such an integration must be the one the search would
have given. Checked against the search of every integration, over hand-picked policies (the catalog's
principals in odd spellings, wildcards, NotPrincipal, Deny) and generated ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import integrations, policy

ORG = policy.OrganizationContext("o-exampleorg1", "111111111111", frozenset({"111111111111", "222222222222"}))
EVERY = integrations.principals_by_integration(integrations.scope(integrations.integration_ids()))
SOME = {i: EVERY[i] for i in ("artifact", "config", "guardduty", "ssm", "cloudformation", "ec2")}


def _full(document: dict[str, Any], table: Any) -> dict[str, Any]:
    """The facts with every integration searched (the prefilter switched off)."""
    original = policy._concerned
    policy._concerned = lambda _policy, _anyone, pairs: {i for i, _ in pairs}
    policy._trust_facts_text.cache_clear()
    try:
        return policy.trust_facts(document, ORG, table)
    finally:
        policy._concerned = original
        policy._trust_facts_text.cache_clear()


def _allow(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


PINNED = {"StringEquals": {"aws:SourceAccount": "222222222222"}}
DOCUMENTS = {
    "service_linked_role": [_allow({"Service": "guardduty.amazonaws.com"})],
    "upper_case_service": [_allow({"Service": "GuardDuty.AmazonAWS.com"})],
    "padded_service": [_allow({"Service": [" config.amazonaws.com ", "ec2.amazonaws.com"]})],
    "pinned": [_allow({"Service": "config.amazonaws.com"}, Condition=PINNED)],
    "everyone": [_allow("*")],
    "every_aws_principal": [_allow({"AWS": "*"})],
    "service_pattern": [_allow({"Service": "guard*.amazonaws.com"})],
    "one_char_pattern": [_allow({"Service": "ec?.amazonaws.com"})],
    "not_principal": [{"Effect": "Allow", "NotPrincipal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    "unreadable_principal": [_allow(["guardduty.amazonaws.com"])],
    "denied": [_allow({"Service": "guardduty.amazonaws.com"}), {**_allow("*"), "Effect": "Deny"}],
    "account_only": [_allow({"AWS": "arn:aws:iam::999999999999:root"})],
    "wildcard_action": [_allow({"Service": "member.org.stacksets.cloudformation.amazonaws.com"}, "*")],
    "unrelated_service": [_allow({"Service": "lambda.amazonaws.com"})],
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_facts_are_those_of_a_search_of_every_integration(name: str) -> None:
    document = {"Version": "2012-10-17", "Statement": DOCUMENTS[name]}
    policy._trust_facts_text.cache_clear()
    assert policy.trust_facts(document, ORG, EVERY) == _full(document, EVERY)


def test_an_integration_the_policy_does_not_name_is_not_searched() -> None:
    searched: list[str] = []
    original = policy._integration_facts

    def spy(policy_: Any, anyone: Any, foreign: Any, names: tuple[str, ...]) -> dict[str, Any]:
        searched.extend(names)
        return original(policy_, anyone, foreign, names)

    policy._integration_facts = spy  # type: ignore[assignment]
    policy._trust_facts_text.cache_clear()
    try:
        facts = policy.trust_facts(
            {"Statement": DOCUMENTS["service_linked_role"]}, ORG, EVERY
        )
    finally:
        policy._integration_facts = original  # type: ignore[assignment]
        policy._trust_facts_text.cache_clear()
    assert searched == list(EVERY["guardduty"])
    assert set(facts["integrations"]) == set(EVERY)  # every integration still has its entry
    assert facts["integrations"]["ssm"] == {"principals": [], "trusted": False, "statements": [], "pinned": True}


_SERVICES = st.sampled_from(
    ["guardduty.amazonaws.com", "GUARDDUTY.amazonaws.com", "config.amazonaws.com", "ssm.amazonaws.com",
     "accountdiscovery.ssm.amazonaws.com", "artifact.amazonaws.com", "ec2.amazonaws.com", "lambda.amazonaws.com",
     "unnamed.amazonaws.com", "*", "guard*", "ec?.amazonaws.com"]
)
_PRINCIPALS = st.one_of(
    st.just("*"),
    st.builds(lambda names: {"Service": names}, st.lists(_SERVICES, min_size=1, max_size=3)),
    st.just({"AWS": "*"}),
    st.just({"AWS": "arn:aws:iam::999999999999:root"}),
)
_STATEMENTS = st.builds(
    lambda effect, element, principal, action, pinned: {
        "Effect": effect, element: principal, "Action": action, **({"Condition": PINNED} if pinned else {})
    },
    st.sampled_from(["Allow", "Allow", "Deny"]),
    st.sampled_from(["Principal", "Principal", "NotPrincipal"]),
    _PRINCIPALS,
    st.sampled_from(["sts:AssumeRole", "sts:*", "sts:TagSession"]),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STATEMENTS, min_size=1, max_size=3))
def test_generated_policies_get_the_facts_of_a_full_search(statements: list[dict[str, Any]]) -> None:
    document = {"Version": "2012-10-17", "Statement": statements}
    policy._trust_facts_text.cache_clear()
    assert policy.trust_facts(document, ORG, SOME) == _full(document, SOME)
