import pytest

from app import create_app
from tests.helpers import RedisServer, gunicorn


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app(redis_server):
    """The service over the committed checkpoints and a real Redis."""
    return create_app({"REDIS_URL": redis_server.url})


@pytest.fixture
def client(app, redis_server):
    redis_server.client().flushdb()
    app.extensions["inference"].cache.clear_local()  # each test starts with every cache tier empty
    return app.test_client()


@pytest.fixture
def stack(tmp_path):
    """supervisord + redis + gunicorn from the project's deploy/ config, on free ports."""
    from tests.helpers import supervised_stack
    with supervised_stack(tmp_path) as s:
        yield s


@pytest.fixture(scope="session")
def one_worker(tmp_path_factory):
    """gunicorn from deploy/gunicorn.conf.py, one worker with two threads: one heavy request admitted."""
    with gunicorn(tmp_path_factory.mktemp("one-worker"), WORKERS="1", THREADS="2", NAME_MODELS="gru",
                  REQUEST_READ_TIMEOUT="1", CACHE_ENABLED="false") as (base, port, _):
        yield base, port
