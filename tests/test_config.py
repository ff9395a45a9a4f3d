"""Settings from the environment: every variable typed and bounded, a wrong one named before anything starts."""
import re
import subprocess
import sys
import time

import pytest
import yaml

from app.config import DEFAULTS, ConfigError, Settings, from_env
from tests.helpers import ROOT, free_port

# Each of these had started a service that misbehaved (measured before app/config.py checked them): the
# switches turned their feature off, REDIS_URL and REDIS_SOCKET_TIMEOUT made every request (/ready too) a
# 500, MAX_CONTENT_LENGTH every POST a 413, LOW_CONFIDENCE_THRESHOLD every answer low_confidence,
# DEFAULT_NAME_MODEL every /classify without "model" a 400 while /ready said ready, CACHE_TTL_SECONDS every
# cache write a Redis error; THREADS and MAX_CONTENT_LENGTH failed with a bare "invalid literal for int()".
WRONG = [
    ("ENTITY_REVIEW", "ture"),
    ("CACHE_ENABLED", "flase"),
    ("REDIS_URL", "localhost:6380"),
    ("REDIS_SOCKET_TIMEOUT", "-1"),
    ("REDIS_SOCKET_TIMEOUT", "nan"),
    ("MAX_CONTENT_LENGTH", "-1"),
    ("MAX_CONTENT_LENGTH", "2MB"),
    ("LOW_CONFIDENCE_THRESHOLD", "50"),
    ("DEFAULT_NAME_MODEL", "lstm2"),
    ("NAME_MODELS", "gru,foo"),
    ("NAME_MODELS", " , "),
    ("CACHE_TTL_SECONDS", "0"),
    ("THREADS", "abc"),
    ("THREADS", "0"),
    ("WORKERS", "two"),
    ("TORCH_THREADS", "0"),
    ("LOCAL_CACHE_ITEMS", "-3"),
    ("NAME_RUNTIME", "onx"),
    ("LOG_LEVEL", "verbose"),
    ("MALLOC_MMAP_THRESHOLD", str(64 << 20)),
    ("CORS_ORIGINS", "https://forms.example/"),  # a browser's Origin never has the slash: it had allowed no one
    ("CORS_ORIGINS", "forms.example"),
    ("REDIS_SENTINELS", "sentinel-a"),  # no port
    ("REDIS_SENTINELS", "sentinel-a:26379,sentinel-b:0"),
    ("REDIS_SENTINEL_MASTER", ""),
]


def test_defaults_are_valid_and_are_what_an_empty_environment_gives():
    assert from_env({}) == DEFAULTS
    assert DEFAULTS["THREADS"] == 4 and DEFAULTS["ENTITY_REVIEW"] is True and DEFAULTS["REDIS_URL"].startswith("redis://")


@pytest.mark.parametrize("name,value", WRONG)
def test_a_wrong_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as e:
        from_env({name: value})
    assert name in str(e.value)


def test_every_wrong_variable_is_named_at_once():
    with pytest.raises(ConfigError) as e:
        from_env({"THREADS": "abc", "ENTITY_REVIEW": "ture", "CACHE_TTL_SECONDS": "0", "WORKERS": "2"})
    message = str(e.value)
    assert all(n in message for n in ("THREADS='abc'", "ENTITY_REVIEW='ture'", "CACHE_TTL_SECONDS='0'"))
    assert "WORKERS" not in message
    assert "true/false" in message  # what a switch takes


def test_a_default_model_the_service_does_not_load_is_refused_but_one_it_loads_is_not():
    with pytest.raises(ConfigError, match="DEFAULT_NAME_MODEL 'gru' is not among NAME_MODELS"):
        from_env({"NAME_MODELS": "rnn,lstm"})
    assert from_env({"NAME_MODELS": " rnn, lstm ,", "DEFAULT_NAME_MODEL": "lstm"})["NAME_MODELS"] == "rnn,lstm"


def test_sentinels_are_host_port_pairs_and_need_a_tcp_primary():
    from app.config import sentinel_addresses
    assert sentinel_addresses(" a:26379, 10.0.0.2:26380 ,[::1]:5000") == [("a", 26379), ("10.0.0.2", 26380),
                                                                            ("::1", 5000)]
    settings = from_env({"REDIS_SENTINELS": "a:26379", "REDIS_URL": "rediss://:pw@ignored/2"})
    assert settings["REDIS_SENTINELS"] == "a:26379"
    with pytest.raises(ConfigError, match="REDIS_SENTINELS is set.*not unix://"):
        from_env({"REDIS_SENTINELS": "a:26379", "REDIS_URL": "unix:///run/redis.sock"})


def test_cors_origins_as_browsers_send_them_are_taken():
    for origins in ("*", "https://forms.example", "http://localhost:3000, https://a.example", ""):
        assert from_env({"CORS_ORIGINS": origins})["CORS_ORIGINS"] == origins


@pytest.mark.parametrize("raw,expected", [("true", True), ("TRUE", True), ("yes", True), ("on", True), ("1", True),
                                          (" true ", True), ("false", False), ("No", False), ("off", False),
                                          ("0", False)])
def test_switches_take_the_usual_spellings(raw, expected):
    assert from_env({"ENTITY_REVIEW": raw})["ENTITY_REVIEW"] is expected


def test_an_empty_number_or_switch_is_unset_but_an_empty_string_setting_is_kept():
    # docker-compose and shell templates write VAR= for "not set"
    settings = from_env({"THREADS": "", "ENTITY_REVIEW": " ", "ACCESS_LOG": "", "CACHE_KEY_SECRET": ""})
    assert settings["THREADS"] == DEFAULTS["THREADS"] and settings["ENTITY_REVIEW"] is True
    assert settings["ACCESS_LOG"] == "" and settings["CACHE_KEY_SECRET"] == ""
    assert from_env({"THREADS": " 8 ", "LOG_LEVEL": "WARNING", "REDIS_URL": "unix:///run/redis.sock"})["THREADS"] == 8


def test_the_readme_table_lists_every_setting_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Design notes")]
    documented = {n for row in table.splitlines() if row.startswith("| `")
                  for n in re.findall(r"`([A-Z0-9_]+)`", row.split(" | ")[0])}
    outside_the_service = {"REDIS_PORT", "DATA_DIR"}  # the Makefile's redis-server port; the training CLIs' data
    assert documented - outside_the_service == set(Settings.model_fields)


def test_what_the_deployments_set_is_valid():
    docs = yaml.safe_load_all((ROOT / "deploy/k8s/service.yaml").read_text())
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    from_env({e["name"]: e["value"] for e in container["env"] if "value" in e})
    docker = dict(pair.split("=", 1) for line in (ROOT / "Dockerfile").read_text().splitlines()
                  if line.startswith("ENV ") for pair in line[4:].split())
    from_env(docker)


def test_gunicorn_with_a_wrong_setting_exits_at_once_with_one_line_naming_it(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:app"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "BIND": f"127.0.0.1:{free_port()}", "RUN_DIR": str(tmp_path),
                               "THREADS": "0", "ENTITY_REVIEW": "ture"})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "configuration error: ENTITY_REVIEW='ture': Input should be a valid boolean, unable to interpret input "
        "(true/false, yes/no, on/off, 1/0); THREADS='0': Input should be greater than or equal to 1"]
    assert time.monotonic() - start < 30  # no model was loaded, no worker forked


def test_the_check_command_shows_settings_without_secrets():
    ok = subprocess.run([sys.executable, "-m", "app.config"], cwd=ROOT, capture_output=True, text=True,
                        env={"PATH": "/usr/bin:/bin", "CACHE_KEY_SECRET": "s3cret", "THREADS": "2",
                             "REDIS_URL": "redis://default:pa55@cache.internal:6379/0",
                             "REDIS_SENTINEL_PASSWORD": "s3ntinel"})
    assert ok.returncode == 0 and "THREADS=2" in ok.stdout.splitlines()
    assert "s3cret" not in ok.stdout and "CACHE_KEY_SECRET=(set)" in ok.stdout
    assert "s3ntinel" not in ok.stdout and "REDIS_SENTINEL_PASSWORD=(set)" in ok.stdout
    assert "pa55" not in ok.stdout and "REDIS_URL=redis://default:***@cache.internal:6379/0" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "app.config"], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "REDIS_URL": "localhost:6380"})
    assert bad.returncode == 1 and bad.stderr.startswith("configuration error: REDIS_URL='localhost:6380'")
