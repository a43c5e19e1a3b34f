"""What the trust-policy evaluator costs: per role, and for a 10,000-account organization.

    python bench/trust_eval.py                  # per-role cost, then 10,000 accounts
    python bench/trust_eval.py --accounts 1000

Per role: `scanner.policy._trust_facts` (the evaluator's searches, uncached) timed with timeit over the
demo's trust policies and over worst-case documents (many statements, many wildcards, Deny statements
whose conditions must be combined). Organization: a snapshot of N accounts, each with the service-linked
role or a pinned reader and an unpinned one (distinct account ids in their conditions, so not every
document is the same), evaluated with the built-in rules as `scan --snapshot` does; the budget is
bench/scale.py's evaluation budget (3 s at 10,000 accounts).
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner import demo, policy
from scanner.evaluate import evaluate
from scanner.rules import load_rules
from tests.test_rule_cases import build_snapshot

ORG = policy.OrganizationContext("o-exampleorg1", "111111111111", frozenset({"111111111111", "222222222222"}))
ARTIFACT = {"Service": "artifact.amazonaws.com"}


def worst_cases() -> dict[str, dict[str, Any]]:
    stars = "sts:" + "*" * 20 + "AssumeRole"
    return {
        "50 Allows, 20-star actions, wildcard ARNs": {"Statement": [
            {"Effect": "Allow", "Principal": ARTIFACT, "Action": stars,
             "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:*:*:{100000000000 + i}:*"}}}
            for i in range(50)
        ]},
        "1 Allow, 30 Denies of 3 conditions each": {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:*"},
            *({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
               "Condition": {"StringNotLike": {"aws:SourceAccount": f"{i}*"},
                             "StringLike": {"aws:SourceOrgID": f"o-{i}*"},
                             "ForAnyValue:StringNotLike": {"aws:SourceOrgPaths": f"o-{i}/*"}}}
              for i in range(30)),
        ]},
        "pinned by a negated Deny, 20 Allows": {"Statement": [
            *({"Effect": "Allow", "Principal": ARTIFACT, "Action": ["sts:AssumeRole", "sts:TagSession"],
               "Condition": {"StringLike": {"aws:SourceAccount": f"{i}??*"}}} for i in range(20)),
            {"Effect": "Deny", "Principal": "*", "Action": "*",
             "Condition": {"StringNotEqualsIfExists": {"aws:SourceOrgID": "o-exampleorg1"},
                           "Null": {"aws:SourceOrgID": "false"}}},
        ]},
    }


def demo_trusts() -> dict[str, dict[str, Any]]:
    specs = [demo.SERVICE_LINKED_ROLE, demo.LEGACY_ROLE, demo.LOOKALIKE_SERVICE_LINKED_ROLE,
             demo.widened_service_linked_role(), demo.pinned_reader("111111111111"), demo.WILDCARD_READER]
    return {f"{spec.name} ({spec.path})" + (" widened" if i == 3 else ""): dict(spec.trust) for i, spec in enumerate(specs)}


def per_role(documents: dict[str, dict[str, Any]], number: int) -> None:
    for name, document in documents.items():
        seconds = timeit.timeit(lambda d=document: policy._trust_facts(d, ORG), number=number) / number
        print(f"  {seconds * 1000:8.2f} ms  {name}")


def organization(accounts: int) -> float:
    roles = []
    for n in range(accounts):
        account = f"{300000000000 + n}"
        roles.append({"name": f"ArtifactReader{n}", "path": "/", "trust": {"Statement": [{
            "Effect": "Allow", "Principal": ARTIFACT, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}})
    snapshot = build_snapshot({"roles": roles})
    ruleset = load_rules()
    started = time.perf_counter()
    evaluate(ruleset, snapshot, run_id="bench")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--number", type=int, default=50, help="timeit repetitions per document")
    args = parser.parse_args()
    print("per role (uncached _trust_facts):")
    per_role(demo_trusts(), args.number)
    per_role(worst_cases(), max(1, args.number // 10))
    seconds = organization(args.accounts)
    print(f"evaluation of {args.accounts} roles with distinct trust policies (one member account "
          f"holding them all, built-in rules): {seconds:.2f} s (budget at 10,000 accounts: 3 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
