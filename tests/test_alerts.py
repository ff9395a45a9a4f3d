"""Alerting rules (deploy/prometheus/alerts.yml): valid, unit-tested with promtool, every alert covered, and
about metrics a real instance exports (a renamed metric would leave an alert that can never fire)."""
import re
import shutil
import subprocess
import urllib.request

import pytest
import yaml

from tests.helpers import ROOT

PROMTOOL = shutil.which("promtool")
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULE_TESTS = ROOT / "tests/alerts_test.yml"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make test installs Debian's prometheus)")
def test_rules_are_valid_and_fire_only_when_they_should():
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        out = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_unit_test():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts and alerts == tested


def test_rules_name_metrics_a_real_instance_exports(one_worker):
    base, _ = one_worker
    urllib.request.urlopen(base + "/health", timeout=10).read()  # so the latency histogram has a series
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        exported = set(re.findall(r"^([a-z_]+)[{ ]", r.read().decode(), re.M))
    exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    named = {m for e in exprs for m in re.findall(r"\b([a-z_]+)\{", e)} - {"up"}  # up: Prometheus' own
    assert len(named) >= 5 and named <= exported, named - exported
