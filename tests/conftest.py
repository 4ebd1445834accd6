"""Shared fixtures: a real, throwaway PostgreSQL server for the PostgreSQL adapter's tests.

``postgres_url`` starts one server per test session from the PostgreSQL binaries on this
machine (``initdb``/``pg_ctl`` on PATH, or the highest ``/usr/lib/postgresql/<N>/bin``), in a
fresh temporary directory, on a free port bound to 127.0.0.1, and stops it at session end.
``scripts/ensure-postgres.sh`` installs the binaries on Debian when they are missing.

Without the binaries, only the tests that use the fixture are skipped, with a loud reason
repeated in the terminal summary; set ``ALIEXPRESS_ONBOARDING_REQUIRE_POSTGRES=1`` to make
that a failure instead (CI). Set ``ALIEXPRESS_ONBOARDING_TEST_POSTGRES_URL`` to use a server
you run yourself instead of starting one.

Hypothesis profiles: ``ci`` (the default: few examples, so the test command stays fast) and
``fuzz`` (100 000 examples per test), chosen with ``HYPOTHESIS_PROFILE=fuzz``. A test's own
``@settings(max_examples=...)`` still wins over the profile.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("fuzz", max_examples=100_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_SERVER_SKIPS: list[str] = []

POSTGRES_TEST_PASSWORD = f"pg-test-{secrets.token_hex(8)}"
"""The throwaway server's password for TCP logins (a new one per session)."""
_DATABASE = "aliexpress_onboarding_test"
_START_TIMEOUT = 60


def _find_postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then the newest Debian."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    candidates = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file()
    ]

    def major(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)

    return max(candidates, key=major, default=None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _no_server(reason: str) -> NoReturn:
    """Skip (or, when PostgreSQL is required, fail) the tests that need the server."""
    message = f"PostgreSQL tests NOT RUN: {reason}"
    if os.environ.get("ALIEXPRESS_ONBOARDING_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    _SERVER_SKIPS.append(message)
    pytest.skip(message)


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"


class _Server:
    """One throwaway cluster: initdb, start, stop; commands run as ``postgres`` under root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.prefix: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _no_server("running as root and there is no 'postgres' user to run the server")
            runuser = shutil.which("runuser")
            if runuser is None:
                _no_server("running as root and 'runuser' is missing")
            self.prefix = [str(runuser), "-u", "postgres", "--"]
        base = "/tmp" if Path("/tmp").is_dir() else None  # short socket path, world-traversable
        self.root = Path(tempfile.mkdtemp(prefix="aliexpress-onboarding-pg-", dir=base))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.password_file = self.root / "password"
        self.password_file.write_text(POSTGRES_TEST_PASSWORD + "\n", encoding="utf-8")

    def run(self, *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *arguments],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def fail(self, what: str, output: str = "") -> NoReturn:
        pytest.fail(
            f"PostgreSQL test server: {what}\n{output.strip()}\n"
            f"server log: {self.log} (directory {self.root} kept for inspection)\n"
            f"--- last lines of the log ---\n{_log_tail(self.log)}",
            pytrace=False,
        )

    def initdb(self) -> None:
        done = self.run(
            str(self.bin_dir / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            # Local socket: trust; TCP (what the tests use): a real password check, so a wrong
            # password can be tested.
            "--auth-local",
            "trust",
            "--auth-host",
            "scram-sha-256",
            "--pwfile",
            str(self.password_file),
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
            timeout=120,
        )
        if done.returncode != 0:
            self.fail(f"initdb failed (exit {done.returncode})", done.stdout + done.stderr)

    def start(self) -> None:
        output = ""
        for _ in range(3):  # a port taken between probing and binding: try another
            self.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-k {shlex.quote(str(self.root))}",
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                ]
            )
            try:
                done = self.run(
                    str(self.bin_dir / "pg_ctl"),
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.log),
                    "--wait",
                    "--timeout",
                    str(_START_TIMEOUT),
                    "-o",
                    options,
                    "start",
                    timeout=_START_TIMEOUT + 15,
                )
            except subprocess.TimeoutExpired:
                self.stop()
                self.fail(f"pg_ctl start did not return within {_START_TIMEOUT + 15} s")
            if done.returncode == 0:
                return
            output = done.stdout + done.stderr
            if "could not bind" not in _log_tail(self.log, 200):
                break
        self.fail("the server did not start", output)

    def wait_until_ready(self, url: str) -> None:
        import psycopg

        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                with psycopg.connect(url, connect_timeout=5):
                    return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    self.fail(f"no connection within {_START_TIMEOUT} s: {error}")
                time.sleep(0.1)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run(
                str(self.bin_dir / "pg_ctl"),
                "--pgdata",
                str(self.data),
                "--mode",
                "immediate",
                "--wait",
                "stop",
                timeout=60,
            )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A conninfo URL of an empty database on a real PostgreSQL server, for the session."""
    external = os.environ.get("ALIEXPRESS_ONBOARDING_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    try:
        import psycopg
    except ImportError:
        _no_server("psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = _find_postgres_bin()
    if bin_dir is None:
        _no_server(
            "no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin;"
            " run scripts/ensure-postgres.sh (as root on Debian) or apt-get install postgresql"
        )
    server = _Server(bin_dir)
    started = False
    try:
        server.initdb()
        server.start()
        started = True
        login = f"postgres:{POSTGRES_TEST_PASSWORD}@127.0.0.1:{server.port}"
        admin_url = f"postgresql://{login}/postgres"
        server.wait_until_ready(admin_url)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{_DATABASE}"')
        yield f"postgresql://{login}/{_DATABASE}"
    except BaseException:
        if started:
            server.stop()
        raise  # the directory stays, with its log, for inspection
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat, loudly, that the PostgreSQL tests were skipped and why."""
    if _SERVER_SKIPS:
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_SERVER_SKIPS[0], red=True)
