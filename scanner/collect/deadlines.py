"""A wall-clock deadline for every HTTP exchange, the whole answer included.

botocore's `read_timeout` bounds each socket read, not the answer: an endpoint (or a proxy) that sends
one byte every couple of seconds keeps every read under it forever, and urllib3's `Timeout(total=...)`
only sets the same per-read timeout. So a watchdog thread (one per scan) holds the deadline of every
exchange in flight, and when one passes it shuts down that exchange's socket: the blocked read returns
at once, whatever the endpoint does, and the call fails with `CallDeadlineExceeded` (not retried: an
answer that took the whole deadline would most likely take it again).

How the socket is found: botocore's HTTP session (`client._endpoint.http_session`) sends, and reads
the whole body of, each non-streaming answer inside `send()`; the wrapper installed by `guard()` marks
the calling thread's exchange, and the connection classes installed in its pool record themselves on
that mark when urllib3 hands them the request. Both are botocore internals (checked at install time:
a botocore without them fails loudly rather than running without a bound).

The deadline of an exchange is the sooner of `collection.call_timeout_seconds` from its start and the
calling thread's account deadline (`CallContext.deadline`), so an account's read ends in bounded time
too.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)

_CURRENT = threading.local()  # .exchange: the calling thread's exchange in flight, if any


class _Exchange:
    __slots__ = ("connection", "deadline", "expired", "why")

    def __init__(self, deadline: float, why: str) -> None:
        self.deadline = deadline
        self.why = why
        self.connection: Any = None
        self.expired = False


class _Tracked:
    """Mixed into botocore's connection classes: records the connection on the exchange it serves."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        exchange = getattr(_CURRENT, "exchange", None)
        if exchange is not None:
            exchange.connection = self
        return super().request(*args, **kwargs)  # type: ignore[misc]


# botocore-stubs declare `send` and `response_class` differently in AWSConnection and http.client's
# HTTPConnection, which botocore's classes join at run time; the conflict is the stubs', not these classes'.
class _HTTPConnection(_Tracked, AWSHTTPConnection):  # type: ignore[misc]
    pass


class _HTTPSConnection(_Tracked, AWSHTTPSConnection):  # type: ignore[misc]
    pass


class _HTTPPool(AWSHTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class Watchdog:
    """Shuts down the socket of every exchange whose deadline has passed. One thread, started on the
    first exchange, polling at `TICK` (exchanges in flight are at most the worker count)."""

    TICK = 0.1

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active: set[_Exchange] = set()
        self._thread: threading.Thread | None = None

    def guard(
        self,
        client: Any,
        deadline: Callable[[], tuple[float, str]],
        expired: Callable[[str], Exception],
    ) -> None:
        """Bound every exchange of `client`: `deadline()` gives (monotonic deadline, why) on the calling
        thread; `expired(why)` is the exception raised when it passes."""
        http_session = client._endpoint.http_session
        manager = getattr(http_session, "_manager", None)
        if manager is None or not hasattr(http_session, "_pool_classes_by_scheme"):
            raise RuntimeError("this botocore has no URLLib3Session._manager; artifact-scan cannot bound its calls")
        http_session._pool_classes_by_scheme = dict(_POOLS)
        manager.pool_classes_by_scheme = dict(_POOLS)
        send = http_session.send

        def bounded_send(request: Any) -> Any:
            at, why = deadline()
            if at <= self._clock():
                raise expired(why)
            exchange = _Exchange(at, why)
            self._begin(exchange)
            try:
                response = send(request)
            except Exception:
                if exchange.expired:
                    raise expired(why) from None
                raise
            finally:
                self._end(exchange)
            if exchange.expired:  # cut short by the watchdog, even if what arrived looked whole
                raise expired(why)
            return response

        http_session.send = bounded_send

    def _begin(self, exchange: _Exchange) -> None:
        _CURRENT.exchange = exchange
        with self._lock:
            self._active.add(exchange)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="artifact-scan-watchdog", daemon=True)
                self._thread.start()

    def _end(self, exchange: _Exchange) -> None:
        _CURRENT.exchange = None
        with self._lock:
            self._active.discard(exchange)

    def _watch(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = self._clock()
            with self._lock:
                # Every tick, not once: an exchange still connecting at its deadline has no socket yet.
                due = [exchange for exchange in self._active if exchange.deadline <= now]
                for exchange in due:
                    exchange.expired = True
            for exchange in due:
                _shut(exchange.connection)


def _shut(connection: Any) -> None:
    """End the socket's reads and writes at once (the blocked read returns), whatever its TLS layer."""
    sock = getattr(connection, "sock", None)
    if sock is None:
        return  # still connecting: connect_timeout bounds that
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
