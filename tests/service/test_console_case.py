"""A case in the console over HTTP, on SQLite and PostgreSQL: the page shows the conversation and triage, every view
is audited, the forms claim, reply, note, refer from the directory and resolve with an outcome, each needing the
session's CSRF token, and a counselor of another school sees nothing."""

from __future__ import annotations

import re
import time

from sqlalchemy import func, select

from bot.channels.embed_token import sign
from bot.service.console_auth import hash_password
from bot.store.console_sessions import set_password
from bot.store.models import AuditEntry
from tests.service.conftest import Service

PASSWORD = "night-shift-2026"  # noqa: S105 - a test account's password
RED = "我今晚就要结束了 已经准备好了"


async def signed_in(service: Service, name: str, school: str) -> str:
    """Create ``name`` and sign them in on the service's client; the session's CSRF token."""
    await service.staff(name, school=school)
    async with service.runtime.db.transaction() as session:
        await set_password(session, name, hash_password(PASSWORD))
    return await log_in(service, name)


async def log_in(service: Service, name: str) -> str:
    """Sign ``name`` in (again); the session's CSRF token."""
    page = await (await service.client.get("/console/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    response = await service.client.post(
        "/console/login", data={"csrf": token.group(1), "username": name, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 303
    queue = await (await service.client.get("/console/")).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', queue)
    assert csrf is not None
    return csrf.group(1)


async def red_case(service: Service, school: str = "nn-001") -> int:
    context = sign({"school": school, "region": "450102", "exp": time.time() + 600}, "school-site-secret")
    await service.say("p" * 24, RED, context=context)
    admin = await service.staff(f"admin-{school}", "admin")
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    return int(cases[0]["id"])


async def post(service: Service, path: str, **data: str) -> tuple[int, str, str]:
    response = await service.client.post(path, data=data, allow_redirects=False)
    return response.status, response.headers.get("Location", ""), await response.text()


async def test_the_case_page_shows_the_conversation_and_the_view_is_audited(service: Service) -> None:
    case_id = await red_case(service)
    await signed_in(service, "wang", "nn-001")
    response = await service.client.get(f"/console/cases/{case_id}?lang=en")
    page = await response.text()
    assert response.status == 200
    assert "准备好了" in page  # the person's words, decrypted for the counselor
    assert "Claim" in page
    assert 'for="reply-text">Reply' in page
    assert "Nanning Fifth People" in page  # the region's referral services first
    async with service.runtime.db.reading() as session:
        views = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.view")
        )
    assert views == 1


async def test_claim_reply_note_and_resolve_from_the_forms(service: Service) -> None:
    case_id = await red_case(service)
    csrf = await signed_in(service, "wang", "nn-001")
    base = f"/console/cases/{case_id}"
    status, location, _ = await post(service, f"{base}/claim", csrf=csrf)
    assert (status, location) == (303, f"{base}?said=done")
    status, location, _ = await post(service, f"{base}/reply", csrf=csrf, text="我在这里，我们一起想办法。")
    assert status == 303
    assert location.endswith(("said=sent", "said=pending"))
    status, _, _ = await post(service, f"{base}/note", csrf=csrf, text="已联系班主任")
    assert status == 303
    page = await (await service.client.get(base)).text()
    assert "我在这里，我们一起想办法。" in page
    assert "已联系班主任" in page
    status, _, body = await post(service, f"{base}/resolve", csrf=csrf, outcome="made-up", text="")
    assert status == 422
    assert "请从列表里选择" in body
    status, _, _ = await post(service, f"{base}/resolve", csrf=csrf, outcome="safety_plan", text="周五再联系")
    assert status == 303
    closed = await (await service.client.get(base)).text()
    assert "这个个案已经结束" in closed


async def test_refer_uses_the_directory(service: Service) -> None:
    case_id = await red_case(service)
    csrf = await signed_in(service, "wang", "nn-001")
    base = f"/console/cases/{case_id}"
    assert (await post(service, f"{base}/claim", csrf=csrf))[0] == 303
    status, _, body = await post(service, f"{base}/refer", csrf=csrf, to="somewhere", reason="x")
    assert status == 422
    assert "请从列表里选择" in body
    status, _, _ = await post(service, f"{base}/refer", csrf=csrf, to="nn-fifth-hospital", reason="需要门诊评估")
    assert status == 303
    page = await (await service.client.get(base)).text()
    assert "南宁市第五人民医院" in page


async def test_forms_without_the_session_token_change_nothing(service: Service) -> None:
    case_id = await red_case(service)
    await signed_in(service, "wang", "nn-001")
    status, _, _ = await post(service, f"/console/cases/{case_id}/claim", csrf="forged")
    assert status == 403
    page = await (await service.client.get(f"/console/cases/{case_id}")).text()
    assert ">认领</button>" in page  # still waiting to be claimed


async def test_another_schools_counselor_sees_nothing_of_the_case(service: Service) -> None:
    case_id = await red_case(service, school="nn-001")
    csrf = await signed_in(service, "li", "nn-002")
    response = await service.client.get(f"/console/cases/{case_id}")
    assert response.status == 404
    assert "准备好了" not in await response.text()
    status, _, body = await post(service, f"/console/cases/{case_id}/claim", csrf=csrf)
    assert status == 404
    assert "准备好了" not in body


async def test_signed_out_the_case_page_sends_to_sign_in(service: Service) -> None:
    case_id = await red_case(service)
    response = await service.client.get(f"/console/cases/{case_id}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/console/login"


async def test_a_follow_up_date_puts_the_case_on_the_due_list_and_says_when_it_is_overdue(service: Service) -> None:
    case_id = await red_case(service)
    csrf = await signed_in(service, "wang", "nn-001")
    base = f"/console/cases/{case_id}"
    assert (await post(service, f"{base}/claim", csrf=csrf))[0] == 303
    status, _, body = await post(service, f"{base}/follow-up", csrf=csrf, on="2026-11-01")
    assert status == 422  # the past is refused
    assert "2026-12-01" in body
    status, _, _ = await post(service, f"{base}/follow-up", csrf=csrf, on="2026-12-03")
    assert status == 303
    assert (await post(service, f"{base}/resolve", csrf=csrf, outcome="supported", text=""))[0] == 303
    queue = await (await service.client.get("/console/")).text()
    assert "今天该追踪的个案" not in queue  # not due yet
    service.clock.advance(days=2)
    await log_in(service, "wang")  # two days on, the session has long timed out
    queue = await (await service.client.get("/console/")).text()
    assert "今天该追踪的个案" in queue
    assert f"#{case_id}</a> · 2026-12-03" in queue
    service.clock.advance(days=1)
    await log_in(service, "wang")
    queue = await (await service.client.get("/console/?lang=en")).text()
    assert "overdue" in queue.split("Follow-ups due")[1]


async def test_the_follow_up_api_takes_a_date_and_refuses_anything_else(service: Service) -> None:
    case_id = await red_case(service)
    token = await service.staff("li", school="nn-001")
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/claim", token))[0] == 200
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/follow-up", token, {"on": "next week"})
    assert status == 422
    assert body["fields"] == ["on"]
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/follow-up", token, {"on": "2026-12-09"})
    assert status == 200
    assert body["case"]["follow_up_on"] == "2026-12-09"


async def test_the_queue_filters_narrow_within_the_scope_and_pages(service: Service) -> None:
    await red_case(service, school="nn-001")
    token = await service.staff("city", role="counselor")  # no scope: the whole deployment
    async with service.runtime.db.transaction() as session:
        await set_password(session, "city", hash_password(PASSWORD))
    page = await (await service.client.get("/console/login")).text()
    form = re.search(r'name="csrf" value="([^"]+)"', page)
    assert form is not None
    await service.client.post("/console/login", data={"csrf": form.group(1), "username": "city", "password": PASSWORD})
    assert token
    everything = await (await service.client.get("/console/")).text()
    assert 'aria-label="红色"' in everything
    other_school = await (await service.client.get("/console/?school=nn-002")).text()
    assert 'aria-label="红色"' not in other_school
    orange_only = await (await service.client.get("/console/?level=orange")).text()
    assert 'aria-label="红色"' not in orange_only
    nonsense = await service.client.get("/console/?level=<script>&offset=-3&school=%27%3B")
    assert nonsense.status == 200  # ignored, not an error page
    assert "<script>" not in await nonsense.text()


async def test_handing_back_lets_the_bot_answer_while_the_case_stays_open(service: Service) -> None:
    case_id = await red_case(service)
    csrf = await signed_in(service, "wang", "nn-001")
    base = f"/console/cases/{case_id}"
    assert (await post(service, f"{base}/claim", csrf=csrf))[0] == 303
    held = await service.say("p" * 24, "你好")
    assert not any(r["from"] == "bot" for r in held["replies"])  # a counselor has the conversation: the bot is quiet
    assert (await post(service, f"{base}/hand-back", csrf=csrf))[0] == 303
    again = await service.say("p" * 24, "你好")
    assert any(r["from"] == "bot" for r in again["replies"])  # the bot answers again
    page = await (await service.client.get(base)).text()
    assert "心理老师先离开一下" in page  # the person was told
    assert "这个个案已经结束" not in page
    status, _, _ = await post(service, f"{base}/hand-back", csrf=csrf)
    assert status == 409


async def test_a_supervisor_reassigns_a_claimed_case_to_a_counselor_who_may_see_it(service: Service) -> None:
    case_id = await red_case(service)
    holder = await service.staff("wang", school="nn-001")
    await service.staff("zhao", school="nn-001")
    await service.staff("far", school="nn-009")
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/claim", holder))[0] == 200
    status, _ = await service.api("POST", f"/api/v1/cases/{case_id}/reassign", holder, {"to": "zhao"})
    assert status == 403  # a counselor does not hand cases around
    boss = await service.staff("boss", "supervisor")
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/reassign", boss, {"to": "far"})
    assert status == 422  # another school's counselor cannot see it
    assert "far" in body["error"]
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/reassign", boss, {"to": "zhao"})
    assert status == 200
    before = (await service.api("GET", f"/api/v1/cases/{case_id}", boss))[1]["events"]
    assert [e["kind"] for e in before][-1] == "reassigned"
    assert before[-1]["detail"] == "zhao"
    status, _ = await service.api("POST", f"/api/v1/cases/{case_id}/reply", holder, {"text": "还在吗"})
    assert status == 403  # the case is zhao's now
