"""The contract document, the simulator's routes and the pydantic models agree."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from zairyu_sync.canonical import APPLICATION_TYPES, ISA_APPLICATION_COLUMNS, ISA_STATUSES
from zairyu_sync.errors import ConfigError
from zairyu_sync.immigration import (
    OPENAPI_PATH,
    Applicant,
    Application,
    ApplicationPage,
    ApplicationStatus,
    ApplicationType,
    ErrorBody,
    SimulatorDataset,
    TokenResponse,
    application_record,
    create_app,
)

pytestmark = pytest.mark.unit

SCHEMA_MODELS: dict[str, type[Any]] = {
    "Application": Application,
    "Applicant": Applicant,
    "ApplicationPage": ApplicationPage,
    "TokenResponse": TokenResponse,
    "ErrorBody": ErrorBody,
}


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def example_application(contract: dict[str, Any]) -> dict[str, Any]:
    example: dict[str, Any] = contract["components"]["schemas"]["Application"]["example"]
    return example


def app_client(dataset: SimulatorDataset | None = None) -> TestClient:
    app = create_app(dataset or SimulatorDataset(()), client_id="id", client_secret="secret")
    return TestClient(app, base_url="http://sim")


def test_document_is_openapi_3_1_and_says_it_is_not_isa_spec(contract: dict[str, Any]) -> None:
    assert contract["openapi"].startswith("3.1")
    description = contract["info"]["description"]
    assert "not the Immigration Services Agency's" in description
    assert "Mynaportal" in description
    assert contract["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": contract["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_served_documents_equal_the_repo_file(contract: dict[str, Any]) -> None:
    with app_client() as client:
        served_yaml = client.get("/openapi.yaml")
        served_json = client.get("/openapi.json")
        docs = client.get("/docs")
    assert served_yaml.status_code == 200
    assert served_yaml.content == OPENAPI_PATH.read_bytes()
    assert served_yaml.headers["content-type"].startswith("application/yaml")
    assert served_json.json() == contract
    assert docs.status_code == 404  # FastAPI's generated docs are disabled in favour of ours


def test_every_documented_operation_is_implemented(contract: dict[str, Any]) -> None:
    app = create_app(SimulatorDataset(()), client_id="id", client_secret="secret")
    implemented = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    documented = {
        (path, method)
        for path, operations in contract["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert documented == {
        ("/v1/auth/token", "post"),
        ("/v1/applications", "get"),
        ("/v1/applications/{receipt_number}", "get"),
    }
    assert implemented == documented


def test_enums_match_the_reconciliation_contract(contract: dict[str, Any]) -> None:
    schemas = contract["components"]["schemas"]
    assert set(schemas["ApplicationStatus"]["enum"]) == set(ISA_STATUSES)
    assert set(get_args(ApplicationStatus)) == set(ISA_STATUSES)
    assert tuple(schemas["ApplicationType"]["enum"]) == APPLICATION_TYPES
    assert get_args(ApplicationType) == APPLICATION_TYPES


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_models_have_the_documented_fields(contract: dict[str, Any], name: str) -> None:
    schema = contract["components"]["schemas"][name]
    model = SCHEMA_MODELS[name]
    assert set(model.model_fields) == set(schema["properties"])
    required = {field for field, info in model.model_fields.items() if info.is_required()}
    assert required == set(schema.get("required", []))
    assert schema["additionalProperties"] is False
    assert model.model_config["extra"] == "forbid"


def test_application_fields_match_the_canonical_isa_columns(contract: dict[str, Any]) -> None:
    properties = contract["components"]["schemas"]["Application"]["properties"]
    applicant = contract["components"]["schemas"]["Applicant"]["properties"]
    columns: list[str] = []
    for field in properties:
        if field == "applicant":
            columns += [f"applicant_{sub}" for sub in applicant]
        else:
            columns.append(field)
    assert columns == list(ISA_APPLICATION_COLUMNS)


@pytest.mark.parametrize(
    "name", ["Application", "TokenResponse", "ApplicationPage"], ids=lambda name: name
)
def test_documented_examples_round_trip(contract: dict[str, Any], name: str) -> None:
    example = contract["components"]["schemas"][name]["example"]
    model = SCHEMA_MODELS[name].model_validate_json(json.dumps(example))
    assert model.model_dump(mode="json") == example


def test_error_examples_are_valid_error_bodies(contract: dict[str, Any]) -> None:
    examples = [
        response["content"]["application/json"]["example"]
        for response in contract["components"]["responses"].values()
    ]
    examples += [
        response["content"]["application/json"]["example"]
        for operations in contract["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
        if "content" in response and "example" in response["content"]["application/json"]
    ]
    assert len(examples) >= 6
    for example in examples:
        assert ErrorBody.model_validate_json(json.dumps(example)).model_dump() == example


def test_absent_optional_fields_read_as_null(example_application: dict[str, Any]) -> None:
    minimal = {
        key: example_application[key]
        for key in ("receipt_number", "application_type", "status", "filed_on", "updated_at")
    }
    application = Application.model_validate_json(json.dumps(minimal))
    assert application.applicant is None and application.decided_on is None
    record = application_record(application)
    assert record["applicant_full_name"] is None
    assert record["updated_at"] == "2026-09-14T10:21:05+09:00"
    assert record["filed_on"] == "2026-08-03"


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"filed_on": "2026/08/03"}, "date_parsing"),
        ({"filed_on": 20260803}, "date_type"),
        ({"updated_at": "2026-09-14T10:21:05"}, "timezone_aware"),
        ({"application_type": "renewal"}, "literal_error"),
        ({"receipt_number": ""}, "string_too_short"),
        ({"granted_status": 3}, "string_type"),
        ({"surprise": True}, "extra_forbidden"),
    ],
    ids=[
        "slashed-date",
        "numeric-date",
        "naive-timestamp",
        "bad-type",
        "empty-receipt",
        "number-as-text",
        "unknown-field",
    ],
)
def test_contract_violations_are_rejected(
    example_application: dict[str, Any], change: dict[str, Any], error_type: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Application.model_validate_json(json.dumps({**example_application, **change}))
    assert error_type in {error["type"] for error in caught.value.errors()}


def test_dataset_rejects_duplicate_receipts_and_bad_seeds(
    example_application: dict[str, Any],
) -> None:
    seed = {"organization_applications": [example_application], "personal_applications": []}
    dataset = SimulatorDataset.from_json(json.dumps(seed))
    assert dataset.find(example_application["receipt_number"]) is not None
    duplicate = {**seed, "personal_applications": [example_application]}
    with pytest.raises(ConfigError, match="duplicate receipt number"):
        SimulatorDataset.from_json(json.dumps(duplicate))
    broken = {**seed, "organization_applications": [{**example_application, "status": "OK"}]}
    with pytest.raises(ConfigError, match="organization_applications.0.status") as caught:
        SimulatorDataset.from_json(json.dumps(broken))
    assert "NGUYEN" not in str(caught.value)
    with pytest.raises(ConfigError, match="personal_applications: missing"):
        SimulatorDataset.from_json(json.dumps({"organization_applications": []}))
