"""The Dockerfile, Makefile, supervisor and redis configs agree with each other."""
import re

import yaml

from tests.helpers import ROOT


def read(name):
    return (ROOT / name).read_text()


def test_dockerfile_uses_the_makefile_setup_and_supervisor_config():
    docker = read("Dockerfile")
    build, serve = docker.split("\nFROM ")[1:]  # two stages
    assert re.search(r"^RUN make system-deps install PY=", build, re.M)  # torch + transformers: exports the encoder
    assert re.search(r"^RUN .*models.encoder_onnx", build, re.M)
    assert re.search(r"^RUN make system-deps install-serve PY=", serve, re.M)  # what a worker imports, no more
    assert re.search(r"^COPY --from=build \S*\.cache/onnx", serve, re.M)
    assert 'CMD ["supervisord", "-n", "-c", "deploy/supervisord.conf"]' in docker
    # not root, the same user as the Kubernetes pod, owning the one folder it writes (tests/test_e2e_supervisor.py)
    user = re.search(r"^USER (\d+):(\d+)$", serve, re.M)
    pod = yaml.safe_load_all(read("deploy/k8s/service.yaml")).__next__()["spec"]["template"]["spec"]["securityContext"]
    assert user and (int(user[1]), int(user[2])) == (pod["runAsUser"], pod["runAsGroup"])
    assert f"chown {user[1]}:{user[2]} /srv/app/run" in serve and "RUN_DIR=/srv/app/run" in serve
    needed = set(re.findall(r"%\(ENV_(\w+)\)s", read("deploy/supervisord.conf")))
    docker_env = set(re.findall(r"\b([A-Z_]+)=", " ".join(l for l in docker.splitlines() if l.startswith("ENV "))))
    make_env = set(re.findall(r"^export (\w+)", read("Makefile"), re.M))
    assert needed <= docker_env and needed <= make_env, (needed - docker_env, needed - make_env)


def test_requirements_pin_cpu_torch_and_everything_else():
    reqs = [l for l in read("requirements.txt").splitlines() if l and not l.startswith("#")]
    serve = [l for l in read("requirements-serve.txt").splitlines() if l and not l.startswith("#")]
    assert reqs[0] == "-r requirements-serve.txt" and "torch==2.13.0" in reqs
    assert all("==" in r for r in reqs[1:] + serve)
    assert not any(r.startswith(("torch", "transformers")) for r in serve)


def test_redis_is_a_loopback_cache_and_gunicorn_is_group_stopped():
    redis_conf = read("deploy/redis.conf")
    assert "bind 127.0.0.1" in redis_conf and "maxmemory-policy allkeys-lru" in redis_conf and 'save ""' in redis_conf
    sup = read("deploy/supervisord.conf")
    assert "stopasgroup=true" in sup and "killasgroup=true" in sup and "autorestart=true" in sup


def test_readme_opens_with_serve_and_test():
    first_block = read("README.md").split("```")[1]
    commands = [l.split("#")[0].strip() for l in first_block.splitlines()[1:] if l.strip()]
    assert commands == ["make serve", "make test"]
