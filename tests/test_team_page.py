"""The team page for admins over real HTTP against the served gateway: who may see and
change the team, invites whose link really sets a password and signs in, sign-in links,
disabling (the operator's sessions and open console end) and enabling, role, group and
capacity changes, the guard rails that keep an admin on the desk, and bad input answered
with a clear 400 in the reader's language. Outcomes are read from the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from pipeline_parts import said
from sqlalchemy import select
from web_client import Console, signed_in

from admin.accounts import LinkPurpose, link_path
from admin.signin import SESSION_COOKIE
from admin.telegram.state import Invites
from core.models import AuditEntry, Operator, OperatorRole, OperatorSession
from switchboard.app import Gateway

pytestmark = pytest.mark.parametrize("settings", [{"sample_kb": False}], indirect=True)

PASSWORD = "correct horse battery"
Answer = tuple[int, dict[str, Any]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def cookie(token: str | None) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}


async def call(
    http: aiohttp.ClientSession,
    url: str,
    token: str | None,
    body: object | None = None,
    *,
    lang: str = "en",
    headers: dict[str, str] | None = None,
) -> Answer:
    """GET (no body) or POST JSON as the holder of `token`; the status and the JSON."""
    method = "GET" if body is None else "POST"
    async with http.request(
        method,
        url,
        params={"lang": lang},
        json=body,
        headers={**cookie(token), **(headers or {})},
    ) as answer:
        assert answer.content_type == "application/json", await answer.text()
        return answer.status, await answer.json()


async def operator(gateway: Gateway, login: str) -> Operator:
    return await gateway.accounts.by_login(login)


async def audit_rows(gateway: Gateway, action: str, about: int | None = None) -> list[AuditEntry]:
    """The audit rows of `action` (about one operator when told), oldest first."""
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if about is not None:
        query = query.where(AuditEntry.operator_id == about)
    async with gateway.sessions() as session:
        return list(await session.scalars(query))


async def open_sessions(gateway: Gateway, operator_id: int) -> int:
    async with gateway.sessions() as session:
        return len(
            list(
                await session.scalars(
                    select(OperatorSession).where(OperatorSession.operator_id == operator_id)
                )
            )
        )


def local(gateway: Gateway, served: str, link: str) -> str:
    """A one-time link as the page shows it (PUBLIC_URL or the configured address),
    opened on the port this test serves on."""
    assert link.startswith(gateway.settings.base_url + "/operator/")
    return served + urlsplit(link).path


async def test_only_an_admins_session_sees_or_changes_the_team(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    worker = await signed_in(gateway, "Пётр", role=OperatorRole.OPERATOR)
    admin = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    petr = await operator(gateway, "Пётр")
    team = served + "/operator/team"
    async with http.get(team) as page:  # the page itself is static; its data is not
        assert page.status == 200 and page.headers["X-Frame-Options"] == "DENY"

    for token, status in [(None, 401), ("not-a-session", 401), (worker, 403)]:
        assert (await call(http, team + "/data", token))[0] == status
        refused = await call(http, team + "/invite", token, {"name": "Вор"})
        assert refused[0] == status and refused[1]["error"]
        assert (await call(http, f"{team}/{petr.id}/change", token, {"role": "admin"}))[0] == status
    disabled = await call(http, f"{team}/{petr.id}/disable", worker, {})
    assert disabled == (403, {"code": "not_admin", "error": "Only admins manage the team."})
    cross_site = await call(
        http, team + "/invite", admin, {"name": "Вор"}, headers={"Origin": "http://evil.example"}
    )
    assert cross_site[0] == 403

    async with gateway.sessions() as session:
        assert await session.scalar(select(Operator).where(Operator.name == "Вор")) is None
    petr = await operator(gateway, "Пётр")
    assert petr.active and petr.role is OperatorRole.OPERATOR

    status, data = await call(http, team + "/data", admin)
    assert status == 200
    assert {row["name"] for row in data["operators"]} == {"Пётр", "Ольга"}
    assert data["groups"] == sorted(gateway.levels.groups)


async def test_an_invite_shows_a_link_that_sets_a_password_and_signs_in(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    admin = await operator(gateway, "Ольга")
    status, invited = await call(
        http,
        served + "/operator/team/invite",
        admin_token,
        {
            "name": "Борис Ким",
            "login": "Boris",
            "role": "operator",
            "groups": ["loans", "fraud"],
            "capacity": 5,
            "language": "en",
        },
    )
    assert status == 200, invited
    boris = await operator(gateway, "boris")
    assert (boris.name, boris.role, boris.group_names) == (
        "Борис Ким",
        OperatorRole.OPERATOR,
        ["fraud", "loans"],
    )
    assert (boris.capacity, boris.language, boris.active, boris.password_hash) == (
        5,
        "en",
        True,
        None,
    )
    assert invited["operator"]["id"] == boris.id and invited["hours"] == 48
    [added] = await audit_rows(gateway, "operator_added", boris.id)
    [issued] = await audit_rows(gateway, "invite_issued")
    assert (added.operator_id, added.actor_id) == (boris.id, admin.id)
    assert (issued.operator_id, issued.actor_id, issued.detail) == (
        boris.id,
        admin.id,
        {"via": "console"},
    )
    assert await Invites(gateway.redis).redeem(invited["bot_code"]) == boris.id  # /start CODE

    invite = local(gateway, served, invited["link"])
    assert urlsplit(invite).path.startswith(link_path(LinkPurpose.INVITE, ""))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(invite) as form:
            assert form.status == 200 and "boris" in await form.text()
        async with browser.post(
            invite, data={"password": PASSWORD, "repeat": PASSWORD}, allow_redirects=False
        ) as accepted:
            assert accepted.status == 303
        async with browser.get(invite) as spent:
            assert spent.status == 410  # the link worked once
        async with browser.post(served + "/operator/logout") as out:
            assert out.status == 200
        async with browser.post(
            served + "/operator/login", json={"login": "boris", "password": PASSWORD}
        ) as signed:
            assert signed.status == 200
        async with browser.ws_connect(served + "/operator/ws") as ws:
            hello = await ws.receive_json(timeout=10)
            assert hello["type"] == "hello" and hello["operator"]["name"] == "Борис Ким"

    status, data = await call(http, served + "/operator/team/data", admin_token)
    row = next(row for row in data["operators"] if row["id"] == boris.id)
    assert row["last_sign_in"] is not None and row["password_set"] is True
    assert data["audit"][0]["action"] == "signed_in" and data["audit"][0]["operator"] == "Борис Ким"
    actions = [entry["action"] for entry in data["audit"]]
    assert actions.index("invite_accepted") < actions.index("invite_issued")  # newest first
    by_admin = next(entry for entry in data["audit"] if entry["action"] == "invite_issued")
    assert by_admin["actor"] == "Ольга"


async def test_a_one_time_sign_in_link_from_the_page_opens_a_console(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    anna = await gateway.accounts.save("Анна", login="anna")
    status, issued = await call(http, f"{served}/operator/team/{anna.id}/link", admin_token, {})
    assert status == 200
    link = local(gateway, served, issued["link"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(link, allow_redirects=False) as opened:
            assert opened.status == 303
        async with browser.ws_connect(served + "/operator/ws") as ws:
            hello = await ws.receive_json(timeout=10)
            assert hello["type"] == "hello" and hello["operator"]["id"] == anna.id
    [row] = await audit_rows(gateway, "signin_issued")
    assert (row.operator_id, row.actor_id) == (anna.id, (await operator(gateway, "Ольга")).id)


async def test_disabling_ends_the_operators_sessions_and_enabling_lets_them_back(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    admin = await operator(gateway, "Ольга")
    anna_token = await signed_in(gateway, "Анна")
    anna = await operator(gateway, "Анна")
    team = f"{served}/operator/team/{anna.id}"
    async with Console(served, anna_token) as console:
        await console.ws.expect(lambda f: f["type"] == "hello")
        status, answer = await call(http, team + "/disable", admin_token, {})
        assert status == 200 and answer["operator"]["active"] is False
        await console.ws.send({"cmd": "next"})  # the open console is refused at once
        error = await console.ws.expect(lambda f: f["type"] == "error")
        assert error["code"] == "disabled"
        await asyncio.wait_for(console.ws.closed.wait(), 10)
    async with Console(served, anna_token) as console:  # and the cookie opens nothing
        error = await console.ws.expect(lambda f: f["type"] == "error")
        assert error["code"] == "unauthorized"
    assert not (await operator(gateway, "Анна")).active
    assert await open_sessions(gateway, anna.id) == 0
    assert (await call(http, team + "/link", admin_token, {}))[1]["code"] == "unknown_operator"

    status, answer = await call(http, team + "/enable", admin_token, {})
    assert status == 200 and answer["operator"]["active"] is True
    assert (await operator(gateway, "Анна")).active
    async with Console(served, anna_token) as console:  # the old session stays ended
        assert (await console.ws.expect(lambda f: f["type"] == "error"))["code"] == "unauthorized"
    assert (await call(http, team + "/link", admin_token, {}))[0] == 200
    [disabled] = await audit_rows(gateway, "operator_disabled")
    [enabled] = await audit_rows(gateway, "operator_enabled")
    assert (disabled.operator_id, disabled.actor_id) == (anna.id, admin.id)
    assert (enabled.operator_id, enabled.actor_id) == (anna.id, admin.id)


async def test_role_groups_and_capacity_change_and_are_audited(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    admin = await operator(gateway, "Ольга")
    anna_token = await signed_in(gateway, "Анна", groups=["support"])
    anna = await operator(gateway, "Анна")
    status, answer = await call(
        http,
        f"{served}/operator/team/{anna.id}/change",
        admin_token,
        {"role": "admin", "groups": ["fraud", "support"], "capacity": 7},
    )
    assert status == 200, answer
    anna = await operator(gateway, "Анна")
    assert (anna.role, anna.group_names, anna.capacity) == (
        OperatorRole.ADMIN,
        ["fraud", "support"],
        7,
    )
    [changed] = await audit_rows(gateway, "operator_changed")
    assert (changed.operator_id, changed.actor_id) == (anna.id, admin.id)
    assert changed.detail == {
        "role": ["operator", "admin"],
        "groups": [["support"], ["fraud", "support"]],
        "capacity": [3, 7],
    }
    assert (await call(http, f"{served}/operator/team/data", anna_token))[0] == 200  # now admin

    status, _ = await call(
        http, f"{served}/operator/team/{anna.id}/change", admin_token, {"role": "operator"}
    )  # Ольга is still an admin, so Анна may be made an operator again
    assert status == 200
    assert (await call(http, f"{served}/operator/team/data", anna_token))[0] == 403


async def test_an_admin_keeps_their_own_rights_and_the_desk_keeps_an_admin(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    olga_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    olga = await operator(gateway, "Ольга")
    mine = f"{served}/operator/team/{olga.id}"
    status, refused = await call(http, mine + "/disable", olga_token, {}, lang="ru")
    assert (status, refused["code"]) == (400, "self")
    assert refused["error"] == "Нельзя отключить или лишить прав администратора самого себя."
    status, refused = await call(http, mine + "/change", olga_token, {"role": "operator"})
    assert (status, refused["code"]) == (400, "self")
    assert "cannot disable yourself" in refused["error"]
    olga = await operator(gateway, "Ольга")
    assert olga.active and olga.role is OperatorRole.ADMIN
    assert await audit_rows(gateway, "operator_disabled") == []
    assert (await call(http, mine + "/change", olga_token, {"capacity": 4}))[0] == 200

    # two admins demote each other at the same moment: one of them stays an admin
    igor_token = await signed_in(gateway, "Игорь", role=OperatorRole.ADMIN)
    igor = await operator(gateway, "Игорь")
    answers = await asyncio.gather(
        call(http, f"{served}/operator/team/{igor.id}/change", olga_token, {"role": "operator"}),
        call(http, mine + "/disable", igor_token, {}),
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses in ([200, 400], [200, 401], [200, 403]), answers
    refusal = next(body for status, body in answers if status != 200)
    assert refusal["code"] in ("last_admin", "signed_out", "not_admin")
    async with gateway.sessions() as session:
        admins = list(
            await session.scalars(
                select(Operator.name).where(
                    Operator.role == OperatorRole.ADMIN, Operator.active.is_(True)
                )
            )
        )
    assert len(admins) == 1


@pytest.mark.parametrize(
    ("body", "code", "english"),
    [
        ({"name": "   "}, "name_length", "Give a name"),
        ({"name": "Вера", "login": "x" * 101}, "login_length", "1 to 100"),
        ({"name": "Вера", "role": "owner"}, "unknown_role", "operator or admin"),
        ({"name": "Вера", "groups": ["mars"]}, "unknown_group", "mars"),
        ({"name": "Вера", "capacity": 0}, "capacity_range", "1 to 50"),
        ({"name": "Вера", "capacity": "many"}, "capacity_range", "1 to 50"),
        ({"name": "Вера", "language": "de"}, "unknown_language", "ru or en"),
        ({"name": "Вера", "login": "Ольга"}, "login_taken", "taken"),
        ({"name": ["Вера"]}, "name_length", "Give a name"),
        (["not", "an", "object"], "bad_body", "JSON object"),
    ],
)
async def test_bad_input_is_a_clear_400(
    gateway: Gateway,
    served: str,
    http: aiohttp.ClientSession,
    body: object,
    code: str,
    english: str,
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    status, answer = await call(http, served + "/operator/team/invite", admin_token, body)
    assert (status, answer["code"]) == (400, code) and english in answer["error"]
    status, russian = await call(
        http, served + "/operator/team/invite", admin_token, body, lang="ru"
    )
    assert status == 400 and russian["error"] != answer["error"]
    async with gateway.sessions() as session:
        assert [name for name in await session.scalars(select(Operator.name))] == ["Ольга"]


async def test_unknown_operators_and_bad_changes_are_a_clear_400(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin_token = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    anna = await gateway.accounts.save("Анна", login="anna")
    team = f"{served}/operator/team"
    for action in ("link", "disable", "enable", "change"):
        status, answer = await call(http, f"{team}/999999/{action}", admin_token, {"capacity": 2})
        assert (status, answer["code"]) == (400, "unknown_operator"), action
    for body, code in [
        ({"groups": []}, "no_groups"),
        ({"groups": "support"}, "no_groups"),
        ({"capacity": 51}, "capacity_range"),
        ({"capacity": True}, "capacity_range"),
        ({"role": "root"}, "unknown_role"),
    ]:
        status, answer = await call(http, f"{team}/{anna.id}/change", admin_token, body)
        assert (status, answer["code"]) == (400, code), body
    async with http.post(
        f"{team}/{anna.id}/change",
        data=b"{not json",
        headers={**cookie(admin_token), "Content-Type": "application/json"},
    ) as broken:
        assert broken.status == 400 and (await broken.json())["code"] == "bad_body"
    async with http.post(
        f"{team}/{anna.id}/change",
        data=b'{"name": "' + b"x" * 10_000 + b'"}',
        headers=cookie(admin_token),
    ) as huge:
        assert huge.status == 400 and (await huge.json())["code"] == "bad_body"
    async with http.post(f"{team}/{anna.id}/promote", headers=cookie(admin_token)) as unknown:
        assert unknown.status == 404
    anna = await operator(gateway, "anna")
    assert (anna.capacity, anna.group_names, anna.role) == (3, ["support"], OperatorRole.OPERATOR)
    assert await audit_rows(gateway, "operator_changed") == []


async def test_the_team_shows_who_is_at_the_desk_and_what_they_hold(
    gateway: Gateway, served: str, http: aiohttp.ClientSession
) -> None:
    admin = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    async with Console(served, await signed_in(gateway, "Пётр")) as petr:
        await petr.ws.expect(lambda f: f["type"] == "hello")
        await gateway.engine.handle(said("позовите оператора"))
        await petr.command("next", "conversation")
        status, data = await call(http, served + "/operator/team/data", admin)
        assert status == 200
        shown = {row["name"]: (row["presence"], row["holds"]) for row in data["operators"]}
        assert shown == {"Пётр": ("online", 1), "Ольга": ("offline", 0)}
        await petr.command("presence", "presence", state="away")
        data = (await call(http, served + "/operator/team/data", admin))[1]
        assert {row["name"]: row["presence"] for row in data["operators"]}["Пётр"] == "away"
