"""The counselor side through HTTP: scoped queue, claim race, replies reaching the person, notes, referral,
resolution, audit, the SSE stream and the SLA watchdog."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sqlalchemy import select

from bot.channels.embed_token import sign
from bot.store.models import AuditEntry, CaseEvent
from tests.service.conftest import Service, new_session, next_frame

RED = "我不想活了，药都准备好了，今晚就吃"
ORANGE = "我最近一直想死"


def school_context(school: str, region: str = "450102") -> str:
    return sign({"school": school, "region": region, "exp": time.time() + 600}, "school-site-secret")


async def open_case(service: Service, text: str = RED, **extra: Any) -> tuple[str, int]:
    session_id = new_session()
    await service.say(session_id, text, **extra)
    admin = await service.staff(f"admin-{new_session()[:6]}", "admin")
    status, body = await service.api("GET", "/api/v1/cases", admin)
    assert status == 200
    return session_id, body["cases"][0]["id"]


async def test_case_visible_in_scope_and_not_outside(service: Service) -> None:
    await service.say(new_session(), RED, context=school_context("nn-001"))
    inside = await service.staff("li", school="nn-001")
    other_school = await service.staff("wang", school="nn-002")
    other_district = await service.staff("zhao", district="360102")
    own_district = await service.staff("chen", district="450102")
    status, body = await service.api("GET", "/api/v1/cases", inside)
    assert status == 200
    assert [c["level"] for c in body["cases"]] == ["red"]
    case_id = body["cases"][0]["id"]
    for token in (other_school, other_district):
        assert (await service.api("GET", "/api/v1/cases", token))[1]["cases"] == []
        status, body = await service.api("GET", f"/api/v1/cases/{case_id}", token)
        assert status == 404
        assert (await service.api("POST", f"/api/v1/cases/{case_id}/claim", token))[0] == 404
    # Red pages the district at once.
    assert len((await service.api("GET", "/api/v1/cases", own_district))[1]["cases"]) == 1


async def test_orange_at_school_is_not_shown_to_the_district_until_escalated(service: Service) -> None:
    await service.say(new_session(), ORANGE, context=school_context("nn-001"))
    district = await service.staff("chen", district="450102")
    assert (await service.api("GET", "/api/v1/cases", district))[1]["cases"] == []
    service.clock.advance(minutes=31)
    assert await service.casework.sweep() == 1
    cases = (await service.api("GET", "/api/v1/cases", district))[1]["cases"]
    assert [(c["tier"], c["escalations"]) for c in cases] == [("district", 1)]


async def test_no_token_or_a_wrong_token_is_401(service: Service) -> None:
    response = await service.client.get("/api/v1/cases")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    status, _ = await service.api("GET", "/api/v1/cases", "xq_not-a-token")
    assert status == 401


async def test_queue_is_highest_level_first_then_longest_waiting(service: Service) -> None:
    await service.say(new_session(), "最近总是失眠，心情很差，好几个星期了")
    service.clock.advance(seconds=10)
    await service.say(new_session(), ORANGE)
    service.clock.advance(seconds=10)
    await service.say(new_session(), RED)
    service.clock.advance(seconds=10)
    await service.say(new_session(), ORANGE)
    token = await service.staff("li")
    cases = (await service.api("GET", "/api/v1/cases", token))[1]["cases"]
    assert [c["level"] for c in cases] == ["red", "orange", "orange", "yellow"]
    assert cases[1]["opened_at"] < cases[2]["opened_at"]
    only_orange = (await service.api("GET", "/api/v1/cases?level=orange", token))[1]["cases"]
    assert [c["level"] for c in only_orange] == ["orange", "orange"]
    status, body = await service.api("GET", "/api/v1/cases?level=purple", token)
    assert status == 422
    assert "purple" in body["error"]


async def test_two_counselors_claiming_at_once_exactly_one_wins(service: Service) -> None:
    _session, case_id = await open_case(service)
    tokens = [await service.staff(f"c{n}") for n in range(5)]
    results = await asyncio.gather(*(service.api("POST", f"/api/v1/cases/{case_id}/claim", t) for t in tokens))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409, 409]


async def test_claim_tells_the_person_and_replies_reach_the_web_chat(service: Service) -> None:
    session_id, case_id = await open_case(service)
    token = await service.staff("li")
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": session_id})
        assert (await next_frame(ws, 5))["type"] == "ready"
        assert (await service.api("POST", f"/api/v1/cases/{case_id}/claim", token))[0] == 200
        joined = await next_frame(ws, 5)
        assert joined["from"] == "system"
        assert "学校心理老师" in joined["text"]
        status, body = await service.api(
            "POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "我在，我们慢慢说。"}
        )
        assert status == 200
        assert body["delivered"] is True
        reply = await next_frame(ws, 5)
        assert (reply["from"], reply["text"]) == ("counselor", "我在，我们慢慢说。")
        # While the counselor holds the conversation the bot stays quiet apart from safety replies.
        await ws.send_json({"type": "message", "text": "谢谢老师", "message_id": "after-claim"})
        await asyncio.sleep(0.3)
        view = (await service.api("GET", f"/api/v1/cases/{case_id}", token))[1]
        assert view["messages"][-1]["text"] == "谢谢老师"
        assert view["case"]["status"] == "active"


async def test_reply_to_a_person_who_is_away_waits_for_their_next_message(service: Service) -> None:
    session_id, case_id = await open_case(service)
    token = await service.staff("li")
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "你还好吗？"})
    assert (status, body["delivered"]) == (200, False)
    later = await service.say(session_id, "我回来了")
    texts = [r["text"] for r in later["replies"]]
    assert "你还好吗？" in texts


async def test_reply_needs_a_claim_and_the_holder(service: Service) -> None:
    _session, case_id = await open_case(service)
    li, wang = await service.staff("li"), await service.staff("wang")
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/reply", li, {"text": "hi"})
    assert (status, "claimed" in body["error"]) == (409, True)
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", li)
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/reply", wang, {"text": "hi"}))[0] == 403


async def test_bad_action_bodies_are_clear_errors(service: Service) -> None:
    _session, case_id = await open_case(service)
    token = await service.staff("li")
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"txt": "x"})
    assert status == 422
    assert "text" in body["error"]
    assert "txt" in body["error"]
    response = await service.client.post(
        f"/api/v1/cases/{case_id}/note", data=b"{oops", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 400
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "x" * 5000}))[0] == 413
    assert (await service.api("POST", "/api/v1/cases/999999/claim", token))[0] == 404
    assert (await service.api("POST", "/api/v1/cases/abc/claim", token))[0] == 404


async def test_note_refer_resolve_and_the_person_is_told_how_to_come_back(service: Service) -> None:
    session_id, case_id = await open_case(service)
    token = await service.staff("li")
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/note", token, {"text": "家长已联系"}))[0] == 200
    status, body = await service.api("POST", f"/api/v1/cases/{case_id}/resolve", token, {"outcome": "safety_plan"})
    assert (status, body["case"]["status"]) == (200, "resolved")
    assert "outcome" not in body["case"]  # free text never rides on the case summary (pushed to every console)
    later = await service.say(session_id, "你好")
    assert any("找心理老师" in r["text"] for r in later["replies"])
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/resolve", token, {"outcome": "again"}))[0] == 409
    admin = await service.staff("boss", "admin")
    view = (await service.api("GET", f"/api/v1/cases/{case_id}", admin))[1]
    kinds = [e["kind"] for e in view["events"]]
    assert kinds[:2] == ["opened", "claimed"]
    assert "note" in kinds
    assert "resolved" in kinds
    assert any(e["detail"] == "家长已联系" for e in view["events"])
    assert view["outcome"] == "safety_plan"


async def test_refer_records_where_and_why(service: Service) -> None:
    _session, case_id = await open_case(service, ORANGE)
    token = await service.staff("li")
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    status, body = await service.api(
        "POST", f"/api/v1/cases/{case_id}/refer", token, {"to": "南宁市第五人民医院", "reason": "需要评估"}
    )
    assert (status, body["case"]["status"]) == (200, "referred")
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/refer", token, {"to": "x"}))[0] in {404, 422}


async def test_case_views_and_actions_are_audited(service: Service) -> None:
    _session, case_id = await open_case(service)
    token = await service.staff("li")
    await service.api("GET", f"/api/v1/cases/{case_id}", token)
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    async with service.runtime.db.reading() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)))
        notes = list(await session.scalars(select(CaseEvent.detail_enc).where(CaseEvent.detail_enc.is_not(None))))
    assert actions == ["case.view", "case.claim"]
    assert notes == []


async def read_events(response: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) >= count:
                    return

    await asyncio.wait_for(collect(), timeout)
    return events


async def test_sse_streams_case_changes_in_scope_only(service: Service) -> None:
    inside = await service.staff("li", school="nn-001")
    outside = await service.staff("wang", school="nn-002")
    headers = {"Authorization": f"Bearer {inside}"}
    stream = await service.client.get("/api/v1/events", headers=headers)
    other = await service.client.get("/api/v1/events", headers={"Authorization": f"Bearer {outside}"})
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    await service.say(new_session(), RED, context=school_context("nn-001"))
    events = await read_events(stream, 1)
    assert events[0]["type"] == "case.opened"
    assert events[0]["case"]["level"] == "red"
    assert "text" not in json.dumps(events[0])
    await service.say(new_session(), RED, context=school_context("nn-002"))
    assert (await read_events(other, 1))[0]["case"]["school"] == "nn-002"
    stream.close()
    other.close()
    unauthorised = await service.client.get("/api/v1/events")
    assert unauthorised.status == 401


async def test_unclaimed_red_climbs_and_the_person_gets_the_hotlines_again(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, RED, context=school_context("nn-001"))
    service.clock.advance(minutes=4)
    assert await service.casework.sweep() == 0
    service.clock.advance(minutes=2)
    assert await service.casework.sweep() == 1
    later = await service.say(session_id, "还在吗")
    assert any("12356" in r["text"] for r in later["replies"])
    admin = await service.staff("boss", "admin")
    case = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]
    assert (case["tier"], case["escalations"]) == ("district", 1)
    service.clock.advance(minutes=6)
    await service.casework.sweep()
    case = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]
    assert (case["tier"], case["escalations"]) == ("city", 2)


async def test_yellow_opens_a_low_priority_follow_up_and_red_raises_it(service: Service) -> None:
    session_id = new_session()
    await service.say(session_id, "最近总是失眠，心情很差，好几个星期了")
    admin = await service.staff("boss", "admin")
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    assert [c["level"] for c in cases] == ["yellow"]
    await service.say(session_id, RED)
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    assert [c["level"] for c in cases] == ["red"]
    assert cases[0]["claim_deadline"] < cases[0]["opened_at"].replace("T02:00", "T02:06")


async def test_asking_for_a_counselor_opens_a_request(service: Service) -> None:
    body = await service.say(new_session(), "/talk_to_counselor")
    assert "110" in body["replies"][0]["text"]
    admin = await service.staff("boss", "admin")
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    assert cases[0]["categories"] == ["request"]


async def test_healthz_metrics_and_openapi(service: Service) -> None:
    await service.say(new_session(), RED)
    assert (await (await service.client.get("/healthz")).json())["database"] == "ok"
    metrics = await (await service.client.get("/metrics")).text()
    assert 'xinqiao_triage_total{level="red"} 1.0' in metrics
    assert 'xinqiao_cases{level="red",status="open"} 1.0' in metrics
    spec = await (await service.client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/cases/{id}/claim" in spec["paths"]


async def test_a_reply_sent_while_away_arrives_when_the_page_reconnects(service: Service) -> None:
    session_id, case_id = await open_case(service)
    token = await service.staff("li")
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "我在这里等你。"})
    async with service.client.ws_connect("/api/v1/web/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": session_id})
        assert (await next_frame(ws, 5))["type"] == "ready"
        texts = [(await next_frame(ws, 5))["text"] for _ in range(2)]
    assert "我在这里等你。" in texts
    later = await service.say(session_id, "嗯")
    assert all(r["text"] != "我在这里等你。" for r in later["replies"])


async def test_an_unclaimed_red_case_climbs_to_the_city_and_no_further_and_the_person_hears_once_a_climb(
    service: Service,
) -> None:
    session_id = new_session()
    await service.say(session_id, RED, context=school_context("nn-001"))
    for _ in range(10):
        service.clock.advance(minutes=6)
        assert await service.casework.sweep() == 1
    admin = await service.staff("boss", "admin")
    case = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"][0]
    assert (case["tier"], case["escalations"]) == ("city", 2)
    view = (await service.api("GET", f"/api/v1/cases/{case['id']}", admin))[1]
    kinds = [e["kind"] for e in view["events"]]
    assert kinds.count("escalated") == 2
    assert kinds.count("repaged") == 8
    waiting = [m for m in view["messages"] if m["from"] == "system" and "还在帮你找" in m["text"]]
    assert len(waiting) == 2
    metrics = await (await service.client.get("/metrics")).text()
    assert 'xinqiao_case_escalations_total{level="red"} 2.0' in metrics
    assert 'xinqiao_case_repages_total{level="red"} 8.0' in metrics
