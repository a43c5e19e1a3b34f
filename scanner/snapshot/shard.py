"""Which shard of a split scan reads an account: `sha256(account id) mod n`, stable across runs, machines and
Python versions. Its own module because the collector (which reads one shard), the snapshot (which checks
that it holds its shard's accounts) and the merge (which checks that shards cover the organization exactly
once) all need it, and none of them should import another for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: expected 1 <= i <= n")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`i/n` with 1 <= i <= n; ValueError with the reason otherwise."""
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ValueError(f"invalid shard {text!r}: expected i/n, for example 2/8")
        index, count = int(parts[0]), int(parts[1])
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"invalid shard {text!r}: expected 1 <= i <= n")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, account_id: str) -> bool:
        return shard_of(account_id, self.count) == self.index


def shard_of(account_id: str, count: int) -> int:
    """The 1-based shard that scans `account_id` when a scan is split `count` ways."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1
