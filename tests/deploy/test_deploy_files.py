"""The deployment files (deploy/, Dockerfile) parse, and every name they use exists in the code: the
PATHWAY_* settings, the `pathway` commands, the probe routes and ports, the images, the codec endpoint
the Temporal UI calls, and the metrics the Grafana dashboard charts. The API they run signs people in
through an OIDC issuer and never serves the dev sign-in page."""

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from fastapi.routing import APIRoute

from api.app import PUBLIC_PATHS
from api.codec import router as codec_router
from cli.main import app
from workers.health import Readiness, health_app
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "pathway.env.example"
KUBERNETES = DEPLOY / "kubernetes"
DASHBOARD = DEPLOY / "grafana" / "pathway.json"
METRICS_SOURCE = ROOT / "workers" / "metrics.py"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
OUR_IMAGE = f"pathway:{VERSION}"
API_PORT = 8000  # `pathway api --port` in the files; the probes and the codec endpoint use it too
TEMPORAL_IMAGES = {"temporalio/server", "temporalio/admin-tools", "temporalio/ui"}
OIDC_SETTINGS = ("PATHWAY_OIDC_JWKS_URL", "PATHWAY_JWT_ISSUER", "PATHWAY_JWT_AUDIENCE")


def yaml_documents(path: Path) -> list[Any]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]


def kubernetes_objects() -> Iterator[dict[str, Any]]:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        yield from yaml_documents(path)


def workloads() -> dict[str, dict[str, Any]]:
    """Deployments and Jobs by name."""
    return {o["metadata"]["name"]: o for o in kubernetes_objects() if o["kind"] in {"Deployment", "Job"}}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def configmap() -> dict[str, str]:
    (config,) = [o for o in kubernetes_objects() if o["kind"] == "ConfigMap"]
    data: dict[str, str] = config["data"]
    return data


# --- they parse -------------------------------------------------------------------------------------


def test_every_yaml_and_json_file_parses() -> None:
    yaml_files = sorted(DEPLOY.rglob("*.yaml"))
    assert COMPOSE in yaml_files and len(list(KUBERNETES.glob("*.yaml"))) >= 5
    for path in yaml_files:
        assert yaml_documents(path), path
    for path in DEPLOY.rglob("*.json"):
        assert json.loads(path.read_text()), path


def test_the_kustomization_lists_every_manifest() -> None:
    (kustomization,) = yaml_documents(KUBERNETES / "kustomization.yaml")
    manifests = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


# --- settings ---------------------------------------------------------------------------------------


def real_setting_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


def test_every_pathway_variable_named_is_a_setting() -> None:
    texts = {path: path.read_text() for path in [DOCKERFILE, *DEPLOY.rglob("*")] if path.is_file()}
    named = {
        (name, path.relative_to(ROOT).as_posix())
        for path, text in texts.items()
        for name in re.findall(r"\bPATHWAY_[A-Z0-9_]*[A-Z0-9]", text)
    }
    assert len(named) > 20
    real = real_setting_names()
    assert {"PATHWAY_TEMPORAL_TLS_CERT_FILE", "PATHWAY_DATABASE_POOL_SIZE", "PATHWAY_PROFILE_FILE"} <= real
    assert sorted((name, path) for name, path in named if name not in real) == []


def test_kubernetes_secrets_are_keyed_by_the_setting_they_hold() -> None:
    for name, workload in workloads().items():
        for container in containers(workload):
            for variable in container.get("env", []):
                secret = variable.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret["key"] == variable["name"], name


# --- commands ---------------------------------------------------------------------------------------


def assert_pathway_command(args: list[str]) -> None:
    """`args` (after `pathway`) name a real subcommand, and every option given is one of its options."""
    command: Any = typer.main.get_command(app)  # typer's own click: groups have `commands`
    rest = list(args)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    assert not hasattr(command, "commands"), f"`pathway {' '.join(args)}` names no command"
    options = {option for param in command.params for option in param.opts if option.startswith("-")}
    given = {arg.split("=")[0] for arg in rest if arg.startswith("-")}
    assert given <= options, f"`pathway {' '.join(args)}`: unknown options {given - options}"


def commands_run() -> list[list[str]]:
    commands = []
    for service in compose()["services"].values():
        if service.get("image") == OUR_IMAGE:
            commands.append(service["command"])
    for workload in workloads().values():
        for container in containers(workload):
            if container["image"] == OUR_IMAGE:
                commands.append(container["args"])
    (cmd,) = re.findall(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    commands.append(json.loads(cmd))
    for line in (DEPLOY / "OPERATIONS.md").read_text().splitlines():
        if line.strip().startswith("pathway "):
            commands.append([word for word in line.split("#")[0].split()[1:] if not word.isupper()])
    return commands


def test_every_command_run_is_a_pathway_subcommand() -> None:
    commands = commands_run()
    api_command = ["api", "--host", "0.0.0.0", "--port", str(API_PORT)]  # every interface, in a container
    assert ["worker"] in commands and ["setup"] in commands and api_command in commands
    for args in commands:
        assert_pathway_command(args)


# --- sign-in ----------------------------------------------------------------------------------------


def required_in_compose(value: str) -> str | None:
    """The variable a compose value requires (`${VAR:?message}`), or None."""
    found = re.fullmatch(r"\$\{(\w+):\?.+\}", value)
    return found.group(1) if found else None


def test_the_api_requires_an_oidc_issuer_and_never_passes_dev_login() -> None:
    # Issue 15, F1: the compose file ran `pathway api` on 0.0.0.0 with only PATHWAY_JWT_SECRET, which
    # served the password-less dev sign-in page listing every staff id.
    api_environment = compose()["services"]["api"]["environment"]
    for setting in OIDC_SETTINGS:
        assert required_in_compose(api_environment[setting]) == setting, setting
    assert "PATHWAY_JWT_SECRET" not in api_environment  # optional, and unused with OIDC
    (api,) = containers(workloads()["pathway-api"])
    from_secrets = {
        v["name"]: v["valueFrom"]["secretKeyRef"] for v in api["env"] if "secretKeyRef" in v.get("valueFrom", {})
    }
    for setting in OIDC_SETTINGS:
        assert setting in from_secrets and not from_secrets[setting].get("optional", False), setting
    assert "PATHWAY_JWT_SECRET" not in from_secrets
    commands = commands_run()
    assert ["api", "--host", "0.0.0.0", "--port", str(API_PORT)] in commands
    assert [args for args in commands if "--dev-login" in args] == []


def test_every_variable_compose_requires_is_in_the_env_example() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert set(OIDC_SETTINGS) <= required and "PATHWAY_JWT_SECRET" not in required
    listed = set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert sorted(required - listed) == []


# --- probes, ports, shutdown ------------------------------------------------------------------------


def worker_routes() -> set[str]:
    async def no_metrics() -> str:
        return ""

    return {route.path for route in health_app(Readiness(), no_metrics).routes if isinstance(route, APIRoute)}


def probes(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}


def test_the_worker_probes_its_health_routes() -> None:
    health_port = Settings.model_fields["health_port"].default
    assert health_port == 8081 and int(configmap()["PATHWAY_HEALTH_PORT"]) == health_port
    assert {"/healthz", "/readyz", "/metrics"} <= worker_routes()
    (worker,) = containers(workloads()["pathway-worker"])
    found = probes(worker)
    assert found["livenessProbe"]["path"] == "/healthz" and found["readinessProbe"]["path"] == "/readyz"
    for probe in found.values():
        assert probe["path"] in worker_routes() and probe["port"] == health_port
    assert [p["containerPort"] for p in worker["ports"]] == [health_port]
    annotations = workloads()["pathway-worker"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and int(annotations["prometheus.io/port"]) == health_port
    assert str(health_port) in compose()["services"]["worker"]["healthcheck"]["test"][-1]


def test_the_api_probes_its_health_routes() -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= PUBLIC_PATHS  # served without signing in
    (api,) = containers(workloads()["pathway-api"])
    assert api["args"] == ["api", "--host", "0.0.0.0", "--port", str(API_PORT)]
    found = probes(api)
    assert found["livenessProbe"]["path"] == "/healthz" and found["readinessProbe"]["path"] == "/readyz"
    for probe in found.values():
        assert probe["path"] in PUBLIC_PATHS and probe["port"] == API_PORT
    (service,) = [o for o in kubernetes_objects() if o["kind"] == "Service"]
    assert service["spec"]["ports"][0]["targetPort"] == API_PORT
    assert service["spec"]["selector"] == workloads()["pathway-api"]["spec"]["selector"]["matchLabels"]
    assert f"localhost:{API_PORT}/readyz" in compose()["services"]["api"]["healthcheck"]["test"][-1]
    assert f"{API_PORT}:{API_PORT}" in compose()["services"]["api"]["ports"]


def test_pods_outlive_the_graceful_shutdown() -> None:
    graceful = float(configmap()["PATHWAY_GRACEFUL_SHUTDOWN_SECONDS"])
    assert graceful == Settings.model_fields["graceful_shutdown_seconds"].default
    for name in ("pathway-worker", "pathway-api"):
        assert workloads()[name]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > graceful + 10
    services = compose()["services"]
    assert float(services["worker"]["environment"]["PATHWAY_GRACEFUL_SHUTDOWN_SECONDS"]) == graceful
    for name in ("worker", "api"):
        assert int(services[name]["stop_grace_period"].removesuffix("s")) > graceful + 10


def test_workloads_request_resources_and_the_autoscaler_scales_the_worker() -> None:
    for name, workload in workloads().items():
        for container in containers(workload):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            assert {"configMapRef": {"name": "pathway-config"}} in container["envFrom"], name
    (hpa,) = [o for o in kubernetes_objects() if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "pathway-worker"}
    assert 1 < hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


# --- images -----------------------------------------------------------------------------------------


def test_images_are_pinned_official_temporal_ones_or_ours() -> None:
    images = {s["image"] for s in compose()["services"].values()} | {
        c["image"] for w in workloads().values() for c in containers(w)
    }
    assert OUR_IMAGE in images
    for image in images - {OUR_IMAGE}:
        name, _, tag = image.partition(":")
        if name.startswith("temporalio/"):
            assert name in TEMPORAL_IMAGES and re.fullmatch(r"\d+\.\d+\.\d+", tag), image
        else:
            assert name == "postgres" and re.fullmatch(r"\d+", tag), image
    assert {image.partition(":")[0] for image in images} >= TEMPORAL_IMAGES


def test_our_image_is_built_from_the_dockerfile() -> None:
    services = compose()["services"]
    for service in services.values():
        if service["image"] == OUR_IMAGE:
            assert (COMPOSE.parent / service["build"]["context"]).resolve() == ROOT
            assert service["build"]["dockerfile"] == DOCKERFILE.name
    dockerfile = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert bases[-1] == "python:3.11-slim"
    for base in bases:
        assert ":" in base and not base.endswith(":latest"), base
    assert re.search(r'^ENTRYPOINT \["pathway"\]$', dockerfile, re.MULTILINE)
    assert "pathway" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for copied in re.findall(r"^COPY (\w+) \1$", dockerfile, re.MULTILINE):
        assert (ROOT / copied / "__init__.py").exists(), copied
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert packages <= set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.MULTILINE))
    exposed = {int(port) for port in re.findall(r"^EXPOSE (.+)$", dockerfile, re.MULTILINE)[0].split()}
    assert exposed == {API_PORT, Settings.model_fields["health_port"].default}


# --- the Temporal UI and the codec endpoint ---------------------------------------------------------


def test_the_temporal_ui_reads_payloads_through_the_api_codec_endpoint() -> None:
    services = compose()["services"]
    ui = services["temporal-ui"]["environment"]
    assert codec_router.prefix == "/codec"
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{API_PORT}{codec_router.prefix}"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"  # the operator's session cookie goes along
    ui_port = services["temporal-ui"]["ports"][0].split(":")[0]
    assert services["api"]["environment"]["PATHWAY_TEMPORAL_UI_URL"] == f"http://localhost:{ui_port}"  # CORS
    assert ui["TEMPORAL_ADDRESS"] == services["worker"]["environment"]["PATHWAY_TEMPORAL_ADDRESS"]


# --- the Grafana dashboard --------------------------------------------------------------------------


def scraped_pathway_metrics() -> dict[str, str]:
    """Pathway's metric names as Prometheus scrapes them, from workers/metrics.py (one place): a
    counter gains `_total`, a histogram `_bucket`, `_sum` and `_count`."""
    series: dict[str, str] = {}
    declared = re.findall(
        r'^[A-Z_]+ = "(pathway_\w+)"\s*#\s*(counter|gauge|histogram)', METRICS_SOURCE.read_text(), re.M
    )
    assert len(declared) == 8, declared
    for name, kind in declared:
        suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}[kind]
        for suffix in suffixes:
            series[name + suffix] = name
    return series


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])] + [
        variable["definition"] for variable in dashboard["templating"]["list"] if "definition" in variable
    ]


def test_the_dashboard_charts_the_real_metrics() -> None:
    expressions = dashboard_expressions()
    named = {name for expr in expressions for name in re.findall(r"\b(?:pathway|temporal)_\w+", expr)}
    scraped = scraped_pathway_metrics()
    pathway_named = {name for name in named if name.startswith("pathway_")}
    assert sorted(pathway_named - set(scraped)) == []
    assert {scraped[name] for name in pathway_named} == set(scraped.values())  # every metric is charted
    temporal_named = {name for name in named if name.startswith("temporal_")}
    assert "temporal_workflow_task_schedule_to_start_latency_bucket" in temporal_named
    assert named == pathway_named | temporal_named


@pytest.mark.parametrize("panel_type", ["timeseries"])
def test_every_dashboard_panel_has_a_prometheus_query(panel_type: str) -> None:
    panels = [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]
    assert panels and all(p["type"] == panel_type and p["targets"] for p in panels)
    ids = [p["id"] for p in json.loads(DASHBOARD.read_text())["panels"]]
    assert len(ids) == len(set(ids))
