"""A real 3-master Redis Cluster on loopback ports, from the system's `redis-server` and
`redis-cli` (Debian's redis-server and redis-tools; `make test` installs them)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(port: int, *args: str) -> str:
    return subprocess.run(
        [REDIS_CLI, "-p", str(port), *args], capture_output=True, text=True, timeout=30, check=True
    ).stdout


@pytest.fixture(scope="module")
def redis_cluster_url() -> Iterator[str]:
    """`redis+cluster://127.0.0.1:<port>,…` of a fresh three-master cluster."""
    root = Path(tempfile.mkdtemp(prefix="switchboard-cluster-"))
    ports = [free_port() for _ in range(3)]
    servers = []
    try:
        for port in ports:
            folder = root / str(port)
            folder.mkdir()
            servers.append(
                subprocess.Popen(
                    [
                        REDIS_SERVER,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-port",
                        str(free_port()),  # not port + 10000, which may be taken or > 65535
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                        "--dir",
                        str(folder),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(lambda port=port: cli(port, "ping").strip() == "PONG")
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        for port in ports:
            _wait(lambda port=port: "cluster_state:ok" in cli(port, "cluster", "info"))
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def flush_cluster(url: str) -> None:
    for node in url.removeprefix("redis+cluster://").split(","):
        cli(int(node.rsplit(":", 1)[1]), "flushall")


def _wait(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except subprocess.CalledProcessError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the Redis Cluster did not come up")
        time.sleep(0.05)
