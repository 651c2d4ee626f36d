"""deploy/k8s: every rendered object is valid Kubernetes, probes/resources/PDBs
are complete, and the KEDA objects scale on the streams and groups that
shared/pipeline/stages.py declares.

Built-in kinds are validated against the Kubernetes JSON schemas shipped in the
``kubernetes-validate`` package (strict: unknown fields fail). KEDA's CRDs are
not in those schemas, so they are checked against KEDA_SCHEMA below (the fields
feedpipe uses, written from KEDA's ScaledObject/TriggerAuthentication docs).
Overlays are rendered with ``kubectl kustomize`` (or ``kustomize build``); the
base's own files are validated without rendering, so that part runs everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared import metrics
from shared.pipeline import stages, streams

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/production", "overlays/redis-cluster")
PRODUCTION = ("overlays/production", "overlays/redis-cluster")
K8S_VERSION = "1.32.0"
WORKERS = stages.names(stages.WORKERS)
SERVICES = stages.names(stages.SERVICES)
KEDA_GROUP = "keda.sh/v1alpha1"
STREAM_SCALERS = {"redis-streams", "redis-sentinel-streams", "redis-cluster-streams"}

_STR = {"type": "string", "minLength": 1}
_COUNT = {"type": "string", "pattern": "^[1-9][0-9]*$"}
KEDA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": KEDA_GROUP},
        "kind": {"enum": ["ScaledObject", "TriggerAuthentication"]},
        "metadata": {"type": "object", "required": ["name"]},
    },
    "allOf": [
        {
            "if": {"properties": {"kind": {"const": "ScaledObject"}}},
            "then": {
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["scaleTargetRef", "triggers"],
                        "additionalProperties": False,
                        "properties": {
                            "scaleTargetRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": _STR,
                                    "kind": _STR,
                                    "apiVersion": _STR,
                                },
                            },
                            "minReplicaCount": {"type": "integer", "minimum": 0},
                            "maxReplicaCount": {"type": "integer", "minimum": 1},
                            "pollingInterval": {"type": "integer", "minimum": 1},
                            "cooldownPeriod": {"type": "integer", "minimum": 0},
                            "advanced": {"type": "object"},
                            "triggers": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "metadata"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": _STR,
                                        "name": _STR,
                                        "metricType": {"enum": ["AverageValue", "Value"]},
                                        "authenticationRef": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {"name": _STR},
                                        },
                                        # KEDA takes every trigger parameter as a string.
                                        "metadata": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    }
                }
            },
        },
        {
            "if": {"properties": {"kind": {"const": "TriggerAuthentication"}}},
            "then": {
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["secretTargetRef"],
                        "properties": {
                            "secretTargetRef": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["parameter", "name", "key"],
                                    "additionalProperties": False,
                                    "properties": {"parameter": _STR, "name": _STR, "key": _STR},
                                },
                            }
                        },
                    }
                }
            },
        },
    ],
}


def _renderer() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(overlay: str) -> list[dict[str, Any]]:
    command = _renderer()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    out = subprocess.run(
        [*command, str(K8S / overlay)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(str(request.param))


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


def env_of(objs: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the pod sees it: ConfigMaps in envFrom, then env."""
    maps = by_kind(objs, "ConfigMap")
    found: dict[str, str] = {}
    container = containers(deployment)[0]
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            found.update(maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            found[var["name"]] = var["value"]
    return found


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    for item in container["ports"]:
        if item["name"] == port:
            return int(item["containerPort"])
    raise AssertionError(f"no port named {port} in {container['name']}")


def stream_name_on(scaler: str, stream: str) -> str:
    """The stream's key as feedpipe names it on the Redis topology a scaler reads:
    on a Cluster with the hash-tagged prefix of shared.pipeline.streams.key_prefix."""
    plain = streams.key_prefix(None)
    assert stream.startswith(plain)
    if scaler == "redis-cluster-streams":
        return streams.key_prefix("redis+cluster://h:1") + stream.removeprefix(plain)
    return stream


def validate_builtin(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


# --- schemas ---------------------------------------------------------------------------


def test_base_and_component_files_are_valid_kubernetes_without_rendering() -> None:
    dirs = [K8S / "base", *sorted(p for p in (K8S / "components").iterdir() if p.is_dir())]
    checked = 0
    for directory in dirs:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        for name in kustomization.get("resources", []):  # whole objects, not patches
            for obj in yaml.safe_load_all((directory / name).read_text()):
                if obj["apiVersion"] == KEDA_GROUP:
                    jsonschema.validate(obj, KEDA_SCHEMA)
                else:
                    validate_builtin(obj)
                checked += 1
    assert checked >= 20


def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(
    rendered: list[dict[str, Any]],
) -> None:
    for obj in rendered:
        if obj["apiVersion"] == KEDA_GROUP:
            continue
        validate_builtin(obj)


def test_keda_objects_are_valid_against_the_keda_schema(rendered: list[dict[str, Any]]) -> None:
    keda = [o for o in rendered if o["apiVersion"] == KEDA_GROUP]
    assert keda
    for obj in keda:
        jsonschema.validate(obj, KEDA_SCHEMA)


def test_the_keda_schema_rejects_a_numeric_trigger_parameter() -> None:
    bad = {
        "apiVersion": KEDA_GROUP,
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"name": "x"},
            "triggers": [{"type": "redis-streams", "metadata": {"lagCount": 5}}],
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, KEDA_SCHEMA)


def test_kubernetes_schema_validation_rejects_an_unknown_field() -> None:
    deployment = yaml.safe_load((K8S / "base" / "parser.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(deployment)


# --- services --------------------------------------------------------------------------


def test_every_service_is_a_deployment(rendered: list[dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(by_kind(rendered, "Deployment"))


def test_every_service_has_healthz_liveness_and_readyz_readiness_on_its_http_port(
    rendered: list[dict[str, Any]],
) -> None:
    for name in SERVICES:
        deployment = by_kind(rendered, "Deployment")[name]
        env = env_of(rendered, deployment)
        container = containers(deployment)[0]
        expected = int(env["FEEDPIPE_API_PORT"] if name == "api" else env["FEEDPIPE_METRICS_PORT"])
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert live["path"] == "/healthz"
        assert ready["path"] == "/readyz"
        assert port_number(container, live["port"]) == expected
        assert port_number(container, ready["port"]) == expected


def test_services_listen_on_all_interfaces_inside_the_pod(rendered: list[dict[str, Any]]) -> None:
    deployments = by_kind(rendered, "Deployment")
    for name in WORKERS:
        env = env_of(rendered, deployments[name])
        assert env["FEEDPIPE_METRICS_HOST"] == "0.0.0.0"
        assert env["FEEDPIPE_METRICS_PORT"] == "9100"
    api_env = env_of(rendered, deployments["api"])
    assert api_env["FEEDPIPE_API_HOST"] == "0.0.0.0"


def test_every_container_has_resource_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    workloads = [o for o in rendered if o["kind"] in {"Deployment", "StatefulSet"}]
    for obj in workloads:
        for container in containers(obj):
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), obj["metadata"]["name"]


def test_every_service_has_a_pod_disruption_budget_selecting_its_pods(
    rendered: list[dict[str, Any]],
) -> None:
    budgets = by_kind(rendered, "PodDisruptionBudget")
    for name in SERVICES:
        labels = by_kind(rendered, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()


def test_prometheus_scrape_annotations_point_at_the_metrics_port(
    rendered: list[dict[str, Any]],
) -> None:
    for name in SERVICES:
        template = by_kind(rendered, "Deployment")[name]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/path"] == "/metrics"
        container = template["spec"]["containers"][0]
        ports = {p["containerPort"] for p in container["ports"]}
        assert int(notes["prometheus.io/port"]) in ports


def test_every_secret_and_config_map_a_pod_reads_is_defined_or_created_out_of_band(
    rendered: list[dict[str, Any]],
) -> None:
    maps = set(by_kind(rendered, "ConfigMap"))
    secrets = set(by_kind(rendered, "Secret"))
    for deployment in by_kind(rendered, "Deployment").values():
        for source in containers(deployment)[0]["envFrom"]:
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in maps
            else:  # the production Secret is created out of band; the dev one is rendered
                assert source["secretRef"]["name"] == "feedpipe-secrets"
    assert secrets <= {"feedpipe-secrets"}


# --- autoscaling -----------------------------------------------------------------------


def test_each_stream_stage_scales_on_its_own_stream_and_consumer_group(
    rendered: list[dict[str, Any]],
) -> None:
    scaled = by_kind(rendered, "ScaledObject")
    for stage in stages.STAGES:
        spec = scaled[stage.name]["spec"]
        assert spec["scaleTargetRef"]["name"] == stage.name
        (trigger,) = spec["triggers"]
        assert trigger["type"] in STREAM_SCALERS
        meta = trigger["metadata"]
        assert meta["stream"] == stream_name_on(trigger["type"], stage.input.name)
        assert meta["consumerGroup"] == stage.group
        assert "lagCount" in meta or "pendingEntriesCount" in meta
        assert int(meta.get("lagCount", meta.get("pendingEntriesCount", "0"))) > 0
        assert spec["maxReplicaCount"] > spec.get("minReplicaCount", 0) >= 1


def test_the_poller_scales_on_the_schedule_lag_metric(rendered: list[dict[str, Any]]) -> None:
    spec = by_kind(rendered, "ScaledObject")["poller"]["spec"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    metric = metrics.SCHEDULE_LAG._name
    assert metric == "feedpipe_schedule_lag_seconds"
    assert metric in trigger["metadata"]["query"]
    assert float(trigger["metadata"]["threshold"]) > 0


def test_stream_triggers_authenticate_with_the_redis_password_secret(
    rendered: list[dict[str, Any]],
) -> None:
    auths = by_kind(rendered, "TriggerAuthentication")
    for obj in by_kind(rendered, "ScaledObject").values():
        for trigger in obj["spec"]["triggers"]:
            if trigger["type"] in STREAM_SCALERS:
                auth = auths[trigger["authenticationRef"]["name"]]
                (ref,) = auth["spec"]["secretTargetRef"]
                assert (ref["parameter"], ref["name"]) == ("password", "feedpipe-secrets")


def test_every_scaled_deployment_exists(rendered: list[dict[str, Any]]) -> None:
    deployments = by_kind(rendered, "Deployment")
    for obj in by_kind(rendered, "ScaledObject").values():
        assert obj["spec"]["scaleTargetRef"]["name"] in deployments


# --- overlays --------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", PRODUCTION)
def test_production_runs_no_in_cluster_stores_and_pins_its_image(overlay: str) -> None:
    objs = render(overlay)
    assert not by_kind(objs, "StatefulSet")
    assert not by_kind(objs, "Secret")  # created out of band
    for deployment in by_kind(objs, "Deployment").values():
        image = containers(deployment)[0]["image"]
        name, _, tag = image.rpartition(":")
        assert "/" in name
        assert tag not in ("", "latest")


@pytest.mark.parametrize("overlay", PRODUCTION)
def test_production_puts_every_namespaced_object_in_its_namespace(overlay: str) -> None:
    objs = render(overlay)
    assert "feedpipe" in by_kind(objs, "Namespace")
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "feedpipe", obj["metadata"]["name"]


def test_dev_runs_redis_and_postgres_as_stateful_sets_with_volumes() -> None:
    objs = render("overlays/dev")
    sets = by_kind(objs, "StatefulSet")
    assert {"redis", "postgres"} <= set(sets)
    for obj in sets.values():
        assert obj["spec"]["volumeClaimTemplates"]


def test_the_cluster_overlay_reads_the_hash_tagged_streams_with_the_cluster_scaler() -> None:
    scaled = by_kind(render("overlays/redis-cluster"), "ScaledObject")
    for stage in stages.names(stages.STAGES):
        (trigger,) = scaled[stage]["spec"]["triggers"]
        assert trigger["type"] == "redis-cluster-streams"
        assert trigger["metadata"]["stream"].startswith("{feedpipe}:stream:")
