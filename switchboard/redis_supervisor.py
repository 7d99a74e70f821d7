"""The process that owns an embedded redis-server: it stops the server when no gateway uses it.

Every gateway process that uses the embedded server holds a shared `flock` on
`redis.users` in the server's folder for as long as it runs; the kernel drops that lock
when the process exits, however it exits (a clean stop, `kill -9`, a crash). The
supervisor starts redis-server as its child, bound to die with the supervisor, and once a
second tries to take `redis.users` exclusively: when it gets it, no gateway is left, so it
stops the server (SIGTERM: Redis writes its data and exits) and exits itself. It holds
`redis.server` exclusively while it runs, so one folder never gets two servers.

Standard library only: it is started as `python -m switchboard.redis_supervisor` and must
start fast and stay small.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ALREADY_SUPERVISED", "SERVER_LOCK", "USERS_LOCK", "main"]

USERS_LOCK = "redis.users"
SERVER_LOCK = "redis.server"
ALREADY_SUPERVISED = 3
"""Exit status when another supervisor owns this folder's server."""
CHECK_INTERVAL = 1.0
"""Seconds between looks for a gateway still using the server."""
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the forked child, before exec: the kernel sends SIGTERM when the supervisor dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _nobody_uses(users: int) -> bool:
    try:
        fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def supervise(data_dir: Path, command: list[str]) -> int:
    server_lock = os.open(data_dir / SERVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(server_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return ALREADY_SUPERVISED
    # Detach: the starting gateway's wait returns now (the lock stays held across the
    # fork), and the supervisor lives on its own until its server's last user is gone.
    if os.fork():
        os._exit(0)
    os.setsid()
    quiet = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):  # the starter waits for the end of its pipes
        os.dup2(quiet, stream)
    users = os.open(data_dir / USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    server = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )  # noqa: PLW1509 (one thread)
    while not stop and server.poll() is None and not _nobody_uses(users):
        time.sleep(CHECK_INTERVAL)
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 0 if server.returncode in (0, -signal.SIGTERM) else 1


def main() -> None:
    """`python -m switchboard.redis_supervisor DATA_DIR REDIS_SERVER_ARGV...`"""
    if len(sys.argv) < 3:
        sys.exit("usage: python -m switchboard.redis_supervisor DATA_DIR REDIS_SERVER [ARGS...]")
    sys.exit(supervise(Path(sys.argv[1]), sys.argv[2:]))


if __name__ == "__main__":
    main()
