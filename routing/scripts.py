"""The package's Lua scripts, registered with a Redis client: each call is an EVALSHA,
and redis-py loads the script again when Redis has lost it (a restart)."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

__all__ = ["register"]


def register(redis: Redis, name: str) -> AsyncScript:
    """The script `routing/<name>`."""
    return redis.register_script(
        resources.files("routing").joinpath(name).read_text(encoding="utf-8"))
