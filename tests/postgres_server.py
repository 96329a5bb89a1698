"""A real PostgreSQL server (Debian's `postgresql` package) for the store's tests.

    pg = PostgresServer().start()        # initdb in a temp dir, postgres on a free loopback port
    url = pg.create_database()           # a fresh, empty database: postgresql://...
    pg.stop(); pg.start()                # the same cluster down and up again (same port)
    pg.close()                           # stop it and remove its files

initdb and postgres refuse to run as root: as root, the server runs as `nobody`, in a
directory handed to that user. Trust authentication on loopback only; fsync off (a test
cluster is thrown away). A missing package fails with what to install.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Self

import psycopg

from tests.kafka_broker import free_port

USER = "signalfire"
RUN_AS = "nobody"  # when the tests run as root


class PostgresError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The newest installed server's bin directory (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not found:
        raise PostgresError(
            "PostgreSQL server not found under /usr/lib/postgresql: install Debian's "
            "postgresql package (apt-get install postgresql, as `make tools` does)"
        )
    return found[-1].parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="signalfire-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self._initdb()

    def _initdb(self) -> None:
        done = subprocess.run(
            [self.bin / "initdb", "-D", self.data, "-U", USER, "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True, cwd=self.workdir, check=False, **self._as,
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresError(f"initdb failed:\n{done.stdout.decode()}{done.stderr.decode()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout_s: float = 30) -> Self:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [self.bin / "postgres", "-D", self.data, "-h", "127.0.0.1", "-p", str(self.port),
             "-k", self.workdir, "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, cwd=self.workdir, **self._as,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not self.accepting():
            if self.proc.poll() is not None:
                raise PostgresError(f"postgres exited\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise PostgresError(f"postgres not ready in {timeout_s}s\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def accepting(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self, timeout_s: float = 30) -> None:
        """Fast shutdown: clients are disconnected, the server exits cleanly."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated name, not input
        return self.url(name)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
