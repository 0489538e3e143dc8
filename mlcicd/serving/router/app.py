"""The router's aiohttp application: weighted forwarding, fallback to stable, shadow mirroring.

One ClientSession (a keep-alive pool) forwards to the variants. The routes (table and picker)
live in one attribute that a reload replaces in one assignment; a request reads it once, so it
finishes against the variant it picked even if the table changes meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from mlcicd.serving.router.metrics import RouterMetrics
from mlcicd.serving.router.routes import (
    RoutesError,
    RouteTable,
    Variant,
    WeightedPicker,
    load_routes,
)
from mlcicd.serving.router.shadow import ShadowLog, Side, shadow_record
from mlcicd.serving.server.protocol import LIVENESS_PATH, PREDICTIONS_PATH, READINESS_PATH

logger = logging.getLogger(__name__)

METADATA_PATH = "/api/v1.0/metadata"
STABLE_ONLY_PATHS = frozenset({READINESS_PATH, LIVENESS_PATH, METADATA_PATH})
STATE_PATH, RELOAD_PATH, METRICS_PATH = "/router/state", "/router/reload", "/router/metrics"
VARIANT_HEADER, ROLE_HEADER = "X-Mlcicd-Variant", "X-Mlcicd-Role"
CONNECT_TIMEOUT_S = 1.0
POOL_KEEPALIVE_S = 1.0  # below gunicorn's 2 s keep-alive, so pooled sockets are rarely stale
POOL_LIMIT = 512
SHADOW_CONCURRENCY = 64
SHADOW_DRAIN_S = 3.0
JSON_TYPE = "application/json"

ROUTER_KEY: web.AppKey[Router] = web.AppKey("router")


def error_response(status: int, reason: str, info: str) -> web.Response:
    """The model server's (seldon) JSON error shape, so clients parse one format."""
    body = {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}
    return web.json_response(body, status=status)


@dataclass
class VariantStats:
    """Live counters of one version, kept across reloads (wait_drained reads in_flight)."""

    in_flight: int = 0
    forwarded: int = 0
    failures: int = 0


@dataclass(frozen=True)
class Routing:
    """What a reload swaps: the table and its picker, together."""

    table: RouteTable
    picker: WeightedPicker


@dataclass(frozen=True)
class Outgoing:
    """The parts of a client request that are forwarded (the same for every attempt)."""

    method: str
    target: str  # raw path and query, as the client sent them
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    """A variant's HTTP answer, or (status None) why there was none."""

    variant: Variant
    status: int | None
    body: bytes
    content_type: str
    seconds: float
    failure: str = ""
    reason: str = ""  # "timeout" or "connection" when status is None
    disconnected: bool = False  # the server closed the socket: maybe a stale pooled connection
    content_encoding: str = ""


class Router:
    """The request handlers and their shared state; one per process."""

    def __init__(self, routes_path: Path, table: RouteTable, listen_port: int | None) -> None:
        self.routes_path, self.listen_port = routes_path, listen_port
        self.routing = Routing(table, WeightedPicker.for_table(table))
        self.metrics = RouterMetrics()
        self.stats: dict[str, VariantStats] = {}
        self.shadow_log = ShadowLog()
        self.shadow_tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The upstream pool, opened by `lifecycle` once the loop runs."""
        if self._session is None:
            raise RuntimeError("the router's client session is not started")
        return self._session

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """Open the upstream pool on start; on shutdown drain shadows, close it, flush the log."""
        connector = aiohttp.TCPConnector(
            limit=POOL_LIMIT, keepalive_timeout=POOL_KEEPALIVE_S, ttl_dns_cache=None
        )
        # Only the client's own Content-Type is sent, and no Accept-Encoding: variants answer
        # uncompressed and bodies pass through as they are.
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),  # a proxy keeps no cookies of its own
        )
        self.shadow_log.start()
        try:
            yield
        finally:
            if self.shadow_tasks:
                _, pending = await asyncio.wait(self.shadow_tasks, timeout=SHADOW_DRAIN_S)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            await self.session.close()
            await self.shadow_log.close()
            logger.info("router stopped; %d shadow lines written", self.shadow_log.written)

    # -- control endpoints ----------------------------------------------------------------------

    async def reload(self, request: web.Request) -> web.Response:
        """Re-read the routes file; a bad one is refused and the current table stays."""
        current = self.routing.table
        try:
            table = load_routes(self.routes_path)
            if table.environment != current.environment:
                raise RoutesError(
                    f"the routes file is for environment {table.environment!r}, "
                    f"this router serves {current.environment!r}"
                )
            if self.listen_port is not None:
                check_not_self(table, self.listen_port)
            if table.generation < current.generation:
                raise RoutesError(
                    f"generation {table.generation} is older than the current "
                    f"{current.generation}: refusing a stale routes file"
                )
        except RoutesError as error:
            logger.warning("reload refused: %s", error)
            return web.json_response({"error": str(error)}, status=400)
        self.routing = Routing(table, WeightedPicker.for_table(table))  # the one atomic swap
        split = ", ".join(f"{v.version} {v.role} {v.weight}" for v in table.variants)
        logger.info("routes reloaded: generation %d, %s", table.generation, split)
        return web.json_response({"generation": table.generation})

    async def state(self, request: web.Request) -> web.Response:
        """The table, the pid and live counters (current versions and any still in flight)."""
        table = self.routing.table
        versions = [v.version for v in table.variants]
        versions += [v for v, s in self.stats.items() if v not in versions and s.in_flight]
        counters = {v: asdict(self.stats.get(v, VariantStats())) for v in versions}
        shadow = {
            "in_flight": len(self.shadow_tasks),
            "log_lines_written": self.shadow_log.written,
            "log_lines_dropped": self.shadow_log.dropped,
        }
        body = {"pid": os.getpid(), "table": table.to_dict(), "stats": counters, "shadow": shadow}
        return web.json_response(body)

    async def prometheus(self, request: web.Request) -> web.Response:
        """Prometheus text of the router's own registry."""
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # -- forwarding -----------------------------------------------------------------------------

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Send the request to a weighted variant, falling back to stable when it gets no answer."""
        routing = self.routing  # read once: this request keeps this table to the end
        table = routing.table
        body = await _read_body(request, table.max_body_bytes)
        if body is None:
            return error_response(
                413,
                "REQUEST_TOO_LARGE",
                f"request body exceeds the router's limit of {table.max_body_bytes} bytes",
            )
        if request.method in ("GET", "HEAD") and request.path in STABLE_ONLY_PATHS:
            chosen = table.stable
        else:
            chosen = routing.picker.pick()
        headers = {}
        if content_type := request.headers.get("Content-Type"):
            headers["Content-Type"] = content_type
        out = Outgoing(request.method, request.raw_path, body, headers)
        primary: asyncio.Future[Answer] | None = None
        if (
            table.shadow is not None
            and request.method == "POST"
            and request.path == PREDICTIONS_PATH
        ):
            primary = asyncio.get_running_loop().create_future()
            self._mirror(table, table.shadow, out, primary)
        try:
            answer, failures = await self._answer(table, chosen, out)
        except BaseException:
            if primary is not None:  # cancelled (shutdown): the shadow stops waiting
                primary.cancel()
            raise
        if primary is not None:
            primary.set_result(answer)
        if answer.status is None:
            failures.append(answer)
            info = "; ".join(_describe(f) for f in failures)
            response = error_response(503, "UPSTREAM_UNAVAILABLE", f"no variant answered: {info}")
        else:
            response = web.Response(status=answer.status, body=answer.body)
            response.headers["Content-Type"] = answer.content_type
            if answer.content_encoding:
                response.headers["Content-Encoding"] = answer.content_encoding
        response.headers[VARIANT_HEADER] = answer.variant.version  # the last variant tried
        response.headers[ROLE_HEADER] = answer.variant.role
        return response

    async def _answer(
        self, table: RouteTable, chosen: Variant, out: Outgoing
    ) -> tuple[Answer, list[Answer]]:
        """The chosen variant's answer, else the stable's; and the attempts that got none.

        A variant that got no answer (refused, reset, timed out) is retried once on stable:
        predictions are idempotent. A stable that closed the socket without answering is
        tried once more, since that is what a stale pooled keep-alive connection looks like.
        A 5xx is an answer and is never retried.
        """
        stable = table.stable
        answer = await self._attempt(table, chosen, out)
        failures = []
        if answer.status is None and chosen is not stable:
            failures.append(answer)
            answer = await self._attempt(table, stable, out)
        if answer.status is None and answer.disconnected:
            failures.append(answer)
            answer = await self._attempt(table, stable, out)
        return answer, failures

    async def _attempt(self, table: RouteTable, variant: Variant, out: Outgoing) -> Answer:
        """One request to one variant, bounded by the table's timeout; counted either way."""
        stats = self.stats.get(variant.version)
        if stats is None:
            stats = self.stats[variant.version] = VariantStats()
        stats.in_flight += 1
        stats.forwarded += 1
        timeout = aiohttp.ClientTimeout(
            total=table.upstream_timeout_seconds, sock_connect=CONNECT_TIMEOUT_S
        )
        url = URL(variant.base_url + out.target, encoded=True)
        env, version = table.environment, variant.version
        started = time.perf_counter()
        try:
            async with self.session.request(
                out.method, url, data=out.body or None, headers=out.headers, timeout=timeout
            ) as response:
                payload = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", JSON_TYPE)
                encoding = response.headers.get("Content-Encoding", "")
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            seconds = time.perf_counter() - started
            stats.failures += 1
            if isinstance(error, TimeoutError):
                reason = "timeout"
                what = f"no answer within {table.upstream_timeout_seconds:g} s"
            else:
                reason, what = "connection", _connection_failure(error)
            self.metrics.requests.labels(env, version, variant.role, "error").inc()
            self.metrics.failures.labels(env, version, reason).inc()
            self.metrics.duration.labels(env, version).observe(seconds)
            logger.warning(
                "variant %s (%s) at port %d: %s", version, variant.role, variant.port, what
            )
            disconnected = isinstance(error, aiohttp.ServerDisconnectedError)
            return Answer(variant, None, b"", "", seconds, what, reason, disconnected)
        finally:
            stats.in_flight -= 1
        seconds = time.perf_counter() - started
        self.metrics.requests.labels(env, version, variant.role, str(status)).inc()
        self.metrics.duration.labels(env, version).observe(seconds)
        return Answer(variant, status, payload, content_type, seconds, content_encoding=encoding)

    # -- shadow ---------------------------------------------------------------------------------

    def _mirror(
        self, table: RouteTable, shadow: Variant, out: Outgoing, primary: asyncio.Future[Answer]
    ) -> None:
        """Start the background copy of a prediction, or drop it when too many are in flight."""
        if len(self.shadow_tasks) >= SHADOW_CONCURRENCY:
            self.metrics.shadow.labels(table.environment, shadow.version, "dropped").inc()
            return
        self.metrics.shadow.labels(table.environment, shadow.version, "sent").inc()
        task = asyncio.get_running_loop().create_task(self._shadow(table, shadow, out, primary))
        self.shadow_tasks.add(task)
        task.add_done_callback(self._shadow_done)

    def _shadow_done(self, task: asyncio.Task[None]) -> None:
        """Forget a finished mirror; a bug in it is logged, never raised into the loop."""
        self.shadow_tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("shadow request failed: %r", error, exc_info=error)

    async def _shadow(
        self, table: RouteTable, shadow: Variant, out: Outgoing, primary: asyncio.Future[Answer]
    ) -> None:
        """Ask the shadow, wait for the primary's answer, and log both side by side."""
        answer = await self._attempt(table, shadow, out)
        if answer.status is None or answer.status >= 500:
            self.metrics.shadow.labels(table.environment, shadow.version, "failed").inc()
        try:
            main = await primary
        except asyncio.CancelledError:  # the client's request was cancelled: nothing to compare
            return
        if table.shadow_log is None:
            return
        record = shadow_record(
            Side(main.variant.version, main.status or 503, main.seconds, main.body),
            Side(shadow.version, answer.status, answer.seconds, answer.body, answer.failure),
        )
        self.shadow_log.append(table.shadow_log, record)


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    if not request.body_exists:
        return b""
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _connection_failure(error: BaseException) -> str:
    """What went wrong, in words a deployer reads (aiohttp's own messages mention ssl)."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect: {error.os_error.strerror or error.os_error}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "disconnected before answering"
    return f"{type(error).__name__}: {error}"


def _describe(answer: Answer) -> str:
    v = answer.variant
    return f"{v.role} variant {v.version} at {v.host}:{v.port}: {answer.failure}"


def check_not_self(table: RouteTable, listen_port: int) -> None:
    """A variant on the router's own port would make every request loop back into it."""
    if any(v.port == listen_port for v in table.variants):
        raise RoutesError(f"a variant is on port {listen_port}, the router's own port")


def create_app(
    routes_path: Path, table: RouteTable, listen_port: int | None = None
) -> web.Application:
    """The router's application for an already validated table read from `routes_path`."""
    router = Router(routes_path, table, listen_port)
    app = web.Application()  # bodies are read by _read_body against the table's own limit
    app[ROUTER_KEY] = router
    app.cleanup_ctx.append(router.lifecycle)
    app.router.add_post(RELOAD_PATH, router.reload)
    app.router.add_get(STATE_PATH, router.state)
    app.router.add_get(METRICS_PATH, router.prometheus)
    app.router.add_route("*", "/router/{tail:.*}", _unknown_control)
    app.router.add_route("*", "/{tail:.*}", router.forward)
    return app


async def _unknown_control(request: web.Request) -> web.Response:
    """/router/ is the router's own namespace; nothing there is forwarded."""
    return error_response(404, "NOT_FOUND", f"no router endpoint {request.method} {request.path}")
