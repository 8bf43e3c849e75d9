"""The front-door room: HTTP as AWS Organizations speaks it, and the ``/_orgsim/`` control API.

- ``POST /`` with ``X-Amz-Target: AWSOrganizationsV20161128.<Operation>`` and a JSON 1.1 body;
  the caller is the SigV4 ``Credential=`` access key id (a 12-digit id is that account; the
  signature itself is not checked, so any secret key works). Errors are
  ``{"__type", "Message", ...model members}`` with AWS's status; every answer has
  ``x-amzn-RequestId``.
- ``/_orgsim/...`` is the control API (JSON). It is reached only by path, never by X-Amz-Target.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from orgsim import model, sts
from orgsim.engine import Simulator
from orgsim.errors import ApiError

CONTENT_TYPE = "application/x-amz-json-1.1"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]*)/")
_REGION = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/([^/,\s]+)/")


def signed_region(authorization: str) -> str:
    """The region of the SigV4 credential scope (its partition goes into every ARN)."""
    match = _REGION.search(authorization)
    return match.group(1) if match else "us-east-1"


def caller_account(authorization: str | None) -> str:
    """The access key id of the SigV4 Authorization header, or the error AWS answers with."""
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", status=403)
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
            status=403,
        )
    match = _CREDENTIAL.search(authorization)
    if match is None or "Signature=" not in authorization or "SignedHeaders=" not in authorization:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
            status=403,
        )
    return match.group(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms
    # to every call on a kept-alive connection.
    disable_nagle_algorithm = True
    server: OrgsimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the benchmark make thousands of calls

    # --- plumbing ------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        payload: bytes,
        request_id: str,
        extra: dict[str, str] | None = None,
        content_type: str = CONTENT_TYPE,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, error: ApiError, request_id: str) -> None:
        self._send(error.status, json.dumps(error.body()).encode(), request_id, {"x-amzn-ErrorType": error.code})

    # --- routes --------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if self.path.startswith("/_orgsim/"):
            self._control("POST")
            return
        request_id = str(uuid.uuid4())
        raw = self._body()
        if sts.is_sts(self.headers.get("Content-Type") or "", raw):
            self._sts(raw, request_id)
            return
        try:
            key = caller_account(self.headers.get("Authorization"))
            account_id, _session = self.server.sim.identity(key, self.headers.get("X-Amz-Security-Token"))
            target = self.headers.get("X-Amz-Target") or ""
            prefix, _, operation = target.partition(".")
            if prefix != model.target_prefix() or not operation:
                raise ApiError(
                    "UnknownOperationException",
                    f"The operation {target or '(none)'} is not known to AWS Organizations.",
                )
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise ApiError("SerializationException", "The request body is not valid JSON.") from None
            region = signed_region(self.headers.get("Authorization") or "")
            result = self.server.sim.call(operation, account_id, body, region=region)
        except ApiError as error:
            self._error(error, request_id)
            return
        except Exception as error:  # a bug in orgsim: answer as AWS would, keep serving
            self._error(
                ApiError("ServiceException", f"orgsim internal error: {type(error).__name__}: {error}", status=500),
                request_id,
            )
            return
        self._send(200, json.dumps(result).encode(), request_id)

    def _sts(self, raw: bytes, request_id: str) -> None:
        authorization = self.headers.get("Authorization")
        try:
            key = caller_account(authorization)
            token = self.headers.get("X-Amz-Security-Token")
            action, result = self.server.sim.sts(raw, key, token, region=signed_region(authorization or ""))
        except ApiError as error:
            self._send(error.status, sts.error_xml(error, request_id), request_id, content_type="text/xml")
            return
        self._send(200, sts.response_xml(action, result, request_id), request_id, content_type="text/xml")

    def do_GET(self) -> None:
        if self.path.startswith("/_orgsim/"):
            self._control("GET")
            return
        request_id = str(uuid.uuid4())
        self._error(ApiError("UnknownOperationException", "AWS Organizations answers POST / only."), request_id)

    def do_DELETE(self) -> None:
        self._control("DELETE")

    def _control(self, method: str) -> None:
        request_id = str(uuid.uuid4())
        sim = self.server.sim
        path = urlparse(self.path).path.rstrip("/")
        raw = self._body() if method in ("POST", "DELETE") else b""
        try:
            data = json.loads(raw) if raw.strip() else {}
            if path == "/_orgsim/fixed":
                self._send(200, sim.fixed_body, request_id)
                return
            answer = control(sim, method, path, data)
        except KeyError:
            answer = None
        except (ValueError, TypeError) as error:
            self._send(400, json.dumps({"error": str(error)}).encode(), request_id, content_type="application/json")
            return
        if answer is None:
            self._send(
                404,
                json.dumps({"error": f"no control endpoint {method} {path}"}).encode(),
                request_id,
                content_type="application/json",
            )
            return
        self._send(200, json.dumps(answer).encode(), request_id, content_type="application/json")


def control(sim: Simulator, method: str, path: str, data: dict[str, Any]) -> Any:
    """The control API: returns the JSON answer, or None for an unknown endpoint."""
    route = (method, path.removeprefix("/_orgsim"))
    if route == ("GET", "/health"):
        return {"ok": True}
    if route in (("GET", "/clock"),):
        return {"now": sim.state.now(), "offset": sim.state.clock_offset}
    if route in (("POST", "/clock"), ("POST", "/clock/advance")):
        return {"now": sim.advance(float(data.get("seconds", data.get("advance", 0))))}
    if route == ("GET", "/faults"):
        return sim.faults.to_dict()
    if route == ("POST", "/faults"):
        operation = data.pop("operation", None)
        if operation is not None and operation not in model.operation_names():
            raise ValueError(f"{operation} is not an operation of AWS Organizations")
        sim.faults.set(operation, **data)
        return sim.faults.to_dict()
    if route in (("DELETE", "/faults"), ("POST", "/faults/clear")):
        sim.faults.clear()
        return sim.faults.to_dict()
    if route == ("POST", "/reset"):
        scenario = data.pop("scenario", None)
        return sim.reset(scenario, **data)
    if route == ("GET", "/state"):
        return sim.dump()
    if route == ("POST", "/save"):
        sim.save()
        return {"saved": sim.state_file}
    if route == ("GET", "/calls"):
        return sim.call_counts()
    if route in (("DELETE", "/calls"), ("POST", "/calls/reset")):
        sim.reset_calls()
        return sim.call_counts()
    if route == ("GET", "/summary"):
        return sim.summary()
    if route == ("POST", "/roles"):
        return sim.trust_role(str(data["role_arn"]), data.get("external_id"))
    if route == ("POST", "/quotas"):
        account_id = str(data.pop("account_id"))
        return {"account_id": account_id, "quotas": sim.set_quotas(account_id, **data)}
    return None


class OrgsimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        super().__init__(address, Handler)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        # Once bound, server_address is the socket's getsockname(): the host is a str for AF_INET.
        # The annotation also allows the bytes bind() accepts; never format those as "b'...'".
        if not isinstance(host, str):
            host = host.decode("ascii")
        return f"http://{host}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="orgsim-http", daemon=True
        )
        thread.start()
        return thread
