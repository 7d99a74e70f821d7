"""The var directory holds the gateway's data at rest (the SQLite database, the embedded
Redis's AOF and snapshot, mail attachments, the admin bot's files): only its owner may
read it. At start it is made 0700 and whatever it holds 0600 (folders 0700), which also
mends an install made before; the `switchboard` command itself runs with umask 077, so
what it writes later is private too. `local_secret` is the key the gateway hashes short
codes under (`identity.codes.code_digest`), kept here, 0600, never in Redis."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "local_secret", "private_sqlite_file", "secure_var_dir"]

PRIVATE_UMASK = 0o077
SECRET_FILE = "secret.key"


def secure_var_dir(var_dir: Path) -> None:
    """Make `var_dir` (created if missing) and everything in it private to the owner."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(var_dir, 0o700)
    for root, folders, files in os.walk(var_dir):
        for name in folders:
            _restrict(Path(root) / name, 0o700)
        for name in files:
            _restrict(Path(root) / name, 0o600)


def private_sqlite_file(database_url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use 0644 less the
    umask); its -wal and -shm files take the database file's mode.

    An existing file is never opened: closing any descriptor of a file drops every POSIX
    lock this process holds on it, SQLite's included, and another process writing then
    corrupts the database."""
    from sqlalchemy.engine import make_url  # not at import: the CLI starts without SQLAlchemy

    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        _restrict(path, 0o600)


def local_secret(var_dir: Path) -> bytes:
    """This installation's 32-byte secret, made on first use (0600)."""
    path = var_dir / SECRET_FILE
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(handle, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


def _restrict(path: Path, mode: int) -> None:
    """Take group and other permissions away (never add any); a symlink is left alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
        return
    path.chmod(stat.S_IMODE(info.st_mode) & mode)
