"""What a start checks before it serves: a gateway listening beyond this machine refuses
the demo's comforts, and a loopback start makes sure someone can sign in.

Off loopback (HTTP_HOST not 127.0.0.1/::1/localhost) the start is refused, naming the
setting, without ALLOWED_HOSTS, with the sample KB not asked for explicitly, or while the
local admin that `make run` made is still active."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from admin.accounts import LinkPurpose, link_path
from switchboard.settings import Settings, SettingsError

if TYPE_CHECKING:
    from switchboard.app import Gateway

__all__ = ["prepare_accounts", "refuse_unsafe_settings"]

log = logging.getLogger(__name__)


def refuse_unsafe_settings(settings: Settings) -> None:
    """Raise `SettingsError` listing what a non-loopback start is missing."""
    if settings.on_loopback:
        return
    problems = []
    if not settings.allowed_hosts:
        problems.append(
            "ALLOWED_HOSTS: list the host names clients and operators use "
            "(e.g. ALLOWED_HOSTS=support.example.com)"
        )
    if "sample_kb" not in settings.model_fields_set:
        problems.append(
            "SAMPLE_KB: set it to false (or to true to really serve the demo "
            "bank's sample knowledge base)"
        )
    if problems:
        raise SettingsError(
            f"refusing to listen on {settings.http_host} (not loopback):\n  "
            + "\n  ".join(problems)
        )


async def prepare_accounts(gateway: Gateway) -> str | None:
    """Off loopback: refuse while a local demo admin is active. On loopback: make sure
    an admin can sign in; the one-time link to print, when the only admin is the local one.
    Either way, a warning names each group hand-offs go to that no active operator serves:
    its conversations would wait where nobody sees them."""
    link = await _sign_in_link(gateway)
    served = await gateway.desk.operators.known_groups()
    for group in gateway.levels.groups:
        if group not in served:
            log.warning(
                "no active operator serves the group %r: hand-offs routed to it wait unseen; "
                "give it to someone on the console's team page, or: switchboard operators add "
                "NAME --group %s",
                group,
                group,
            )
    return link


async def _sign_in_link(gateway: Gateway) -> str | None:
    accounts, settings = gateway.accounts, gateway.settings
    if not settings.on_loopback:
        demo = await accounts.local_admin.active_logins()
        if demo:
            raise SettingsError(
                f"refusing to listen on {settings.http_host} (not loopback) while the local "
                f"admin {', '.join(map(repr, demo))} made by a loopback start is active: add your "
                "own admin (switchboard operators add NAME --role admin; operators invite NAME) "
                f"and then: switchboard operators disable {demo[0]}"
            )
        return None
    token = await accounts.local_admin.link(gateway.levels.groups)
    if token is None:
        return None
    log.info("the local admin's one-time sign-in link was printed to the console")
    return settings.base_url + link_path(LinkPurpose.SIGN_IN, token)
