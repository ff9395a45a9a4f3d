"""Load every expected model as a worker would, in a process of its own: exit 0, or 1 with the reason in one line.

    python -m app.preflight     # the same settings (environment) the workers will have

gunicorn kills the old workers as soon as it has forked the new ones on HUP, and halts when a new one cannot boot:
a corrupt checkpoint or broken code on disk at a reload took the whole service down (the master exited within a
second, tests/test_reload.py). So `make reload` runs this before it signals the master, and the master runs it on
every HUP before it replaces its workers (deploy/gunicorn.conf.py); on failure the old workers serve on.
"""
import os
import sys


def main() -> int:
    # The check is no worker: files of its own among the workers' metrics would be counted as one's (model_info).
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        from app import create_app
        create_app()
    except Exception as e:  # anything a worker's boot would die of: settings, checkpoints, imports
        reason = str(e).strip().splitlines()
        print(f"{type(e).__name__}: {reason[0] if reason else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
