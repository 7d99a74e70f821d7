"""Lua scripts, registered with a Redis client: each call is an EVALSHA,
and redis-py loads the script again when Redis has lost it (a restart)."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["register"]


def register(redis: Redis, package: str, name: str) -> AsyncScript:
    """The script `<name>` that lies beside the modules of `package` (each script beside
    the code that runs it)."""
    return redis.register_script(
        resources.files(package).joinpath(name).read_text(encoding="utf-8")
    )
