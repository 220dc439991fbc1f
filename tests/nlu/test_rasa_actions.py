"""Our custom actions as Rasa's action server runs them: rasa-sdk's executor with request payloads shaped as
Rasa 3 sends them to the action server's webhook."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor
from sqlalchemy import select

from bot.store.database import Database, create_engine
from bot.store.models import Case, User

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "dialogues" / "domain.yml").read_text(encoding="utf-8"))


def payload(
    action: str, text: str, intent: str, slots: dict[str, Any], entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "next_action": action,
        "sender_id": "rasa-user-1",
        "tracker": {
            "sender_id": "rasa-user-1",
            "slots": {"language": "zh", "role": None, "grade": None, "region": None, "article": None,
                      "article_part": None, **slots},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.93},
                "entities": entities or [],
                "message_id": "m-42",
                "metadata": {},
            },
            "latest_event_time": 1764600000.0,
            "followup_action": None,
            "paused": False,
            "events": [],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
        "domain": DOMAIN,
        "version": "3.10.0",
    }  # fmt: skip


@pytest.fixture(scope="module")
def executor() -> ActionExecutor:
    executor = ActionExecutor()
    executor.register_package("bot.rasa_actions")
    return executor


async def run(executor: ActionExecutor, call: dict[str, Any]) -> dict[str, Any]:
    result = await executor.run(call)
    assert result is not None
    return result.model_dump(by_alias=True) if hasattr(result, "model_dump") else dict(result)


async def test_search_answers_with_a_summary_and_sets_the_article_slots(executor: ActionExecutor) -> None:
    result = await run(executor, payload("action_search_articles", "考试前紧张睡不着怎么办", "ask_question", {}))
    assert "/articles/zh-" in result["responses"][0]["text"]
    assert any(b["payload"] == "/more" for b in result["responses"][0]["buttons"])
    slots = {e["name"]: e["value"] for e in result["events"] if e["event"] == "slot"}
    assert slots["article"].startswith("zh-")
    assert slots["article_part"] == 0.0


async def test_more_continues_the_article_from_the_slots(executor: ActionExecutor) -> None:
    first = await run(executor, payload("action_search_articles", "孩子总玩手机怎么办", "ask_question", {}))
    article = next(e["value"] for e in first["events"] if e.get("name") == "article")
    result = await run(executor, payload("action_more", "继续", "more", {"article": article, "article_part": 0.0}))
    assert result["responses"][0]["text"].startswith("第 1/")


async def test_set_profile_maps_entities_to_slots(executor: ActionExecutor) -> None:
    entities = [{"entity": "role", "value": "parent", "start": 2, "end": 4, "extractor": "DIETClassifier"}]
    result = await run(executor, payload("action_set_profile", "我是家长", "set_role", {}, entities))
    assert {"event": "slot", "timestamp": None, "name": "role", "value": "parent"} in result["events"]
    assert "家长" in result["responses"][0]["text"]


async def test_show_plan_reads_the_form_slots_in_english(executor: ActionExecutor) -> None:
    slots = {"language": "en", "plan_coping": "listen to music", "plan_people": "my aunt"}
    result = await run(executor, payload("action_show_plan", "show my plan", "show_plan", slots))
    assert "listen to music" in result["responses"][0]["text"]


async def test_unknown_action_is_refused(executor: ActionExecutor) -> None:
    from rasa_sdk.interfaces import ActionNotFoundException

    with pytest.raises(ActionNotFoundException):
        await executor.run(payload("action_launch_rockets", "x", "greet", {}))


async def test_escalate_opens_a_request_case_in_our_store(
    executor: ActionExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("XINQIAO_DATA_DIR", str(tmp_path))
    await run(executor, payload("action_escalate", "我想找心理老师", "talk_to_counselor", {}))
    await asyncio.sleep(0)
    db = Database(create_engine(url))
    try:
        async with db.reading() as session:
            user = await session.scalar(select(User))
            case = await session.scalar(select(Case))
    finally:
        await db.close()
    assert user is not None
    assert (user.channel, user.external_id) == ("rasa", "rasa-user-1")
    assert case is not None
    assert (case.level, case.categories) == ("yellow", "request")


async def test_hotlines_action_lists_the_lines_of_the_region(executor: ActionExecutor) -> None:
    result = await run(executor, payload("action_hotlines", "热线", "hotlines", {"region": "450100"}))
    text = result["responses"][0]["text"]
    assert "0771-2628005" in text
    assert "12356" in text
    assert "{hotlines}" not in text
