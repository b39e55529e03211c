"""A local HTTP server that speaks OpenAI's and Cohere's embedding APIs, for tests and benchmarks.

    with FakeEmbeddingServer(latency=0.05) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test")
        server.fail_next(2, status=429, retry_after=1)
        ...
        assert [r.n_inputs for r in server.requests] == [...]

Endpoints: `POST /v1/embeddings` (also any path ending in `/embeddings`, e.g. Azure-style
deployment paths), `POST /v1/embed` and `POST /v2/embed`. Each connection gets its own thread, so
concurrent requests are served in parallel; `latency` is slept per request, in that thread.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from . import cohere_api, openai_api
from .errors import ApiError, cohere_error, injected_error, openai_error
from .faults import FaultRule, cut_json, tamper_vectors
from .models import COHERE_MODELS, OPENAI_MODELS, FakeModel
from .records import RecordedRequest
from .vectors import openai_tokenizer_name

_QUIET_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


def route(path: str) -> str:
    """Which API a path belongs to: openai, cohere-v1, cohere-v2 or unknown."""
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/embeddings"):
        return "openai"
    if path == "/v1/embed":
        return "cohere-v1"
    if path == "/v2/embed":
        return "cohere-v2"
    return "unknown"


class FakeEmbeddingServer:
    """Deterministic fake of the OpenAI and Cohere embedding endpoints, with fault injection.

    `api_key`: when set, requests must carry it (else 401 with the service's error body).
    `latency`: seconds slept before answering each request (settable at any time).
    """

    def __init__(self, *, latency: float = 0.0, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.latency = latency
        self.api_key = api_key
        self._address = (host, port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._rules: list[FaultRule] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self.openai_models: dict[str, FakeModel] = dict(OPENAI_MODELS)
        self.cohere_models: dict[str, FakeModel] = dict(COHERE_MODELS)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeEmbeddingServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a background thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        openai_tokenizer_name()  # load tiktoken now, not inside the first (timed) request
        self._httpd = _HTTPServer(self._address, _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="fake-embedding-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any hanging handlers and close open connections."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeEmbeddingServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base url, e.g. `http://127.0.0.1:54321` (Cohere's `base_url`)."""
        if self._httpd is None:
            raise RuntimeError("server is not running; use `with FakeEmbeddingServer() as s:`")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        """`url + "/v1"`: what `openai.OpenAI(base_url=...)` expects."""
        return self.url + "/v1"

    @property
    def cohere_base_url(self) -> str:
        return self.url

    def add_model(self, api: str, name: str, dimension: int, max_tokens: int = 8191, *,
                  flexible_dimensions: bool = False,
                  output_dimensions: tuple[int, ...] = ()) -> FakeModel:
        """Serve another model (e.g. what a vLLM or Ollama server would host) on `api`."""
        if api not in ("openai", "cohere"):
            raise ValueError(f"api must be 'openai' or 'cohere', got {api!r}")
        model = FakeModel(name, dimension, max_tokens, flexible_dimensions, output_dimensions)
        (self.openai_models if api == "openai" else self.cohere_models)[name] = model
        return model

    # -- what was received ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received since the last reset, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def batch_sizes(self) -> list[int]:
        """Inputs per request, in arrival order."""
        return [r.n_inputs for r in self.requests]

    def reset(self) -> None:
        """Forget requests, faults and the in-flight peak (latency and api_key stay)."""
        with self._lock:
            self._requests.clear()
            self._rules.clear()
            self.max_in_flight = self._in_flight

    # -- faults ---------------------------------------------------------------------------------
    def inject(self, kind: str, *, times: int | None = 1, nth: int | None = None,
               marker: str | None = None, api: str | None = None, **params: object) -> FaultRule:
        """Add a fault rule (see `faults.FAULT_KINDS`); returns it so a test can read `fired`.

        `nth`: only the Nth request (1-based, since reset). `marker`: only requests with an input
        containing this string. `api`: "openai" or "cohere". `times=None`: fire on every match.
        """
        rule = FaultRule(kind=kind, times=times, nth=nth, marker=marker, api=api, **params)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(self, n: int = 1, status: int = 429, *, retry_after: float | None = None,
                  retry_after_ms: float | None = None, message: str | None = None,
                  **match: object) -> FaultRule:
        """The next `n` (matching) requests get `status` with the service's error body."""
        return self.inject("status", times=n, status=status, retry_after=retry_after,
                           retry_after_ms=retry_after_ms, message=message, **match)

    def fail_on(self, marker: str, status: int = 500, *, times: int | None = None,
                **params: object) -> FaultRule:
        """Every request containing `marker` fails (for good unless `times` is given)."""
        return self.inject("status", times=times, marker=marker, status=status, **params)

    def hang(self, seconds: float, times: int | None = 1, **match: object) -> FaultRule:
        """Sleep `seconds` before answering (normally) the next `times` matching requests."""
        return self.inject("hang", times=times, seconds=seconds, **match)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    # -- used by the handler --------------------------------------------------------------------
    def _admit(self, make_record: partial[RecordedRequest]) -> RecordedRequest:
        with self._lock:
            record = make_record(number=len(self._requests) + 1)
            self._requests.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return record

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _pick_fault(self, record: RecordedRequest) -> FaultRule | None:
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            if rule.try_fire(record.number, record.api, record.texts):
                return rule
        return None

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the server stops (so hung handlers do not linger)."""
        if seconds > 0:
            self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients must not be refused

    def __init__(self, address: tuple[str, int], handler: type, owner: FakeEmbeddingServer):
        self.owner = owner
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._sockets_lock:
            self._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._sockets_lock:
            self._sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End keep-alive connections so their handler threads exit."""
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # type: ignore[override]
        # A client that timed out and went away is expected here, not an error worth a traceback.
        if not isinstance(sys.exc_info()[1], _QUIET_ERRORS):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Silent: tests read `server.requests` instead of an access log."""

    def do_GET(self) -> None:  # noqa: N802
        self._read_body()
        if self.path == "/_fake/stats":  # for a client in another process (the benchmark)
            owner = self.server.owner
            records = owner.requests
            self._send_json(200, {"requests": len(records), "max_in_flight": owner.max_in_flight,
                                  "statuses": [r.status for r in records]})
            return
        self._send_json(404, {"message": f"no route for GET {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        if self.path == "/_fake/reset":
            self._read_body()
            owner.reset()
            self._send_json(200, {"reset": True})
            return
        raw = self._read_body()
        record = owner._admit(self._make_record(raw))
        try:
            self._serve(owner, record, raw)
        except _QUIET_ERRORS:
            self.close_connection = True
        finally:
            if record.finished_at is None:  # dropped, or the client went away
                record.finished_at = time.perf_counter()
            owner._release()

    # -- request handling -----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _make_record(self, raw: bytes) -> partial[RecordedRequest]:
        api = route(self.path)
        body = _parse_object(raw)
        texts, token_ids = _inputs(api, body)
        return partial(RecordedRequest, method="POST", path=self.path, api=api,
                       headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                       texts=texts, token_ids=token_ids, received_at=time.perf_counter())

    def _serve(self, owner: FakeEmbeddingServer, record: RecordedRequest, raw: bytes) -> None:
        rule = owner._pick_fault(record)
        record.fault = rule.kind if rule else None
        owner._sleep(owner.latency)
        if rule is not None and rule.kind == "drop":
            self.close_connection = True  # no response at all
            return
        if rule is not None and rule.kind == "hang":
            owner._sleep(rule.seconds)
        try:
            reply = self._answer(owner, record, rule)
        except ApiError as err:
            record.status = err.status
            record.finished_at = time.perf_counter()  # before writing: the client may read first
            self._send_json(err.status, err.body, err.headers)
            return
        record.tokens, record.truncated = reply.tokens, reply.truncated
        data = json.dumps(reply.payload).encode("utf-8")
        if rule is not None and rule.kind == "malformed_json":
            data = cut_json(data)
        record.status = 200
        record.finished_at = time.perf_counter()
        self._send_bytes(200, data)

    def _answer(self, owner: FakeEmbeddingServer, record: RecordedRequest,
                rule: FaultRule | None):
        """The normal reply, or raise ApiError (injected status, auth, bad request)."""
        flavour = "openai" if record.api == "openai" else "cohere"
        model = str((record.body or {}).get("model") or "")
        if rule is not None and rule.kind == "status":
            err = injected_error(flavour, rule.status, model=model, key=record.api_key,
                                 message=rule.message)
            err.headers.update(rule.response_headers())
            raise err
        if record.api == "unknown":
            raise ApiError(404, {"message": f"no route for POST {record.path}"})
        if owner.api_key is not None and record.api_key != owner.api_key:
            raise injected_error(flavour, 401, model=model, key=record.api_key)
        if record.body is None:
            raise _unparseable(flavour)
        tamper = partial(tamper_vectors, rule)
        if record.api == "openai":
            return openai_api.embed(record.body, tamper, owner.openai_models)
        version = 1 if record.api == "cohere-v1" else 2
        return cohere_api.embed(record.body, version, tamper, owner.cohere_models)

    # -- writing --------------------------------------------------------------------------------
    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body).encode("utf-8"), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_fake_{id(data):x}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _parse_object(raw: bytes) -> dict | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _inputs(api: str, body: dict | None) -> tuple[list[str], bool]:
    if body is None:
        return [], False
    if api == "openai":
        return openai_api.extract_inputs(body)
    if api.startswith("cohere"):
        return cohere_api.extract_inputs(body), False
    return [], False


def _unparseable(flavour: str) -> ApiError:
    if flavour == "openai":
        return openai_error(400, "We could not parse the JSON body of your request. (HINT: This "
                            "likely means you aren't using your HTTP library correctly. The OpenAI "
                            "API expects a JSON payload, but what was sent was not valid JSON.")
    return cohere_error(400, "invalid request: could not parse the JSON body")
