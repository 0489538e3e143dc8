"""Run one environment's router: `python -m mlcicd.serving.router.serve --routes FILE --port N`.

Exits 2 with a message naming the problem when the routes file is missing or invalid, or the
host is not loopback, so the deployer's start_router can show it from the log. SIGTERM stops
accepting, lets in-flight requests finish (bounded), flushes the shadow log and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from mlcicd.serving.router.app import check_not_self, create_app
from mlcicd.serving.router.routes import RoutesError, load_routes

logger = logging.getLogger("mlcicd.serving.router")

SHUTDOWN_TIMEOUT_S = 10.0
EXIT_BAD_ARGUMENTS = 2


def check_loopback(host: str) -> str:
    """The host unchanged if it is loopback; the router must never listen beyond this machine."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the router binds loopback only (127.0.0.1, ::1, localhost), got {host!r}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; --routes is the file control.write_routes keeps up to date."""
    parser = argparse.ArgumentParser(description="The local traffic router of one environment.")
    parser.add_argument("--routes", type=Path, required=True, help="the routes JSON file")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, required=True, help="the environment's stable port")
    parser.add_argument("--log-level", default="INFO", help="logging level (stderr)")
    return parser.parse_args(argv)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (faster sockets), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, then serve until SIGTERM/SIGINT; returns the process exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        host = check_loopback(args.host)
        if not 1 <= args.port <= 65535:
            raise ValueError(f"--port must be in 1..65535, got {args.port}")
        routes_path = args.routes.resolve()
        table = load_routes(routes_path)
        check_not_self(table, args.port)
    except (RoutesError, ValueError) as error:
        logger.error("router not started: %s", error)
        return EXIT_BAD_ARGUMENTS
    logger.info(
        "router for %s on %s:%d, generation %d, routes %s",
        table.environment,
        host,
        args.port,
        table.generation,
        routes_path,
    )
    try:
        web.run_app(
            create_app(routes_path, table, args.port),
            host=host,
            port=args.port,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            access_log=None,  # a log line per prediction would cost more than the forwarding
            print=None,
            loop=_new_loop(),
        )
    except OSError as error:  # the port is taken, most often by a router left running
        logger.error("router cannot listen on %s:%d: %s", host, args.port, error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
