"""The Kubernetes manifests parse and probe the right endpoints."""
import yaml

from app.config import from_env
from tests.helpers import ROOT


def env_of(container: dict) -> dict:
    """A container's literal environment values (those from secrets and fields are left out)."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def test_manifests_are_valid_and_probe_ready_and_health():
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/service.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert kinds["Deployment"]["spec"]["selector"]["matchLabels"] == kinds["Service"]["spec"]["selector"]
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]
    assert container["command"][-1] == "app.wsgi:app"
    # a terminating pod serves on while the endpoints change, then finishes what it holds, all within its grace
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep" and int(pause[1]) >= 3
    graceful = from_env(env_of(container))["GRACEFUL_TIMEOUT"]
    grace = kinds["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= int(pause[1]) + int(graceful) + 5
