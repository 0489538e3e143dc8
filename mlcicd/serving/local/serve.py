"""Run the seldon-core REST microservice for one model on a loopback address.

`seldon-core-microservice` 1.19 always binds 0.0.0.0, which is right inside a pod and wrong on a
laptop or CI machine. This launcher builds the very same Flask app (seldon-core's
`get_rest_microservice`) around the same model class and runs it in seldon-core's own gunicorn
application, bound to the host we choose. Request handling, error rendering and `load()`
timing are therefore identical to the cluster; only gRPC and the metrics port are left out.

Usage: python -m mlcicd.serving.local.serve --http-port 8601 --parameters '<json>'
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os

from mlcicd.serving.server.protocol import MODEL_SERVER_CLASS


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--parameters", default="[]", help="Seldon parameters JSON list")
    parser.add_argument("--interface", default=MODEL_SERVER_CLASS)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=60)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until terminated (SIGTERM stops gunicorn gracefully)."""
    from seldon_core.gunicorn_utils import UserModelApplication
    from seldon_core.metrics import SeldonMetrics
    from seldon_core.microservice import parse_parameters
    from seldon_core.wrapper import get_rest_microservice

    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    module_name, class_name = args.interface.rsplit(".", 1)
    user_class = getattr(importlib.import_module(module_name), class_name)
    user_object = user_class(**parse_parameters(json.loads(args.parameters)))
    seldon_metrics = SeldonMetrics(worker_id_func=os.getpid)
    app = get_rest_microservice(user_object, seldon_metrics)
    options = {
        "bind": f"{args.host}:{args.http_port}",
        "workers": 1,
        "threads": args.threads,
        "timeout": args.timeout,
        "loglevel": "info",
        "accesslog": None,
    }
    UserModelApplication(app, user_object, False, [], args.interface, options=options).run()


if __name__ == "__main__":
    main()
