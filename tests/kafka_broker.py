"""A real single-node Apache Kafka for tests: no Docker, no mock.

`KafkaBroker` drives `deploy/kafka/kafka.sh` (the script behind `make kafka-up`) with its own
ports and data dir, so the tests run exactly the broker, config and jars that developers run.

    broker = KafkaBroker().start()        # free ports, temp data dir; waits until ready
    broker.create_topic("usage-events", 4)
    ... AIOKafkaProducer(bootstrap_servers=broker.bootstrap) ...
    broker.kill()                         # SIGKILL, as a crash
    broker.restart()                      # same ports and data: clients reconnect
    broker.close()                        # stop and delete the temp data dir
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"

# TOPIC_ALREADY_EXISTS in the Kafka protocol.
_TOPIC_ALREADY_EXISTS = 36

_T = TypeVar("_T")


class KafkaBrokerError(RuntimeError):
    """kafka.sh failed; the message carries its output (and the broker log tail, if any)."""


def free_port(exclude: frozenset[int] = frozenset()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in exclude:
            return port


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    It runs on a fresh loop in a helper thread, so the calling loop (an async test's) is blocked
    meanwhile: fine for short admin calls, not for anything that waits on that loop.
    """
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="kafka-broker-admin")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


class KafkaBroker:
    """One Kafka 4.x JVM (broker + KRaft controller) on loopback, managed through kafka.sh."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        ready_timeout_s: int = 60,
        stop_timeout_s: int = 30,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._owns_data_dir = data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="signalfire-kafka-")) if data_dir is None else data_dir
        )
        self.port = port if port is not None else free_port()
        self.controller_port = (
            controller_port if controller_port is not None else free_port(frozenset({self.port}))
        )
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._extra_env = dict(env or {})
        self.startup_s: float | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """`host:port` for `bootstrap_servers`."""
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def fetch(timeout_s: float = 900) -> None:
        """Download the Kafka jars if deploy/kafka/lib is missing or stale (else a no-op)."""
        _run_script(["fetch"], dict(os.environ), timeout_s)

    def start(self) -> Self:
        """Start the broker (formatting the data dir on first use) and wait until it is ready."""
        began = time.monotonic()
        self._script("up", timeout_s=self.ready_timeout_s + 900)
        self.startup_s = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop cleanly (SIGTERM, then SIGKILL after `stop_timeout_s`). No-op if not running."""
        self._script("down", timeout_s=self.stop_timeout_s + 30)

    def kill(self) -> None:
        """SIGKILL the broker now, leaving its data as a crash would."""
        self._script("kill", timeout_s=30)

    def restart(self) -> Self:
        """Stop (if running) and start again on the same ports with the same data."""
        self.stop()
        return self.start()

    def is_ready(self) -> bool:
        """True if the broker process runs and answers Metadata with a live broker."""
        return self._run("status", timeout_s=30).returncode == 0

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the JVM output and of the broker log."""
        return self._run("logs", str(lines), timeout_s=30).stdout

    def close(self) -> None:
        """Stop, and delete the data dir if this object created it."""
        try:
            self.stop()
        finally:
            if self._owns_data_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KafkaBroker(bootstrap={self.bootstrap!r}, data_dir={str(self.data_dir)!r})"

    # --- topics ---------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = 4,
        *,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
        exist_ok: bool = False,
        timeout_s: float = 30,
    ) -> None:
        """Create a topic and wait until every partition has a leader.

        Callable from sync code and from async tests alike (see `run_sync`).
        """
        run_sync(
            self.create_topic_async(
                name,
                partitions,
                replication_factor=replication_factor,
                config=config,
                exist_ok=exist_ok,
                timeout_s=timeout_s,
            )
        )

    async def create_topic_async(
        self,
        name: str,
        partitions: int = 4,
        *,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
        exist_ok: bool = False,
        timeout_s: float = 30,
    ) -> None:
        """`create_topic` for code already on an event loop that must not block it."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=int(timeout_s * 1000)
        )
        await admin.start()
        try:
            topic = NewTopic(name, partitions, replication_factor, topic_configs=dict(config or {}))
            response = await admin.create_topics([topic], timeout_ms=int(timeout_s * 1000))
            for topic_name, error_code, *rest in response.topic_errors:
                if error_code == 0 or (exist_ok and error_code == _TOPIC_ALREADY_EXISTS):
                    continue
                detail = rest[0] if rest else ""
                raise KafkaBrokerError(
                    f"creating topic {topic_name!r} failed: error {error_code} {detail}"
                )
            await _wait_for_leaders(admin, name, partitions, timeout_s)
        finally:
            await admin.close()

    # --- kafka.sh ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self._extra_env)
        env.update(
            KAFKA_PORT=str(self.port),
            KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_DATA_DIR=str(self.data_dir),
            KAFKA_READY_TIMEOUT=str(self.ready_timeout_s),
            KAFKA_STOP_TIMEOUT=str(self.stop_timeout_s),
        )
        return env

    def _run(self, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_SH), *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def _script(self, command: str, *, timeout_s: float) -> str:
        return _run_script([command], self._env(), timeout_s)


def _run_script(args: list[str], env: Mapping[str, str], timeout_s: float) -> str:
    try:
        proc = subprocess.run(
            [str(KAFKA_SH), *args],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaBrokerError(
            f"`kafka.sh {' '.join(args)}` did not finish within {timeout_s:.0f}s\n"
            f"{_text(exc.stdout)}{_text(exc.stderr)}"
        ) from exc
    if proc.returncode != 0:
        raise KafkaBrokerError(
            f"`kafka.sh {' '.join(args)}` failed with exit code {proc.returncode}\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def _text(output: str | bytes | None) -> str:
    if output is None:
        return ""
    return output.decode(errors="replace") if isinstance(output, bytes) else output


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, name: str, partitions: int, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        described = await admin.describe_topics([name])
        led = [
            p
            for t in described
            if t["topic"] == name and t["error_code"] == 0
            for p in t["partitions"]
            if p["error_code"] == 0 and p["leader"] >= 0
        ]
        if len(led) >= partitions:
            return
        if time.monotonic() > deadline:
            raise KafkaBrokerError(
                f"topic {name!r}: partitions without a leader after {timeout_s}s"
            )
        await asyncio.sleep(0.1)
