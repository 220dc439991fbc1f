"""Which topic a message names and who seems to be writing, from the editors' keywords in topics.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.library import ContentError, parse_writers
from bot.core.retrieval import ArticleIndex, latin_words
from bot.loaders.content import article_index

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture(scope="module")
def index() -> ArticleIndex:
    return article_index(CONTENT)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("睡不着", "sleep"),
        ("下星期考DSE 壓力好大 成晚瞓唔着", "sleep"),  # Cantonese folded to Mandarin, as triage reads it
        ("i cant sleep lately", "sleep"),
        ("i can't sleep lately", "sleep"),  # apostrophes dropped on both sides
        ("so stressed about everything", "stress"),
        ("my best friends ignore me", "friendship"),  # a plural counts as the word
        ("阿公上個禮拜過咗身 我仲係好想喊", "grief"),
        ("my mom compares me to my cousin constantly", "parent_child"),
    ],
)
def test_a_message_names_its_topic(index: ArticleIndex, text: str, topic: str) -> None:
    assert topic in index.named_topics(text)


def test_words_inside_other_words_name_nothing(index: ArticleIndex) -> None:
    # "scared" is not "scar"; 计划 is not 划; a weather remark names no worry.
    assert "self_harm" not in index.named_topics("im scared of the dark")
    assert "self_harm" not in index.named_topics("我做了一个学习计划")
    assert index.named_topics("今天天气不错") == ()


@pytest.mark.parametrize(
    ("text", "writer"),
    [
        ("我家孩子天天玩手机，怎么说都不听", "parent"),
        ("my son plays games until 2am", "parent"),
        ("我是班主任，班上有个学生最近不说话", "teacher"),
        ("无语 我妈又拿我跟别人家孩子比", "student"),
        ("今天天气不错", None),
    ],
)
def test_who_is_writing(index: ArticleIndex, text: str, writer: str | None) -> None:
    assert index.writer(text) == writer


def test_a_named_topic_outranks_a_chance_overlap(index: ArticleIndex) -> None:
    # 我妈 … 别人家孩子 shares characters with parents' exam articles; the student's worry is being compared.
    top = index.search("无语 我妈又拿我跟别人家孩子比", lang="zh", strict_audience=False, limit=1)[0].article
    assert "parent_child" in top.topics
    assert "parent" not in top.audience


def test_latin_words_pads_and_stems() -> None:
    assert latin_words("i can't sleep, friends") == " i cant sleep friend "
    assert latin_words("stress, scared") == " stress scared "


def test_writers_are_validated() -> None:
    with pytest.raises(ContentError, match="writers: unknown"):
        parse_writers("topics.yml", {"writers": {"grandma": ["我孙子"]}})
    with pytest.raises(ContentError, match=r"writers\.parent: must be a list"):
        parse_writers("topics.yml", {"writers": {"parent": "我家孩子"}})
    assert parse_writers("topics.yml", {"topics": {}}) == {}
