"""A fault-injecting HTTP proxy in front of a moto server, for scans that see faults only on the wire.

`FaultProxy(upstream)` listens on 127.0.0.1 and forwards every request to `upstream` (a moto server),
then lets its `rule` rewrite the answer. The scanner is pointed at it with AWS_ENDPOINT_URL (or a
session's endpoint), exactly as it would be at any endpoint: nothing in the scanner knows.

Each request is identified as (api, account): the api from the request (`Action=` for query APIs,
`X-Amz-Target` for JSON ones, the path for Artifact's REST API), the account from the access key that
signed it, learnt from AssumeRole's answers (sts:AssumeRole's account is its target role's).

moto's server has no Artifact API; the proxy answers it with `agreements` (None: forward, and moto
answers HTTP 500 with an HTML page).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FRESH_TOKEN_PREFIX = "fault-proxy-fresh-"


@dataclass
class Exchange:
    """One request and the upstream's answer, which a rule may rewrite."""

    api: str
    account: str
    attempt: int  # how many requests of (api, account) so far, this one included
    request_body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drip_seconds: float | None = None  # send the body one byte at a time, this long apart
    close: bool = False  # drop the connection without an answer

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()


Rule = Callable[[Exchange], None]


class FaultProxy:
    def __init__(self, upstream: str, management_key: str, management_account: str,
                 agreements: list[dict[str, Any]] | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.agreements = agreements
        self.rule: Rule | None = None
        self.keys = {management_key: management_account}
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, rule: Rule | None = None) -> None:
        with self.lock:
            self.rule = rule
            self.attempts.clear()

    # -- one request --

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        api = _api(handler, body)
        key = _access_key(handler.headers.get("Authorization", ""))
        with self.lock:
            account = self.keys.get(key, "unknown")
            if api == "sts:AssumeRole":
                account = _role_account(parse_qs(body.decode()).get("RoleArn", [""])[0])
            self.attempts[(api, account)] += 1
            exchange = Exchange(api, account, self.attempts[(api, account)], body)
            rule = self.rule
        path = handler.path
        body = _without_fresh_tokens(api, body)
        if api == "artifact:ListCustomerAgreements" and self.agreements is not None:
            exchange.headers = {"Content-Type": "application/json"}
            exchange.set_json({"customerAgreements": self.agreements})
        else:
            self._forward(handler, path, body, exchange)
        if exchange.status < 300 and api == "sts:AssumeRole":
            self._learn(exchange.body)
        if rule is not None:
            rule(exchange)
        self._answer(handler, exchange)

    def _forward(self, handler: BaseHTTPRequestHandler, path: str, body: bytes, exchange: Exchange) -> None:
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(handler.command, path, body=body, headers=headers)
            response = connection.getresponse()
            exchange.status = response.status
            exchange.body = response.read()
            exchange.headers = {k: v for k, v in response.getheaders()
                                if k.lower() not in ("content-length", "transfer-encoding", "connection", "date",
                                                     "server")}
        finally:
            connection.close()

    def _learn(self, body: bytes) -> None:
        key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", body)
        arn = re.search(rb"<Arn>arn:aws:sts::(\d{12}):assumed-role", body)
        if key and arn:
            with self.lock:
                self.keys[key.group(1).decode()] = arn.group(1).decode()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, exchange: Exchange) -> None:
        if exchange.close:
            handler.close_connection = True
            return
        try:
            handler.send_response(exchange.status)
            for name, value in exchange.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(exchange.body)))
            handler.end_headers()
            if exchange.drip_seconds is None:
                handler.wfile.write(exchange.body)
                return
            for index in range(len(exchange.body)):
                handler.wfile.write(exchange.body[index:index + 1])
                handler.wfile.flush()
                time.sleep(exchange.drip_seconds)
        except OSError:
            handler.close_connection = True  # the client gave up (the scanner's deadline)


def _api(handler: BaseHTTPRequestHandler, body: bytes) -> str:
    service = _service(handler.headers.get("Authorization", ""))
    target = handler.headers.get("X-Amz-Target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if urlsplit(handler.path).path.startswith("/v1/customer-agreement/list"):
        return "artifact:ListCustomerAgreements"
    action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
    return f"{service}:{action}"


def _service(authorization: str) -> str:
    found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    return found.group(1) if found else "?"


def _access_key(authorization: str) -> str:
    found = re.search(r"Credential=([^/]+)/", authorization)
    return found.group(1) if found else ""


def _role_account(role_arn: str) -> str:
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _without_fresh_tokens(api: str, body: bytes) -> bytes:
    """Page tokens the proxy made up are taken out again: moto refuses tokens it did not issue."""
    if FRESH_TOKEN_PREFIX.encode() not in body:
        return body
    if body.lstrip().startswith(b"{"):
        document = json.loads(body)
        document.pop("NextToken", None)
        return json.dumps(document).encode()
    return re.sub(rb"&?Marker=" + FRESH_TOKEN_PREFIX.encode() + rb"[^&]*", b"", body)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def only(api: str, account: str | None, rewrite: Rule, *, attempt: int | None = None) -> Rule:
    """`rewrite` for `api` in `account` (None: any account), on every attempt or the `attempt`-th one."""

    def rule(exchange: Exchange) -> None:
        if exchange.api == api and account in (None, exchange.account) and attempt in (None, exchange.attempt):
            rewrite(exchange)

    return rule


def empty_body(exchange: Exchange) -> None:
    exchange.status, exchange.body = 200, b""


def empty_object(exchange: Exchange) -> None:
    exchange.status, exchange.body = 200, b"{}"


def without(field_name: str) -> Rule:
    """The answer with every `field_name` taken out (a JSON key at any depth, or an XML element)."""

    def rewrite(exchange: Exchange) -> None:
        if exchange.body.lstrip().startswith(b"{"):
            exchange.set_json(_drop(exchange.json, field_name))
        else:
            name = field_name.encode()
            exchange.body = re.sub(rb"<" + name + rb"(/>|>.*?</" + name + rb">)", b"", exchange.body, flags=re.DOTALL)

    return rewrite


def _drop(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {k: _drop(v, name) for k, v in value.items() if k != name}
    if isinstance(value, list):
        return [_drop(v, name) for v in value]
    return value


def fresh_tokens(exchange: Exchange) -> None:
    """Every answer says more pages follow, each with a token never seen before."""
    token = f"{FRESH_TOKEN_PREFIX}{exchange.attempt}"
    if exchange.body.lstrip().startswith(b"{"):
        document = exchange.json
        document["NextToken"] = token
        exchange.set_json(document)
    else:
        exchange.body = exchange.body.replace(b"<IsTruncated>false</IsTruncated>",
                                              f"<IsTruncated>true</IsTruncated><Marker>{token}</Marker>".encode())


def drip(seconds: float) -> Rule:
    def rewrite(exchange: Exchange) -> None:
        exchange.drip_seconds = seconds

    return rewrite


def error(status: int, code: str, message: str) -> Rule:
    """An AWS error in the query (XML) format."""

    def rewrite(exchange: Exchange) -> None:
        exchange.status = status
        exchange.headers = {"Content-Type": "text/xml"}
        exchange.body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                         "</Error><RequestId>fault-proxy</RequestId></ErrorResponse>").encode()

    return rewrite


def answer_of(other: Callable[[], bytes]) -> Rule:
    """The body of another request's answer (another account's roles)."""

    def rewrite(exchange: Exchange) -> None:
        exchange.body = other()

    return rewrite


def combine(*rules: Rule) -> Rule:
    def rule(exchange: Exchange) -> None:
        for each in rules:
            each(exchange)

    return rule
