"""The deployment files are wired consistently: every ``COGSIGHT_*`` name is a setting, and the
addresses, ports, credentials, buckets and volumes one service uses are the ones the other
service offers. No container is started here (no container engine in the test environment).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tileserver.settings import Settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SETTING_NAMES = {f"COGSIGHT_{name.upper()}" for name in Settings.model_fields}
COGSIGHT_SERVICES = ("api", "worker", "init")


def defaults(value: str) -> str:
    """Compose interpolation with every variable unset: ``${VAR:-default}`` -> ``default``."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    """Every Kubernetes object by (kind, name)."""
    objects = {}
    for path in sorted((DOCKER / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] != "Kustomization":
                objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: defaults(str(v)) for k, v in (service.get("environment") or {}).items()}


def test_compose_settings_exist_and_are_shared(compose: dict) -> None:
    services = compose["services"]
    envs = {name: env_of(services[name]) for name in COGSIGHT_SERVICES}
    for name, env in envs.items():
        unknown = {k for k in env if k.startswith("COGSIGHT_")} - SETTING_NAMES
        assert not unknown, f"{name}: not settings: {unknown}"
    shared = ("COGSIGHT_DATABASE_URL", "COGSIGHT_DASK_SCHEDULER", "COGSIGHT_STORAGE_URL")
    for key in shared:
        assert len({env[key] for env in envs.values()}) == 1, key
    for name in COGSIGHT_SERVICES:  # scratch space: one volume, at the data dir
        assert f"data:{envs[name]['COGSIGHT_DATA_DIR']}" in services[name]["volumes"], name


def test_compose_addresses_match_their_services(compose: dict) -> None:
    services = compose["services"]
    env = env_of(services["worker"])

    database = urlparse(env["COGSIGHT_DATABASE_URL"])
    postgres = env_of(services["postgres"])
    assert database.scheme in ("postgresql", "postgresql+psycopg")
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"

    scheduler = env["COGSIGHT_DASK_SCHEDULER"]
    port = services["scheduler"]["command"][services["scheduler"]["command"].index("--port") + 1]
    assert scheduler == f"tcp://scheduler:{port}"
    worker = services["worker"]["command"]
    assert worker[:2] == ["cogsight", "worker"] and worker[worker.index("--scheduler") + 1] == (
        scheduler
    )

    minio = env_of(services["minio"])
    assert env["COGSIGHT_S3_ENDPOINT"] == "minio:9000"
    assert env["COGSIGHT_S3_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["COGSIGHT_S3_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    bucket = urlparse(env["COGSIGHT_STORAGE_URL"]).netloc
    assert f"local/{bucket}" in services["minio-init"]["entrypoint"][-1]


def test_compose_proxy_reaches_the_api_replicas(compose: dict) -> None:
    services = compose["services"]
    api = env_of(services["api"])
    assert services["api"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["api"]  # reached only through the proxy
    nginx = (DOCKER / "nginx.conf").read_text()
    assert f"http://api:{api['COGSIGHT_PORT']}" in nginx
    assert str(api["COGSIGHT_PORT"]) in services["api"]["healthcheck"]["test"][-1]
    mount = services["proxy"]["volumes"][0].split(":")
    assert mount[0] == "./nginx.conf" and (DOCKER / "nginx.conf").exists()


def test_dockerfile_settings_exist() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    names = set(re.findall(r"\b(COGSIGHT_[A-Z_]+)=", dockerfile))
    assert names and names <= SETTING_NAMES


def test_k8s_settings_exist_and_addresses_match_services(k8s: dict) -> None:
    config = k8s[("ConfigMap", "cogsight-config")]["data"]
    secret = k8s[("Secret", "cogsight-secrets")]["stringData"]
    backing = k8s[("Secret", "cogsight-backing-secrets")]["stringData"]
    assert set(config) | set(secret) <= SETTING_NAMES

    def service_port(name: str) -> set[int]:
        return {p["port"] for p in k8s[("Service", name)]["spec"]["ports"]}

    scheduler = urlparse(config["COGSIGHT_DASK_SCHEDULER"])
    assert scheduler.port in service_port(scheduler.hostname or "")
    s3_host, s3_port = config["COGSIGHT_S3_ENDPOINT"].split(":")
    assert int(s3_port) in service_port(s3_host)
    database = urlparse(secret["COGSIGHT_DATABASE_URL"])
    assert database.port in service_port(database.hostname or "")
    assert database.password == backing["POSTGRES_PASSWORD"]
    assert secret["COGSIGHT_S3_ACCESS_KEY_ID"] == backing["MINIO_ROOT_USER"]
    assert secret["COGSIGHT_S3_SECRET_ACCESS_KEY"] == backing["MINIO_ROOT_PASSWORD"]
    bucket = urlparse(config["COGSIGHT_STORAGE_URL"]).netloc
    job = k8s[("Job", "cogsight-minio-bucket")]["spec"]["template"]["spec"]["containers"][0]
    assert f"local/{bucket}" in job["command"][-1]
    worker = k8s[("Deployment", "cogsight-worker")]["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][worker["command"].index("--scheduler") + 1] == scheduler.geturl()


def test_k8s_references_resolve(k8s: dict) -> None:
    """Selectors select their pods, Services point at declared ports, and every ConfigMap,
    Secret and claim a pod names exists."""
    workloads = [o for (kind, _), o in k8s.items() if kind in ("Deployment", "StatefulSet")]
    for workload in workloads:
        spec = workload["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        pod = spec["template"]["spec"]
        claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        for volume in pod.get("volumes", []):
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert ("PersistentVolumeClaim", claim) in k8s
            claims.add(volume["name"])
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                kind = "ConfigMap" if "configMapRef" in source else "Secret"
                assert (kind, ref["name"]) in k8s
            for var in container.get("env", []):
                if "valueFrom" in var:
                    ref = var["valueFrom"]["secretKeyRef"]
                    assert ref["key"] in k8s[("Secret", ref["name"])]["stringData"]
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in claims
    for (kind, name), service in k8s.items():
        if kind != "Service":
            continue
        selected = [
            w
            for w in workloads
            if service["spec"]["selector"].items()
            <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected, f"Service {name} selects nothing"
        ports = {
            p["containerPort"]
            for w in selected
            for c in w["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
    api = k8s[("Deployment", "cogsight-api")]
    assert api["spec"]["replicas"] >= 2
    kustomization = yaml.safe_load((DOCKER / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (DOCKER / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
