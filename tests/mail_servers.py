"""Real mail servers for the email channel's tests: a private Dovecot (IMAP) on a loopback
port and an aiosmtpd SMTP server that delivers into it.

The SMTP server hands mail for Dovecot users to `dovecot-lda` (Dovecot's own delivery
path, which wakes IDLE clients) and records every envelope, so what the gateway sends to
outside "customer" addresses can be asserted on. Scripted responders can answer those
outside addresses, like a client's auto-responder would. Import the fixtures into a test
module: `from mail_servers import dovecot, mailbox, smtp_server  # noqa: F401`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from waiting import eventually

from channels.email import EmailAdapter, MailServer
from core.contracts import InboundMessage, InboundSink

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
LDA = "/usr/lib/dovecot/dovecot-lda"
LOCAL_DOMAIN = "support.test"
MAIL_UID = 8  # the `mail` user: Dovecot's mail processes refuse uid 0
PASSWORD = "secret"
SPARE_MAILBOXES = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(certificate: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (the tests trust it as their CA)."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        capture_output=True,
        check=True,
    )
    certificate.chmod(0o644)
    key.chmod(0o644)


class Dovecot:
    """One Dovecot instance in its own directory with a pool of mailboxes, so each test
    gets a fresh one."""

    _names = itertools.count(1)

    def __init__(self, extra_config: str = "", *, tls: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="switchboard-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.certificate = self.root / "cert.pem"
        if tls:
            make_certificate(self.certificate, self.root / "key.pem")
        ssl_config = (
            f"ssl = yes\nssl_cert = <{self.certificate}\nssl_key = <{self.root}/key.pem"
            if tls
            else "ssl = no"
        )
        self.config = self.root / "dovecot.conf"
        self.users_file = self.root / "users"
        self.users_file.touch()
        self.mail_root = self.root / "mail"
        self.mail_root.mkdir()
        # explicit modes, whatever the process umask (the CLI tests leave 077 behind them):
        # Dovecot's auth process reads the users as `dovecot`, and dovecot-lda writes the
        # mail folders as the mail user
        self.users_file.chmod(0o644)
        self.mail_root.chmod(0o755)
        self._process: asyncio.subprocess.Process | None = None
        as_root = os.geteuid() == 0
        self._uid = MAIL_UID if as_root else os.geteuid()
        self._spare: list[str] = []
        self._create_users(SPARE_MAILBOXES)  # before start: added later, they need a reload
        identity = (
            ""
            if as_root
            else (
                f"default_internal_user = {os.getlogin()}\ndefault_login_user = {os.getlogin()}\n"
                f"default_internal_group = {os.getlogin()}\n"
            )
        )
        self.config.write_text(f"""\
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = switchboard-{os.getpid()}-{self.port}
listen = 127.0.0.1
protocols = imap
{ssl_config}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
log_path = {self.root}/dovecot.log
mail_location = maildir:~/Maildir
{identity}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_file}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
{extra_config}
""")

    async def start(self) -> None:
        with (self.root / "dovecot.stderr").open("wb") as stderr:  # doveconf's complaints
            self._process = await asyncio.create_subprocess_exec(
                DOVECOT, "-F", "-c", str(self.config), stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            await eventually(self._greets, 10.0, what="dovecot's greeting")
        except AssertionError:
            raise RuntimeError(f"dovecot did not start: {self.log()}") from None

    async def _greets(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), 1
            )
        except (OSError, TimeoutError):
            return False
        try:
            return (await asyncio.wait_for(reader.read(64), 1)).startswith(b"* OK")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self._process.wait(), 10)
            self._process = None

    def log(self) -> str:
        logs = (self.root / "dovecot.stderr", self.root / "dovecot.log")
        text = "".join(path.read_text(errors="replace") for path in logs if path.exists())
        return text[-4000:]

    async def add_user(self) -> str:
        """A fresh mailbox; returns its login (an address at LOCAL_DOMAIN)."""
        if not self._spare:
            self._create_users(1)
            # the auth process re-reads the users file once a second
            await eventually(
                self._knows_next, 5.0, interval=0.1, what="dovecot knowing the new user"
            )
        return self._spare.pop(0)

    async def _knows_next(self) -> bool:
        lookup = await asyncio.create_subprocess_exec(
            DOVEADM,
            "-c",
            str(self.config),
            "user",
            self._spare[0],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return await lookup.wait() == 0

    def _create_users(self, count: int) -> None:
        as_root = os.geteuid() == 0
        uid_gid = f"{self._uid}:{self._uid}" if as_root else ":"
        with self.users_file.open("a") as users:
            for _ in range(count):
                login = f"support{next(self._names)}@{LOCAL_DOMAIN}"
                home = self.mail_root / login
                home.mkdir()
                if as_root:
                    os.chown(home, self._uid, self._uid)
                users.write(f"{login}:{{PLAIN}}{PASSWORD}:{uid_gid}::{home}\n")
                self._spare.append(login)

    def has_user(self, login: str) -> bool:
        return any(
            line.split(":", 1)[0] == login for line in self.users_file.read_text().splitlines()
        )

    def deliver(self, login: str, raw: bytes, sender: str = "", folder: str = "INBOX") -> None:
        """Deliver one message the way an MTA would (dovecot-lda)."""
        result = subprocess.run(
            [LDA, "-c", str(self.config), "-e", "-d", login, "-f", sender, "-m", folder],
            input=raw,
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"dovecot-lda failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace')}\n{self.log()}"
            )

    def sessions(self, login: str) -> set[str]:
        """The process ids of the user's open IMAP sessions."""
        lines = self.doveadm("who", "-1", login).splitlines()[1:]  # under a header line
        return {line.split()[2] for line in lines if line.strip()}

    def kick(self, login: str) -> None:
        """Cut every IMAP connection of this user at once."""
        subprocess.run(
            [DOVEADM, "-c", str(self.config), "kick", login],
            capture_output=True,
            timeout=30,
            check=False,
        )

    def doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [DOVEADM, "-c", str(self.config), *args], capture_output=True, timeout=30, check=True
        )
        return result.stdout.decode()

    def flags(self, login: str, folder: str = "INBOX") -> list[str]:
        """The flags of every message in the folder, in UID order."""
        out = self.doveadm("-f", "flow", "fetch", "-u", login, "flags", "mailbox", folder)
        return [line.removeprefix("flags=").strip() for line in out.splitlines() if line]

    def count(self, login: str, folder: str = "INBOX") -> int:
        return len(self.flags(login, folder))

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Recorded:
    """One envelope the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


Responder = Callable[[Recorded], None]


@dataclass
class SmtpRelay:
    """aiosmtpd handler: local users → Dovecot, everyone else → `outside` (recorded)."""

    dovecot: Dovecot
    user: str = "relay"
    password: str = "relaypw"
    outside: list[Recorded] = field(default_factory=list)
    responders: dict[str, Responder] = field(default_factory=dict)
    reject: dict[str, str] = field(default_factory=dict)  # address → "550 ..." reply
    host: str = "127.0.0.1"
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self.reject:
            return self.reject[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        record = Recorded(envelope.mail_from or "", list(envelope.rcpt_tos), content)
        for rcpt in envelope.rcpt_tos:
            if self.dovecot.has_user(rcpt.lower()):
                self.dovecot.deliver(rcpt.lower(), content, sender=envelope.mail_from or "")
            else:
                with self._lock:
                    self.outside.append(record)
                responder = self.responders.get(rcpt.lower())
                if responder is not None:
                    responder(record)
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok)

    def sent_to(self, address: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.outside if address.lower() in (a.lower() for a in r.rcpt_tos)]

    def clear(self) -> None:
        with self._lock:
            self.outside.clear()
        self.responders.clear()
        self.reject.clear()


class Collector:
    """An inbound sink that keeps what it was given; `fail` makes the next calls raise
    (a store that is down), `hold` makes them wait (a slow store)."""

    def __init__(self) -> None:
        self.received: list[InboundMessage] = []
        self.calls = 0
        self.fail = 0
        self.hold: asyncio.Event | None = None
        self._changed = asyncio.Event()

    async def __call__(self, messages: Sequence[InboundMessage]) -> None:
        self.calls += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the store is down")
        self.received.extend(messages)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[InboundMessage]:
        async def reached() -> None:
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)
        return self.received

    def ids(self) -> list[str]:
        return [m.platform_message_id for m in self.received]


async def handed_over_before_marker(smtp: SmtpRelay, login: str, sink: Collector) -> list[str]:
    """Deliver one more letter and wait until the sink has it; return the Message-IDs handed
    over before it. The inbox reads in UID order, so a letter handed over twice, or one
    that was missed and caught up, has reached the sink by then: no sleep needed to see it."""
    marker = make_msgid(domain="marker.test")
    await submit(smtp, client_letter(login, "marker", message_id=marker))
    await eventually(lambda: marker in sink.ids(), what="the marker letter")
    ids = sink.ids()
    assert ids[-1] == marker, f"letters came after the marker: {ids[ids.index(marker) + 1 :]}"
    return ids[:-1]


@contextlib.asynccontextmanager
async def running(adapter: EmailAdapter, sink: InboundSink) -> AsyncIterator[asyncio.Task[None]]:
    """Run the adapter's inbound loop for the duration of the block."""
    task = asyncio.create_task(adapter.run(sink))
    try:
        yield task
    finally:
        await adapter.aclose()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def support_adapter(
    dovecot: Dovecot, smtp: SmtpRelay, login: str, tmp: Path, **options: Any
) -> EmailAdapter:
    """The gateway's email channel on a test mailbox, as bot/app.py would build it."""
    return EmailAdapter(
        address=login,
        imap=MailServer("127.0.0.1", dovecot.port, "plain", login, PASSWORD),
        smtp=MailServer(smtp.host, smtp.port, "plain", smtp.user, smtp.password),
        attachment_dir=tmp / "attachments",
        attachment_max_bytes=100_000,
        poll_interval=1.0,
        timeout=10.0,
        **options,
    )


async def submit(smtp: SmtpRelay, letter: EmailMessage, sender: str | None = None) -> None:
    """A client's mail program sending a letter through the SMTP server."""
    await aiosmtplib.send(
        letter,
        sender=sender,
        hostname=smtp.host,
        port=smtp.port,
        start_tls=False,
        use_tls=False,
        timeout=10,
    )


def client_letter(
    to: str,
    text: str,
    *,
    sender: str = "ivan@client.test",
    subject: str = "Вопрос",
    message_id: str | None = None,
    **headers: str,
) -> EmailMessage:
    letter = EmailMessage()
    letter["From"] = sender
    letter["To"] = to
    letter["Subject"] = subject
    letter["Message-ID"] = message_id or make_msgid(domain="client.test")
    for name, value in headers.items():
        letter[name.replace("_", "-")] = value
    letter.set_content(text)
    return letter


@contextlib.asynccontextmanager
async def started_dovecot(extra_config: str = "", *, tls: bool = False) -> AsyncIterator[Dovecot]:
    if not (Path(DOVECOT).exists() and Path(LDA).exists()):
        pytest.skip("dovecot-imapd is not installed (apt-get install dovecot-imapd)")
    if tls and shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    server = Dovecot(extra_config, tls=tls)
    try:
        await server.start()  # installed but not starting is a fault to see, not a skip
        yield server
    finally:
        await server.stop()
        server.cleanup()


@pytest.fixture(scope="session")
async def dovecot() -> AsyncIterator[Dovecot]:
    async with started_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    with started_smtp_relay(dovecot) as relay:
        yield relay


@contextlib.contextmanager
def started_smtp_relay(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    """The SMTP server in front of `dovecot` on a free loopback port, stopped after."""
    relay = SmtpRelay(dovecot, port=free_port())
    with warnings.catch_warnings():
        # plaintext AUTH is what a loopback test server needs
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(
            relay,
            hostname=relay.host,
            port=relay.port,
            authenticator=relay.authenticate,
            auth_required=False,
            auth_require_tls=False,
        )
        controller.start()
    try:
        yield relay
    finally:
        controller.stop()


@pytest.fixture
async def mailbox(dovecot: Dovecot, smtp_server: SmtpRelay) -> AsyncIterator[str]:
    """A fresh support mailbox for one test; the relay's records are reset after it."""
    yield await dovecot.add_user()
    smtp_server.clear()
