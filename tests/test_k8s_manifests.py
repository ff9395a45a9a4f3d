"""The Kubernetes manifests parse and probe the right endpoints, and the pod's security settings hold for real."""
import os
import re
import subprocess
import urllib.request

import pytest
import yaml

from app.config import from_env
from tests.helpers import ROOT, can_isolate, free_port, http, isolated, process_status, stop_process, wait_http


def env_of(container: dict) -> dict:
    """A container's literal environment values (those from secrets and fields are left out)."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def manifests() -> dict[str, dict]:
    """The documents of deploy/k8s/service.yaml, by kind."""
    return {d["kind"]: d for d in yaml.safe_load_all((ROOT / "deploy/k8s/service.yaml").read_text())}


def test_manifests_are_valid_and_probe_ready_and_health():
    kinds = manifests()
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
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


def test_rollouts_and_drains_keep_a_ready_pod():
    docs = manifests()
    assert docs["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = docs["PodDisruptionBudget"]["spec"]
    assert budget["minAvailable"] == 1 and budget["selector"] == docs["Deployment"]["spec"]["selector"]


def pod_spec() -> tuple[dict, dict]:
    spec = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


@pytest.mark.skipif(not can_isolate(), reason="needs root, mount namespaces (unshare -m) and setpriv")
def test_the_service_runs_as_the_pod_does_read_only_and_not_root(tmp_path, redis_server):
    """The manifest's security settings, for real: in a mount namespace the project (the image's files, its venv and
    checkpoints) is read-only, the pod's emptyDirs are fresh tmpfs mounts, and gunicorn runs as the pod's user and
    group without any capability. Every endpoint answers, the cache and the metrics files work, no error is logged."""
    spec, container = pod_spec()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"] and spec["securityContext"]["runAsNonRoot"]
    user, group = spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/srv/app/run", "/tmp"}  # the Dockerfile's RUN_DIR (PROJECT_DIR /srv/app) and /tmp
    run_dir = ROOT / "run"  # RUN_DIR here, as /srv/app/run there
    run_dir.mkdir(exist_ok=True)
    port = free_port()
    argv = isolated(".venv/bin/gunicorn -c deploy/gunicorn.conf.py app.wsgi:app", user, group,
                    read_only=[ROOT], tmpfs=[run_dir])  # and /tmp
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "RUN_DIR": str(run_dir), "WORKERS": "1",
           "REDIS_URL": redis_server.url, "HOME": "/"}  # the kubelet's HOME for a user the image does not name
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "pod.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/ready", timeout=90, proc=proc)
        status = process_status(proc.pid)
        assert status["Uid"].split() == [str(user)] * 4 and status["Gid"].split() == [str(group)] * 4
        # the master itself: unshare, sh and setpriv each exec'd the next
        assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
        assert http("GET", base + "/ready")[1]["cache"] == "ok"
        for _ in range(2):
            status, body = http("POST", base + "/classify", {"name": "Nakamura"})
            assert status == 200 and body["predictions"][0]["language"] == "Japanese"
        assert body["cached"] is True  # written to Redis and read back
        status, body = http("POST", base + "/review-entity", {"text": "手內肌萎縮"})  # OpenCC's tables, read-only
        assert status == 200 and body["valid"] is True
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            assert b'name_answers_total{confidence="high",language="Japanese",model="gru"} 2.0' in r.read()
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert r.status == 200
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "Booting worker" in text and not re.search(r"Read-only file system|Permission denied|Traceback", text), text
