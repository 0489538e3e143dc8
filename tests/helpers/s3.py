"""A real S3 API on 127.0.0.1 (moto's server) and a ZenML S3 artifact store pointed at it."""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import Iterator
from typing import Any

ACCESS_KEY = SECRET_KEY = "testing"  # moto accepts any credentials
REGION = "us-east-1"


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def create_bucket(endpoint: str, bucket: str) -> None:
    """An empty bucket on the server."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name=REGION,
    )  # fmt: skip
    client.create_bucket(Bucket=bucket)


def s3_artifact_store(endpoint: str, path: str) -> Any:
    """ZenML's own S3ArtifactStore (as the gpu-k8s stack has it), on the local server."""
    from zenml.enums import StackComponentType
    from zenml.integrations.s3.artifact_stores.s3_artifact_store import S3ArtifactStore
    from zenml.integrations.s3.flavors.s3_artifact_store_flavor import S3ArtifactStoreConfig

    now = datetime.datetime.now(datetime.UTC)
    config = S3ArtifactStoreConfig(
        path=path, key=ACCESS_KEY, secret=SECRET_KEY,
        client_kwargs={"endpoint_url": endpoint, "region_name": REGION},
    )  # fmt: skip
    return S3ArtifactStore(
        name="s3", id=uuid.uuid4(), config=config, flavor="s3",
        type=StackComponentType.ARTIFACT_STORE, user=uuid.uuid4(), created=now, updated=now,
        environment={}, secrets=[],
    )  # fmt: skip
