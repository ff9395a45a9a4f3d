"""Alerting rules (deploy/prometheus/alerts.yml): valid, unit-tested with promtool, every alert covered, and
about metrics a real instance exports (a renamed metric would leave an alert that can never fire)."""
import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from tests.helpers import ROOT, free_port, stop_process, wait_http

PROMTOOL = shutil.which("promtool")
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULE_TESTS = ROOT / "tests/alerts_test.yml"


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make test installs Debian's prometheus)")
def test_rules_are_valid_and_fire_only_when_they_should():
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        out = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_unit_test():
    alerts = {r["alert"] for r in rules()}
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts and alerts == tested


def test_rules_name_metrics_a_real_instance_exports(one_worker):
    base, _ = one_worker
    urllib.request.urlopen(base + "/health", timeout=10).read()  # so the latency histogram has a series
    answer = urllib.request.Request(base + "/classify", data=b'{"name": "Nakamura"}',
                                    headers={"Content-Type": "application/json"})
    urllib.request.urlopen(answer, timeout=10).read()  # so the name answers have a series
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        exported = set(re.findall(r"^([a-z_]+)[{ ]", r.read().decode(), re.M))
    named = {m for r in rules() for m in re.findall(r"\b([a-z_]+)\{", r["expr"])} - {"up"}  # up: Prometheus' own
    assert len(named) >= 5 and named <= exported, named - exported


PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (make test installs Debian's prometheus)")
def test_a_real_prometheus_scrapes_an_instance_and_evaluates_the_rules(one_worker, tmp_path):
    """Prometheus itself, scraping the one-worker gunicorn every second with the rules loaded: the exposition
    parses (up is 1, model_info arrives), and every rule evaluates on the real series without an error."""
    base, port = one_worker
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "name-origin", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
    web = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address={web}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def api(path):
        with urllib.request.urlopen(f"http://{web}/api/v1/{path}", timeout=5) as r:
            return json.loads(r.read())["data"]

    try:
        wait_http(f"http://{web}/-/ready", timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            up, info = api("query?query=up")["result"], api("query?query=model_info")["result"]
            if up and info:
                break
            time.sleep(0.5)
        time.sleep(2.5)  # two more rule evaluations (every second), now on scraped series
        evaluated = [r for g in api("rules")["groups"] for r in g["rules"]]
        assert [s["value"][1] for s in up] == ["1"], up
        assert {s["metric"]["model"] for s in info} == {"names-gru", "entity-review"}, info  # the fixture's models
        failing = [(r["name"], r.get("lastError")) for r in evaluated if r["health"] != "ok"]
        assert len(evaluated) == len(rules()) and not failing, failing
    finally:
        stop_process(proc)
