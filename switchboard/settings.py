"""Settings, read once at start-up by the entry point and passed to everything else.

Every value can come from the environment or a `.env` file. Nested groups use a double
underscore: `TELEGRAM__TOKEN`, `EMAIL__IMAP_HOST`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.addresses import LOOPBACK_HOSTS, is_loopback, parse_networks

__all__ = [
    "Settings",
    "SettingsError",
    "TelegramSettings",
    "VkSettings",
    "EmailSettings",
    "AdminBotSettings",
    "load_settings",
]

Language = Literal["ru", "en"]


class SettingsError(Exception):
    """Start-up refused: a setting is missing or malformed. The message names it."""


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_url: str | None = Field(
        default=None,
        description="public https URL Telegram posts to "
        "(ends with webhook_path); webhook mode only",
    )
    api_base: str | None = Field(
        default=None, description="custom Bot API server, e.g. a local one"
    )
    attachment_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=0,
        description="clients' files up to this size are kept under VAR_DIR/attachments/"
        "telegram (the Bot API serves up to 20 MB); larger ones keep their name only",
    )


class VkSettings(BaseModel):
    token: SecretStr | None = None
    group_id: int | None = None
    api_base: str | None = None
    attachment_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=0,
        description="clients' photos, documents and voice notes up to this size are kept "
        "under VAR_DIR/attachments/vk; larger ones keep their name and VK link only",
    )


class EmailSettings(BaseModel):
    address: str | None = None
    imap_host: str | None = None
    imap_port: int = 993
    imap_security: Literal["tls", "starttls", "plain"] = "tls"
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = "INBOX"
    processed_folder: str | None = None
    poll_interval: float = 60.0
    smtp_host: str | None = None
    smtp_port: int = 465
    smtp_security: Literal["tls", "starttls", "plain"] = "tls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    attachment_dir: Path | None = None
    attachment_max_bytes: int = 10 * 1024 * 1024
    bot_answers_per_hour: int = 5
    trusted_authserv_ids: list[str] = Field(
        default_factory=list,
        description="authserv-ids of the receiving mail servers whose "
        "Authentication-Results (DMARC) the desk trusts; a link code in a letter without their "
        "DMARC pass is proved by a code mailed to the address",
    )
    display_name: str | None = Field(default=None, description="From name, e.g. Банк Ромашка")


class AdminBotSettings(BaseModel):
    token: SecretStr | None = None
    api_base: str | None = None
    chat_id: int | None = Field(default=None, description="operators' group for notifications")
    forum: bool = False
    poll_timeout: int = Field(default=25, ge=0, le=50, description="getUpdates long-poll seconds")
    daily_summary_at: dt.time | None = Field(
        default=None, description="local time for the daily report to the admin chat; unset = off"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_nested_delimiter="__", extra="ignore", case_sensitive=False
    )

    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="sqlite+aiosqlite:///… or postgresql+asyncpg://…; default var/switchboard.db",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://…, rediss://…, unix://… or "
        "redis+cluster://host:port,host:port (a Redis Cluster); "
        "default: an embedded server",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    language: Language = "ru"
    timezone: str = "Europe/Moscow"
    business_hours: str = Field(default="09:00-18:00", description="HH:MM-HH:MM, local time")
    business_days: str = Field(default="1-5", description="ISO weekdays, e.g. 1-5 or 1,2,3,4,5,6")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the gateway answers for, comma-separated; "
        "required off loopback (on loopback: localhost, 127.0.0.1, ::1)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses or networks of TLS proxies whose "
        "X-Forwarded-Proto/-For are believed, comma-separated",
    )
    public_url: str | None = Field(
        default=None,
        description="the console's public base URL for "
        "one-time links, e.g. https://support.example.com",
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="console sign-in lasts")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve /metrics on 127.0.0.1 at this port"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="serve /metrics on the main port to `Authorization: Bearer <token>` only",
    )
    bot_answers_per_hour: int = Field(
        default=30,
        ge=1,
        description="the bot's answers to one chat per hour; past it the "
        "conversation goes to operators (loops, floods)",
    )
    sla_config: Path | None = Field(default=None, description="service levels file (YAML)")
    sample_kb: bool = Field(default=True, description="load the sample KB into an empty database")
    kb_other_language: Literal["note", "handoff"] = Field(
        default="note",
        description="an answer found only in an article of the other language: "
        "sent with a short note saying so (note), or the client is handed off (handoff)",
    )
    web_prechat_form: bool = Field(
        default=False,
        description="the web chat asks a new visitor for an optional name and email "
        "before the first message (the email is kept unproved)",
    )
    web_attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=0,
        description="the largest file a web chat visitor may attach (kept under "
        "VAR_DIR/attachments/web); 0: the web chat takes no files",
    )
    auto_assign: bool = Field(
        default=False,
        description="push new conversations to online "
        "operators instead of waiting for them to take one",
    )
    late_apology: bool = Field(
        default=True,
        description="the bot apologises, once, to a client whose question still waits in the "
        "queue when its deadline passes",
    )
    idle_close_minutes: int = Field(
        default=120, ge=1, description="close a bot-only conversation after this much silence"
    )
    close_unanswered_hours: float = Field(
        default=48,
        ge=0,
        description="close a conversation whose client has not answered the operator's last "
        "reply for this long, freeing the operator's slot (0: never)",
    )
    retention_days: int = Field(
        default=0,
        ge=0,
        description="erase the words and files of conversations closed and untouched this "
        "many days (the conversations stay for the reports); 0 keeps them",
    )
    lease_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="with several gateway processes: a dead process's "
        "mailbox reading and periodic jobs move to another one within about this long",
    )
    recontact_days: int = Field(
        default=3, ge=0, le=90, description="re-contact window (days) for bot resolution and FCR"
    )
    reply_deadline_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 14,
        description="an undelivered reply is retried until this many hours after it was written",
    )
    outbox_sweep_seconds: float = Field(
        default=5, gt=0, le=300, description="how often replies due for a retry are looked for"
    )
    queue_reconcile_seconds: float = Field(
        default=5,
        gt=0,
        le=300,
        description="how often the operator queue is compared with the database and repaired",
    )
    start_timeout_seconds: float = Field(
        default=600,
        gt=0,
        le=3600,
        description="a gateway not started within this long (a server that never answers) "
        "stops with an error naming what it waited for, for its supervisor to restart it",
    )
    telegram: TelegramSettings = TelegramSettings()
    vk: VkSettings = VkSettings()
    email: EmailSettings = EmailSettings()
    admin_bot: AdminBotSettings = AdminBotSettings()

    @field_validator("allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected a base URL like https://support.example.com")
        return value.rstrip("/") if value else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, expected e.g. Europe/Moscow") from exc
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def opening_hours(self) -> tuple[dt.time, dt.time]:
        return parse_hours(self.business_hours)

    @property
    def working_days(self) -> frozenset[int]:
        return parse_days(self.business_days)

    @property
    def on_loopback(self) -> bool:
        """Whether HTTP_HOST reaches only this machine (the demo start's comforts apply)."""
        return is_loopback(self.http_host)

    @property
    def hosts_served(self) -> list[str]:
        return self.allowed_hosts or (list(LOOPBACK_HOSTS) if self.on_loopback else [])

    @property
    def base_url(self) -> str:
        """Where one-time links point: PUBLIC_URL, or this machine's listening address."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def resolved_database_url(self) -> str:
        return (
            self.database_url
            or f"sqlite+aiosqlite:///{(self.var_dir / 'switchboard.db').resolve()}"
        )


def parse_hours(value: str) -> tuple[dt.time, dt.time]:
    try:
        start_text, end_text = value.split("-")
        start, end = (
            dt.time.fromisoformat(start_text.strip()),
            dt.time.fromisoformat(end_text.strip()),
        )
    except ValueError as exc:
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}") from exc
    if start >= end:
        raise ValueError(f"opening time must be before closing time, got {value!r}")
    return start, end


def parse_days(value: str) -> frozenset[int]:
    days: set[int] = set()
    try:
        for part in value.split(","):
            if "-" in part:
                first, last = (int(x) for x in part.split("-"))
                days.update(range(first, last + 1))
            else:
                days.add(int(part))
    except ValueError as exc:
        raise ValueError(f"expected ISO weekdays like 1-5 or 1,2,3, got {value!r}") from exc
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"weekdays are 1 (Monday) to 7 (Sunday), got {value!r}")
    return frozenset(days)


def load_settings(**overrides: object) -> Settings:
    """Build the settings or raise `SettingsError` naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            variable = "__".join(str(part) for part in error["loc"]).upper()
            lines.append(f"{variable}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
