"""A throwaway PostgreSQL server for the benchmark, started the way ``tests/conftest.py`` does.

The logic is the test fixture's (binaries on PATH or the newest ``/usr/lib/postgresql/<N>/bin``;
``initdb`` and ``pg_ctl`` run as ``postgres`` under root; a fresh temporary directory; a free
port on 127.0.0.1; durability off) without pytest: conftest's helpers are private to the test
suite and report through ``pytest.skip``/``pytest.fail``, and the benchmark environment has no
pytest. Where no server can be had, `throwaway_postgres` yields ``None`` and a reason instead.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["throwaway_postgres"]

_DATABASE = "aliexpress_onboarding_bench"
_TIMEOUT = 60


class _UnavailableError(Exception):
    """No server: the reason is the message."""


def _bin_dir() -> Path:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    candidates = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file()
    ]
    if not candidates:
        raise _UnavailableError("no initdb/pg_ctl (run scripts/ensure-postgres.sh)")
    return max(candidates, key=lambda p: tuple(int(n) for n in re.findall(r"\d+", p.parent.name)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs the server's tools (initdb refuses root) and its owner."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise _UnavailableError("running as root and there is no 'postgres' user") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise _UnavailableError("running as root and 'runuser' is missing")
    return [runuser, "-u", "postgres", "--"], owner


def _run(prefix: list[str], root: Path, *arguments: str) -> None:
    done = subprocess.run(
        [*prefix, *arguments],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT + 15,
        check=False,
    )
    if done.returncode != 0:
        raise _UnavailableError(
            f"{Path(arguments[0]).name} failed: {(done.stdout + done.stderr)[-300:]}"
        )


@contextmanager
def throwaway_postgres() -> Iterator[tuple[str | None, str]]:
    """Start a server in a temporary directory; yield ``(url, "")`` or ``(None, reason)``.

    The server is stopped and its directory removed on exit.
    """
    try:
        import psycopg
    except ImportError:
        yield None, "psycopg is not installed"
        return
    root: Path | None = None
    prefix: list[str] = []
    started = False
    try:
        bin_dir = _bin_dir()
        prefix, owner = _as_postgres()
        root = Path(tempfile.mkdtemp(prefix="aliexpress-onboarding-bench-pg-", dir="/tmp"))
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        data = root / "data"
        _run(
            prefix,
            root,
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(root))}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            prefix,
            root,
            str(bin_dir / "pg_ctl"),
            "--pgdata",
            str(data),
            "--log",
            str(root / "server.log"),
            "--wait",
            "--timeout",
            str(_TIMEOUT),
            "-o",
            options,
            "start",
        )
        started = True
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + _TIMEOUT
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{_DATABASE}"')
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise _UnavailableError("the server took no connection") from None
                time.sleep(0.1)
    except (_UnavailableError, OSError, subprocess.SubprocessError) as error:
        if root is not None:
            _remove(prefix, root, running=started)
        yield None, str(error)
        return
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/{_DATABASE}", ""
    finally:
        _remove(prefix, root, running=True)


def _remove(prefix: list[str], root: Path, *, running: bool) -> None:
    """Stop the server (if it runs) and delete its directory."""
    if not running:
        shutil.rmtree(root, ignore_errors=True)
        return
    bin_dir = _bin_dir()
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "pg_ctl"),
            "--pgdata",
            str(root / "data"),
            "--mode",
            "immediate",
            "--wait",
            "stop",
        ],
        cwd=root,
        capture_output=True,
        timeout=60,
        check=False,
    )
    shutil.rmtree(root, ignore_errors=True)
