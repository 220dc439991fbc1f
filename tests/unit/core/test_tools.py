"""Guided exercises: validated at load with the file and field named; the one offered fits the topic."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.core.content_error import ContentError
from bot.core.tools import build_toolbox, parse_tool

TOOL: dict[str, Any] = {
    "id": "zh-t-breathe",
    "title": "慢慢呼吸",
    "lang": "zh",
    "audience": ["student_junior"],
    "topics": ["anxiety", "stress"],
    "summary": "两分钟。",
    "minutes": 2,
    "sources": ["世界卫生组织（2020）"],
    "review": {"status": "approved", "reviewer": "内容组", "date": "2026-12-02"},
    "steps": [{"text": "坐好。", "button": "好了"}, {"text": "慢慢呼气。", "button": "做完了"}],
    "check_in": {
        "question": "现在怎么样？",
        "options": [
            {"label": "好一些", "reply": "太好了。"},
            {"label": "差不多", "reply": "没关系。"},
            {"label": "更难受", "reply": "找心理老师。"},
        ],
    },
}


def parse(raw: dict[str, Any], stem: str = "zh-t-breathe") -> Any:
    return parse_tool("t.yml", raw, file_stem=stem, folder_lang="zh")


def test_a_valid_tool_parses() -> None:
    tool = parse(TOOL)
    assert [s.button for s in tool.steps] == ["好了", "做完了"]
    assert len(tool.check_in.options) == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.pop("steps"), "missing fields: steps"),
        (lambda t: t.update(steps=[{"text": "一步"}]), "steps: a list of 2"),
        (lambda t: t["steps"][1].pop("button"), "step 2 needs text and button"),
        (lambda t: t["check_in"]["options"].pop(), "three options"),
        (lambda t: t.update(topics=["cooking"]), "unknown codes cooking"),
        (lambda t: t.update(minutes=0), "minutes"),
        (lambda t: t.update(id="zh-t-other"), "equal the file name"),
        (lambda t: t.update(colour="blue"), "unknown fields: colour"),
    ],
)
def test_a_broken_tool_is_refused_with_the_file_and_field(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(TOOL)
    mutate(raw)
    with pytest.raises(ContentError, match=message) as error:
        parse(raw)
    assert "t.yml" in str(error.value)


def test_the_tool_offered_fits_the_first_topic_and_drafts_are_never_offered() -> None:
    draft = copy.deepcopy(TOOL) | {"id": "zh-t-draft", "topics": ["sleep"]}
    draft["review"] = {"status": "draft", "reviewer": "内容组", "date": "2026-12-02"}
    box = build_toolbox([parse(TOOL), parse(draft, "zh-t-draft")])
    assert box.for_topics(["grief", "stress"], "zh", "student_junior").id == "zh-t-breathe"
    assert box.for_topics(["sleep"], "zh", None) is None
    assert box.for_topics(["stress"], "en", None) is None
