"""The emulator's own OpenAPI document agrees with the reference spec for the nine operations.

Same paths and methods, same parameter names and locations (and required-ness), same request body
media types and required body fields, same security scheme. The reference lives outside the
project (``../shared/reference``); only this comparison is skipped when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from uploader.emulator import create_app

REFERENCE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "reference"
    / "syllable-outbound-batches.openapi.json"
)

NINE = {
    "outbound_batch_list",
    "outbound_batch_create",
    "outbound_batch_get_by_id",
    "outbound_batch_update",
    "outbound_batch_delete",
    "outbound_batch_upload",
    "outbound_batch_results",
    "outbound_batch_add",
    "outbound_batch_remove",
}


def _operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    out = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if op.get("operationId") in NINE:
                out[op["operationId"]] = (path, method, op)
    return out


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def _body(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    body = op.get("requestBody")
    if body is None:
        return None
    (media, content), *_ = body["content"].items()
    schema = _resolve(spec, content["schema"])
    return {
        "media": media,
        "required": bool(body.get("required", False)),
        "type": schema.get("type"),
        "required_fields": sorted(schema.get("required", [])),
        "items": schema.get("items"),
    }


def _params(op: dict[str, Any]) -> set[tuple[str, str, bool]]:
    return {(p["name"], p["in"], p.get("required", False)) for p in op.get("parameters", [])}


@pytest.fixture(scope="module")
def specs() -> tuple[dict[str, Any], dict[str, Any]]:
    if not REFERENCE.is_file():
        pytest.skip(f"reference spec not available at {REFERENCE}")
    return json.loads(REFERENCE.read_text(encoding="utf-8")), create_app().openapi()


def test_the_emulator_has_exactly_the_nine_operations(specs) -> None:  # type: ignore[no-untyped-def]
    reference, ours = specs
    assert set(_operations(reference)) == NINE
    assert set(_operations(ours)) == NINE


@pytest.mark.parametrize("operation_id", sorted(NINE))
def test_operation_matches_the_reference(specs, operation_id: str) -> None:  # type: ignore[no-untyped-def]
    reference, ours = specs
    ref_path, ref_method, ref_op = _operations(reference)[operation_id]
    our_path, our_method, our_op = _operations(ours)[operation_id]
    assert (our_path, our_method) == (ref_path, ref_method)
    assert _params(our_op) == _params(ref_op)
    assert _body(ours, our_op) == _body(reference, ref_op)
    assert our_op.get("security") == ref_op.get("security")


def test_the_security_scheme_is_the_api_key_header(specs) -> None:  # type: ignore[no-untyped-def]
    reference, ours = specs
    assert ours["components"]["securitySchemes"] == reference["components"]["securitySchemes"]


def _response_properties(spec: dict[str, Any], op: dict[str, Any]) -> set[str]:
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    if "anyOf" in schema:  # create: CommunicationBatch | null
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        schema = schema["items"]
    return set(_resolve(spec, schema).get("properties", {}))


@pytest.mark.parametrize("operation_id", sorted(NINE))
def test_documented_responses_cover_the_reference_fields(specs, operation_id: str) -> None:  # type: ignore[no-untyped-def]
    reference, ours = specs
    ref_op = _operations(reference)[operation_id][2]
    our_op = _operations(ours)[operation_id][2]
    assert _response_properties(reference, ref_op) <= _response_properties(ours, our_op)


def test_live_responses_carry_every_reference_field(specs, emulator) -> None:  # type: ignore[no-untyped-def]
    import httpx

    reference, _ = specs
    schemas = reference["components"]["schemas"]

    def props(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    headers = {"Syllable-API-Key": emulator.api_key}
    base = "/api/v1/outbound/batches"
    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        created = client.post(base, json={"batch_id": "shape", "campaign_id": 1}).json()
        request = {"reference_id": "s-1", "target": "+15125550100", "request_variables": {}}
        client.post(f"{base}/shape/requests", json=request)
        details = client.get(f"{base}/shape").json()
        listed = client.get(base).json()
        results = client.get(f"{base}/shape/results").json()
        updated = client.put(f"{base}/shape", json={"paused": True}).json()
    assert props("CommunicationBatch") <= set(created)
    assert props("CommunicationBatch") <= set(updated)
    assert props("BatchDetails") <= set(details)
    assert props("ListResponse_CommunicationBatch_") <= set(listed)
    assert props("CommunicationBatch") <= set(listed["items"][0])
    assert props("CommunicationRequestResult") <= set(results[0])
