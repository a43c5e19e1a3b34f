"""Client-side rate limits shared by every worker, bounded retries, and the counts a run reports.

AWS throttles per account and per API with token buckets whose sizes are not published (aws-facts.md
section 7). The scanner therefore paces itself: one `RateLimiter` per AWS API bucket it draws from
(`sts`, `organizations` and `artifact` in the management account, `iam` in each account), shared by
every worker thread. Each request waits for a token before it is sent. A throttling answer from AWS
lowers that limiter's rate to just below the rate at which answers were getting through, so every
worker sharing the limit slows down, not only the one that was throttled; the rate then grows back
linearly towards the configured maximum, probing for what AWS allows (see `RateLimiter`).

Retries happen in botocore's retry loop, but botocore's own retry policy is switched off
(`total_max_attempts: 1`) and `RetryPolicy` decides instead, with one bound (`collection.max_attempts`,
the first attempt included) for both kinds of failure:

- throttling (`Throttling`, `TooManyRequestsException`, HTTP 429, ...): the limiter is slowed and
  the call is retried as soon as the limiter gives it a token, after a short jittered pause;
- transient failures (connection errors, timeouts, HTTP 5xx): exponential backoff with full jitter
  (1 s base, 20 s cap), as botocore's standard mode does.

Why not botocore's own modes: their rate limiting (adaptive mode) and retry quota (standard mode: a
budget of 500 that each retry draws from, per client) are per client, and every worker shares one
client per service here, so the quota would run dry in a long throttled scan and stop retrying even
transport errors; and their retries are not counted.

`CallStats` counts every call, retry and throttling answer by operation; the snapshot records them.
Nothing here talks to AWS: `scanner.collect.session.Instrumentation` attaches these to botocore
clients through their events.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError

from scanner.config import DEFAULT_MAX_REQUESTS_PER_SECOND

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
"""Error codes AWS uses for "too many requests" (botocore's standard mode treats the same as throttling)."""

TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})

SERVICES = tuple(DEFAULT_MAX_REQUESTS_PER_SECOND)
"""The APIs the collector calls, each with its own limit (`iam` is per account); defaults and the reasons
for them are in scanner.config and config.example.yaml."""


class RateLimiter:
    """A token bucket whose rate adapts to throttling, around a configured maximum.

    The bucket holds up to one second of tokens (AWS's buckets allow bursts of about their rate), so a
    short scan is not slowed at all. `acquire()` blocks the calling thread until its request may be
    sent. `succeeded()` records each answer that got through; `throttled()` then sets the rate just
    below the rate at which answers got through over the last `WINDOW` seconds (what AWS actually
    allows), and at most to `DECREASE` times the current rate; with nothing getting through, it halves
    the rate. It reacts once per round of requests: answers to requests sent before the last decrease
    are ignored, because they were sent at the old rate. Between throttling answers the rate grows
    back linearly (`RECOVERY` of itself per second) towards the configured maximum, probing for
    more, like TCP's congestion control.
    """

    DECREASE = 0.9  # at most this fraction of the current rate after a throttling answer
    MARGIN = 0.9  # below the measured rate of answers that got through (room for jitter)
    WINDOW = 1.0  # seconds of answers the measurement looks at
    RECOVERY = 0.05  # the rate grows back by this fraction of the rate set at the decrease, per second

    def __init__(
        self,
        max_rate: float,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate}")
        self.name = name
        self.max_rate = float(max_rate)
        self._floor = min(0.5, self.max_rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate = self.max_rate
        self._growth = 0.0  # tokens per second per second while recovering; 0 at the maximum
        self._created = self._updated = clock()
        self._decreased_at = float("-inf")
        self._successes: deque[float] = deque()
        # GCRA: the theoretical arrival time of the next request; tokens = burst - (tat - now) * rate.
        self._tat = self._updated

    @property
    def rate(self) -> float:
        with self._lock:
            self._recover(self._clock())
            return self._rate

    def acquire(self) -> float:
        """Wait for a token. Returns when the token was reserved (`clock` time), which `throttled` compares
        with its last decrease: a thread may have reserved its slot at the old rate and still be waiting
        for it when the rate comes down."""
        with self._lock:
            now = self._clock()
            self._recover(now)
            interval = 1.0 / self._rate
            burst = max(1.0, self._rate) * interval  # one second of tokens, at least one
            start = max(now, self._tat - burst + interval)
            self._tat = max(self._tat, now) + interval
            wait = start - now
        if wait > 0:
            self._sleep(wait)
        return now

    def succeeded(self) -> None:
        """An answer that was not throttled: AWS let it through."""
        with self._lock:
            now = self._clock()
            self._successes.append(now)
            self._forget(now)

    def throttled(self, reserved_at: float) -> bool:
        """A request whose token was reserved at `reserved_at` (what `acquire` returned) was throttled;
        True when that lowered the rate."""
        with self._lock:
            if reserved_at < self._decreased_at:
                return False  # paced at the rate before the last decrease: already reacted to
            now = self._clock()
            self._recover(now)
            self._forget(now)
            window = min(self.WINDOW, now - self._created)
            measured = len(self._successes) / window if window > 0 and self._successes else 0.0
            target = measured * self.MARGIN if measured else self._rate / 2
            self._rate = max(self._floor, min(self._rate * self.DECREASE, target))
            self._growth = self._rate * self.RECOVERY
            self._decreased_at = now
            self._updated = now
            # AWS's bucket is empty now: start paced at the new rate, with no tokens saved up.
            self._tat = max(self._tat, now + max(1.0, self._rate) / self._rate)
            return True

    def _forget(self, now: float) -> None:
        horizon = now - self.WINDOW
        while self._successes and self._successes[0] < horizon:
            self._successes.popleft()

    def _recover(self, now: float) -> None:
        if self._growth and now > self._updated:
            self._rate = min(self.max_rate, self._rate + self._growth * (now - self._updated))
            if self._rate >= self.max_rate:
                self._growth = 0.0
        self._updated = now


class Limits:
    """Every limiter of one scan: one per API in the management account, one per account for IAM."""

    def __init__(
        self,
        max_requests_per_second: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rates = {**DEFAULT_MAX_REQUESTS_PER_SECOND, **dict(max_requests_per_second or {})}
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._shared: dict[str, RateLimiter] = {}
        self._per_account: dict[str, RateLimiter] = {}

    def limiter(self, service: str, account_id: str | None = None) -> RateLimiter | None:
        """The limiter a call to `service` draws from; IAM's is the account's own."""
        rate = self.rates.get(service)
        if rate is None:
            return None
        # Found without the lock (a dict lookup is atomic): every call of every worker asks twice, and the
        # lock is only needed to create a limiter once.
        found = self._per_account.get(account_id or "") if service == "iam" else self._shared.get(service)
        if found is not None:
            return found
        with self._lock:
            if service == "iam":
                key = account_id or ""
                found = self._per_account.get(key)
                if found is None:
                    found = self._per_account[key] = RateLimiter(
                        rate, name=f"iam:{key}", clock=self._clock, sleep=self._sleep
                    )
                return found
            found = self._shared.get(service)
            if found is None:
                found = self._shared[service] = RateLimiter(rate, name=service, clock=self._clock, sleep=self._sleep)
            return found

    def release(self, account_id: str) -> None:
        """Forget an account's IAM limiter once the account is done (10,000 of them add up)."""
        with self._lock:
            self._per_account.pop(account_id, None)


@dataclass
class OperationStats:
    calls: int = 0  # API calls made (a call retried three times counts once here)
    retries: int = 0  # extra attempts, for any reason
    throttled: int = 0  # throttling answers received (retried or not)


@dataclass
class CallStats:
    """Calls, retries and throttling answers by operation ("sts:AssumeRole"); safe across threads."""

    by_operation: dict[str, OperationStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _get(self, operation: str) -> OperationStats:
        found = self.by_operation.get(operation)
        if found is None:
            found = self.by_operation[operation] = OperationStats()
        return found

    def call(self, operation: str) -> None:
        with self._lock:
            self._get(operation).calls += 1

    def retry(self, operation: str, *, throttled: bool) -> None:
        with self._lock:
            stats = self._get(operation)
            stats.retries += 1
            stats.throttled += int(throttled)

    def throttled_final(self, operation: str) -> None:
        """A throttling answer that was not retried (attempts exhausted): counted, not retried."""
        with self._lock:
            self._get(operation).throttled += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                op: {"calls": s.calls, "retries": s.retries, "throttled": s.throttled}
                for op, s in sorted(self.by_operation.items())
            }


# --------------------------------------------------------------------------------------------
# Classifying answers
# --------------------------------------------------------------------------------------------


def classify(response: Any, caught_exception: BaseException | None) -> str | None:
    """"throttling", "transient" or None (success, or an error retrying cannot fix)."""
    if caught_exception is not None:
        if isinstance(caught_exception, (BotocoreConnectionError, HTTPClientError)):
            return "transient"
        return None
    if response is None:
        return None
    http_response, parsed = response
    status = getattr(http_response, "status_code", None)
    code = str((parsed or {}).get("Error", {}).get("Code") or "")
    if code in THROTTLING_CODES or status == 429:
        return "throttling"
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUS:
        return "transient"
    return None


class RetryPolicy:
    """How long to wait before the next attempt, or None to give up; bounded by `max_attempts`."""

    BASE = 1.0  # seconds: the first transient retry waits up to this, then doubles
    CAP = 20.0
    THROTTLE_PAUSE = 0.05  # up to this (jittered) after a throttling answer; the limiter does the rest

    def __init__(self, max_attempts: int, *, rand: Callable[[], float] = random.random) -> None:
        self.max_attempts = max(1, max_attempts)
        self._rand = rand

    def delay(self, kind: str, attempts: int) -> float | None:
        """`attempts` is the number made so far (1 after the first)."""
        if attempts >= self.max_attempts:
            return None
        if kind == "throttling":
            return self._rand() * min(self.CAP, self.THROTTLE_PAUSE * 2.0 ** (attempts - 1))
        return self._rand() * min(self.CAP, self.BASE * 2.0 ** (attempts - 1))
