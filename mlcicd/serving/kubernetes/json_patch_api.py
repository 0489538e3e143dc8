"""JSON patches through kubernetes-client's CustomObjectsApi, which sends only merge patches."""

from __future__ import annotations

from typing import Any

from kubernetes.client import CustomObjectsApi


class JsonPatchingApi(CustomObjectsApi):
    """A CustomObjectsApi whose patch sends a list of ops as `application/json-patch+json`.

    kubernetes-client 25's patch_namespaced_custom_object always sends
    `application/merge-patch+json`, under which a list would replace the whole object; a JSON
    patch needs its own content type, so it goes through the same ApiClient with that header.
    A mapping is still sent as the client's own merge patch.
    """

    _PATH = "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}"

    def patch_namespaced_custom_object(
        self,
        group: str,
        version: str,
        namespace: str,
        plural: str,
        name: str,
        body: Any,
        **kwargs: Any,
    ) -> Any:
        """JSON patch for a list of ops, the client's own merge patch for a mapping."""
        if not isinstance(body, list):
            return super().patch_namespaced_custom_object(
                group, version, namespace, plural, name, body, **kwargs
            )
        where = {"group": group, "version": version, "namespace": namespace}
        return self.api_client.call_api(
            self._PATH,
            "PATCH",
            path_params={**where, "plural": plural, "name": name},
            header_params={
                "Accept": "application/json",
                "Content-Type": "application/json-patch+json",
            },
            body=body,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=kwargs.get("_request_timeout"),
        )
