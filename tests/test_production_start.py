"""A start listening beyond this machine refuses the demo's comforts; a loopback start
prints a one-time link for a local admin; /metrics stays off the public port."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import aiohttp
import pytest
from pipeline_parts import said
from pydantic import SecretStr
from typer.testing import CliRunner

from core.models import OperatorRole
from switchboard.app import Gateway
from switchboard.cli import app
from switchboard.settings import Settings, SettingsError, load_settings
from switchboard.start_checks import prepare_accounts, refuse_unsafe_settings

PUBLIC = {"http_host": "0.0.0.0", "allowed_hosts": ["127.0.0.1"], "sample_kb": False}


def test_a_public_start_needs_allowed_hosts_and_an_explicit_sample_kb(settings: Settings) -> None:
    refuse_unsafe_settings(settings)  # loopback: the demo is fine
    public = load_settings(_env_file=None, http_host="0.0.0.0")
    with pytest.raises(SettingsError) as refused:
        refuse_unsafe_settings(public)
    assert "ALLOWED_HOSTS" in str(refused.value) and "SAMPLE_KB" in str(refused.value)
    with pytest.raises(SettingsError, match="SAMPLE_KB"):
        refuse_unsafe_settings(
            load_settings(_env_file=None, http_host="10.1.2.3", allowed_hosts="support.example.com")
        )
    refuse_unsafe_settings(load_settings(_env_file=None, **PUBLIC))
    refuse_unsafe_settings(load_settings(_env_file=None, **{**PUBLIC, "sample_kb": True}))


async def test_a_loopback_start_prints_a_local_admin_link_and_a_public_one_refuses_it(
    gateway: Gateway, served: str
) -> None:
    printed = await prepare_accounts(gateway)
    assert printed is not None and "/operator/link/" in printed
    path = "/operator/link/" + printed.split("/operator/link/")[1]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(served + path, allow_redirects=False) as signed:
            assert signed.status == 303
        async with http.ws_connect(served + "/operator/ws") as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["operator"]["role"] == "admin"
    assert await prepare_accounts(gateway) != printed  # a new link each start, same admin

    public = dataclasses.replace(gateway, settings=gateway.settings.model_copy(update=PUBLIC))
    with pytest.raises(SettingsError, match="operators disable admin"):
        await prepare_accounts(public)

    own = await gateway.accounts.save("Ирина", login="irina", role=OperatorRole.ADMIN)
    await gateway.accounts.disable("admin")
    assert await prepare_accounts(public) is None
    assert await prepare_accounts(gateway) is None  # a real admin exists: no link
    assert own.role is OperatorRole.ADMIN


@pytest.mark.parametrize("settings", [PUBLIC], indirect=True)
async def test_metrics_are_not_on_a_public_port_by_default(gateway: Gateway, served: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(served + "/metrics") as hidden:
        assert hidden.status == 404
    assert gateway.metrics_url is None


@pytest.mark.parametrize(
    "settings",
    [{**PUBLIC, "metrics_token": SecretStr("scrape-secret-1"), "metrics_port": 0}],
    indirect=True,
)
async def test_metrics_need_the_bearer_token_or_their_own_loopback_port(
    gateway: Gateway, served: str
) -> None:
    async with aiohttp.ClientSession() as http:
        for given in ({}, {"Authorization": "Bearer guess"}):
            async with http.get(served + "/metrics", headers=given) as refused:
                assert refused.status == 401
        async with http.get(
            served + "/metrics", headers={"Authorization": "Bearer scrape-secret-1"}
        ) as scraped:
            assert scraped.status == 200 and "switchboard_" in await scraped.text()
        assert gateway.metrics_url is not None and gateway.metrics_url.startswith(
            "http://127.0.0.1:"
        )
        async with http.get(gateway.metrics_url) as local:
            assert local.status == 200


def test_switchboard_run_refuses_a_public_start_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "ALLOWED_HOSTS" in result.output and "SAMPLE_KB" in result.output
    assert not (tmp_path / "var").exists()  # refused before touching anything


async def test_the_local_admin_serves_every_group_and_a_group_nobody_serves_is_named(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    await gateway.engine.handle(said("у меня списали деньги дважды за одну покупку"))
    await gateway.engine.handle(said("Хочу поговорить с оператором"))
    [waiting] = await gateway.queue.waiting()
    assert waiting.group == "fraud"  # not the default "support"

    with caplog.at_level(logging.WARNING, logger="switchboard.start_checks"):
        assert await prepare_accounts(gateway) is not None
    assert not caplog.records  # the local admin serves them all
    admin = await gateway.accounts.by_login("admin")
    assert admin.group_names == sorted(gateway.levels.groups)
    [row] = await gateway.desk.queue.rows(admin.id)
    assert row.conversation_id == waiting.conversation_id

    own = await gateway.accounts.save("Ирина", login="irina", role=OperatorRole.ADMIN)
    await gateway.accounts.disable("admin")
    public = dataclasses.replace(gateway, settings=gateway.settings.model_copy(update=PUBLIC))
    with caplog.at_level(logging.WARNING, logger="switchboard.start_checks"):
        await prepare_accounts(public)
    unserved = sorted(set(gateway.levels.groups) - set(own.group_names))
    assert unserved and "fraud" in unserved
    assert [r.getMessage().split("'")[1] for r in caplog.records] == unserved
