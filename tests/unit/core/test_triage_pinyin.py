"""Chinese typed in pinyin reads like the Chinese it stands for; English is not mistaken for it."""

from __future__ import annotations

from bot.core.triage import Level
from bot.core.triage.pinyin import looks_like_pinyin, respace
from tests.unit.core.lexicon_builder import make_engine

READINGS = {
    "我": ("wo",), "在": ("zai",), "楼": ("lou",), "顶": ("ding",), "想": ("xiang",), "死": ("si",),
    "紫": ("zi",), "砂": ("sha",), "自": ("zi",), "杀": ("sha",), "壶": ("hu",), "觉": ("jue", "jiao"),
    "睡": ("shui",), "不": ("bu",), "着": ("zhe", "zhao"),
}  # fmt: skip
ENTRIES = [
    {"id": "zh.t.place", "role": "high_place", "level": "none", "category": "suicide", "terms": ["楼顶"]},
    {"id": "zh.t.self", "role": "self", "level": "none", "category": "suicide", "terms": ["我"]},
    {"id": "zh.t.now", "role": "now", "level": "none", "category": "suicide", "terms": ["在"]},
    {"id": "zh.t.wish", "role": "ideation", "level": "orange", "category": "suicide", "terms": ["想死", "自杀"]},
    {"id": "zh.t.sleep", "role": "distress", "level": "yellow", "category": "distress", "terms": ["睡不着觉"]},
    # 紫砂 (teapot clay) sounds like 自杀: its mask must not hide the cue in pinyin.
    {"id": "zh.t.teapot", "role": "hyperbole", "level": "none", "terms": ["紫砂壶"]},
    {"id": "en.t.die", "lang": "en", "role": "ideation", "level": "orange", "category": "suicide", "terms": ["zisha"]},
]
RULES = [{"id": "place_self", "all": [["self"], ["high_place"]], "level": "red", "category": "suicide",
          "scope": "clause"}]  # fmt: skip


def engine():
    return make_engine(ENTRIES, RULES, everyday_roles={"self", "now"}, readings=READINGS)


def test_pinyin_is_told_from_english():
    assert looks_like_pinyin("wo zai lou ding")
    assert looks_like_pinyin("buxianghuole, wo hao lei")
    assert not looks_like_pinyin("i am on the roof")
    assert not looks_like_pinyin("hello")
    assert not looks_like_pinyin("我在楼顶")


def test_syllables_are_spaced_out():
    assert respace("woxiangsi, zai louding") == "wo xiang si, zai lou ding"
    assert respace("wo hao lei ok") == "wo hao lei ok"


def test_a_chinese_cue_reads_in_pinyin_spaced_or_run_together():
    for text in ("wo xiang si", "woxiangsi", "Wo Xiang Si!"):
        assert engine().assess(text).level is Level.ORANGE, text


def test_rules_compose_pinyin_cues():
    assert engine().assess("wo zai louding").level is Level.RED


def test_every_reading_of_a_character_is_spelled():
    assert engine().assess("ye ye shui bu zhao jiao").level is Level.YELLOW


def test_a_mask_that_sounds_like_a_cue_hides_nothing():
    assert engine().assess("wo xiang mai zi sha hu").level is Level.ORANGE


def test_a_latin_term_still_matches_once_the_message_is_spaced():
    assert engine().assess("wo zisha ba").level is Level.ORANGE


def test_without_a_table_pinyin_is_read_as_latin_text():
    plain = make_engine(ENTRIES, RULES, everyday_roles={"self", "now"})
    assert plain.assess("wo xiang si").level is Level.NONE
