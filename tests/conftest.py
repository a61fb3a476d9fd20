"""Fixtures that start real servers: Dovecot, an SMTP server and the databases.

``pytest --db sqlite`` (or ``--db postgresql``) runs one database backend; default both.
"""

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

from tests.servers import Dovecot, ImapUser, SmtpServer

pytest_plugins = ("tests.deployment",)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=(*BACKENDS, "both"),
        default="both",
        help="database backend(s) for tests that use database_url (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Parametrising here, not in the fixture, lets --db choose the backends
    # for every test that needs database_url, directly or through a fixture.
    if "database_url" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("db")
        backends = BACKENDS if chosen == "both" else (chosen,)
        metafunc.parametrize("database_url", backends, indirect=True)


# -- mail servers ---------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """The session's Dovecot: IMAP with IDLE, IMAPS and LMTP on loopback."""
    yield from _serve_dovecot(tmp_path_factory, idle=True)


@pytest.fixture(scope="session")
def dovecot_noidle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """A second Dovecot whose CAPABILITY leaves out IDLE, like 163.com."""
    yield from _serve_dovecot(tmp_path_factory, idle=False)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """A fresh account on the session's Dovecot, with a random password."""
    return dovecot.new_user()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server, fresh for this test, without AUTH or TLS."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers with options (auth, starttls, implicit_tls)."""
    servers: list[SmtpServer] = []

    def make(
        *,
        auth: tuple[str, str] | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
    ) -> SmtpServer:
        server = SmtpServer(auth=auth, starttls=starttls, implicit_tls=implicit_tls)
        server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


def _serve_dovecot(factory: pytest.TempPathFactory, *, idle: bool) -> Iterator[Dovecot]:
    # pytest's temporary folders are 0700, and every pytest session makes
    # /tmp/pytest-of-USER 0700 again when it starts, even while another
    # session runs: Dovecot's unprivileged users could not reach a root in
    # there. So the root is a folder of its own (mode 755); its log is
    # copied into pytest's folder at the end, to read after a failure.
    root = Path(tempfile.mkdtemp(prefix="suqiu-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root, idle=idle)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        logs = factory.mktemp("dovecot" if idle else "dovecot-noidle")
        (logs / "dovecot.log").write_text(server.log_text())
        shutil.rmtree(root, ignore_errors=True)


# -- databases ------------------------------------------------------------------


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL to an empty database: a SQLite file or a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'suqiu.db'}"
    else:
        yield from postgresql_schema(os.environ.get("SUQIU_TEST_PG", DEFAULT_PG))


def postgresql_schema(base: str) -> Iterator[str]:
    url = make_url(base)
    shown = url.render_as_string(hide_password=True)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is unreachable at {shown}: {exc}\n"
            "Start it (scripts/test does), point SUQIU_TEST_PG at one, "
            "or run only the SQLite half with --db sqlite.",
            pytrace=False,
        )

    # search_path in the connection options puts every table, Alembic's
    # version table included, into this test's own schema.
    schema = f"test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        separator = "&" if "?" in base else "?"
        try:
            yield f"{base}{separator}options=-csearch_path%3D{schema}"
        finally:
            _drop_schema(admin, schema)


def _drop_schema(admin: psycopg.Connection[TupleRow], schema: str) -> None:
    # A test that left a transaction open holds locks in its schema; rather
    # than hang the teardown, its connections are ended after a short wait.
    drop = sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))
    admin.execute("SET lock_timeout = '5s'")
    try:
        admin.execute(drop)
    except psycopg.errors.LockNotAvailable:
        admin.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
            " JOIN pg_class c ON c.oid = l.relation"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND l.pid <> pg_backend_pid()",
            (schema,),
        )
        admin.execute(drop)
