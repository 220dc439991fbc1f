"""Slot composition, word gating, negation and answers to the bot's questions, on a small lexicon."""

from __future__ import annotations

from bot.core.triage import Level

from .lexicon_builder import make_engine

SLOTS = [
    {"id": "self", "role": "self", "level": "none", "category": "suicide", "terms": ["我"]},
    {"id": "means", "role": "means", "level": "none", "category": "suicide", "terms": ["绳子", "药"]},
    {"id": "ready", "role": "ready", "level": "none", "category": "suicide", "terms": ["准备好", "买好"]},
    {"id": "now", "role": "now", "level": "none", "category": "suicide", "terms": ["现在"]},
    {"id": "place", "role": "place", "level": "none", "category": "suicide", "terms": ["楼顶", "天台"]},
    {"id": "ideation", "role": "ideation", "level": "orange", "category": "suicide", "terms": ["想死", "自杀"]},
    {"id": "dying", "role": "dying", "level": "none", "category": "suicide", "terms": ["死"], "word": True},
    {"id": "wish", "role": "wish", "level": "none", "category": "suicide", "terms": ["想要"]},
    {"id": "killing", "role": "killing", "level": "none", "category": "harm_others", "terms": ["杀"], "word": True},
    {"id": "other", "role": "other", "level": "none", "category": "harm_others", "terms": ["他"]},
    {"id": "neg", "role": "negation", "level": "none", "category": "suicide", "terms": ["没有", "从来不"]},
    {"id": "past", "role": "past", "level": "none", "category": "suicide", "terms": ["以前"]},
    {"id": "ok", "role": "resolved", "level": "none", "category": "suicide", "terms": ["现在好多了"]},
    {"id": "yes", "role": "affirm", "level": "none", "category": "suicide", "terms": ["有", "嗯", "是"], "word": True},
    {"id": "no", "role": "deny", "level": "none", "category": "suicide", "terms": ["没有", "不会"]},
    {"id": "company", "role": "company", "level": "none", "category": "suicide", "terms": ["有没有人陪"]},
    {"id": "alone", "role": "alone", "level": "none", "category": "suicide", "terms": ["没有人陪", "一个人"]},
    {"id": "laugh", "role": "laugh", "level": "none", "category": "suicide", "terms": ["哈哈"]},
    {"id": "info", "role": "info", "level": "none", "terms": ["怎么跟她聊"]},
    {"id": "reported", "role": "reported", "level": "none", "category": "third_party", "terms": ["作文里写了"]},
    {"id": "lack", "role": "lack", "level": "none", "category": "suicide", "terms": ["没勇气"]},
    {"id": "living", "role": "living", "level": "none", "category": "suicide", "terms": ["活下去"]},
    {"id": "leisure", "role": "leisure", "level": "none", "category": "suicide", "terms": ["跳绳"]},
    {"id": "beaten", "role": "abuse", "level": "orange", "category": "abuse", "terms": ["被家暴"]},
]
RULES = [
    {
        "id": "means_ready",
        "all": [["means"], ["ready"]],
        "unless": ["leisure"],
        "scope": "clause",
        "level": "red",
        "category": "suicide",
    },
    {
        "id": "two_signs",
        "all": [["self"]],
        "any_of": ["now", "place", "means"],
        "at_least": 2,
        "scope": "clause",
        "level": "red",
        "category": "suicide",
    },
    {"id": "wish_death", "all": [["wish"], ["dying"]], "scope": "clause", "level": "orange", "category": "suicide"},
    {
        "id": "kill_him",
        "all": [["killing"], ["other"]],
        "scope": "clause",
        "level": "orange",
        "category": "harm_others",
    },
    {"id": "yes_thoughts", "all": [["asked_thoughts"], ["affirm"]], "level": "orange", "category": "suicide"},
    {"id": "yes_plan", "all": [["asked_plan"], ["affirm"]], "level": "red", "category": "suicide"},
    {"id": "pact", "all": [["company"], ["alone"]], "scope": "message", "level": "orange", "category": "suicide"},
    {"id": "no_courage", "all": [["lack"], ["living"]], "scope": "clause", "level": "orange", "category": "suicide"},
    {"id": "told", "all": [["reported"], ["means"]], "scope": "message", "level": "orange", "category": "suicide"},
]
WORDS = ["自杀", "死水", "死机", "有点", "楼顶", "打篮球", "摔", "游戏"]
ENGINE = make_engine(SLOTS, RULES, everyday_roles={"self", "now", "affirm"}, words=WORDS)


def level(text: str, **options: object) -> Level:
    return ENGINE.assess(text, **options).level  # type: ignore[arg-type]


def test_slots_compose_in_any_order_within_a_clause() -> None:
    assert level("绳子准备好了") is Level.RED
    assert level("我准备好绳子了") is Level.RED
    assert level("准备好了，明天去买绳子") is Level.NONE  # two clauses: readiness is for something else


def test_two_signs_said_of_oneself_make_red_and_one_does_not() -> None:
    assert level("我现在在楼顶") is Level.RED
    assert level("我在楼顶") is Level.NONE


def test_a_word_only_cue_counts_only_as_a_word() -> None:
    assert level("想要死") is Level.ORANGE
    assert level("想要一潭死水") is Level.NONE
    assert level("杀了他") is Level.ORANGE
    assert level("他自杀了") is Level.ORANGE  # the ideation cue, not harm to others
    assert "harm_others" not in ENGINE.assess("他自杀了").categories


def test_a_negation_before_a_cue_lowers_it_to_yellow_and_never_to_nothing() -> None:
    assert level("我没有想死") is Level.YELLOW
    assert level("我从来不自杀") is Level.YELLOW
    assert level("我想死") is Level.ORANGE


def test_a_past_that_is_over_lowers_to_yellow_and_a_past_alone_does_not() -> None:
    assert level("以前想死，现在好多了") is Level.YELLOW
    assert level("以前想死") is Level.ORANGE


def test_a_yes_to_the_bots_question_is_what_the_question_asked() -> None:
    assert level("有", asked="thoughts") is Level.ORANGE
    assert level("嗯", asked="plan") is Level.RED
    assert level("有", asked=None) is Level.NONE
    assert level("有点累", asked="thoughts") is Level.NONE  # 有 is part of 有点 here, not a yes


def test_a_negation_reaches_over_english_words_in_a_chinese_sentence() -> None:
    assert level("我没有 thought about 想死") is Level.YELLOW
    assert level("我没有 thought about 很多 事情 就是想死") is Level.ORANGE  # too far: a new thought


def test_an_answer_that_opens_with_no_is_no_even_with_a_yes_word_further_on() -> None:
    assert level("没有，那个伤口是打篮球摔的", asked="thoughts") is Level.NONE
    assert level("不会，就是有时候有", asked="thoughts") is Level.ORANGE  # "no, but …": the but still answers
    assert level("嗯，没有计划", asked="plan") is Level.RED  # opens with a yes


def test_one_word_cannot_stand_for_two_groups_of_a_rule() -> None:
    assert level("有没有人陪我聊天") is Level.NONE  # 没有人陪 lies inside 有没有人陪
    assert level("有没有人陪我，我不想一个人") is Level.ORANGE


def test_a_laugh_softens_a_thought_but_not_harm_done_to_the_writer() -> None:
    assert level("想死哈哈") is Level.YELLOW
    assert level("被家暴了 哈哈") is Level.ORANGE
    assert level("我想死。明天考试哈哈") is Level.ORANGE  # the laugh is about something else


def test_a_reason_a_rule_does_not_apply_reaches_over_commas_but_not_full_stops() -> None:
    assert level("我准备好绳子了，明天跳绳考试要用") is Level.NONE
    assert level("我准备好绳子了。下午跳绳考试，挺累") is Level.RED


def test_what_a_named_person_wrote_is_a_report_even_with_a_question_for_help() -> None:
    report = ENGINE.assess("学生作文里写了想死，怎么跟她聊")
    assert report.level is Level.ORANGE
    assert "third_party" in report.categories
    assert level("如果学生作文里写了想死，怎么跟她聊") is not Level.ORANGE  # a what-if is a question
    assert level("学生作文里写了想死。怎么跟她聊") is Level.ORANGE


def test_a_context_role_a_rule_names_takes_part_in_that_rule() -> None:
    assert level("作文里写了绳子") is Level.ORANGE
    assert level("绳子") is Level.NONE


def test_a_negation_inside_a_slot_word_negates_nothing() -> None:
    assert level("没勇气活下去了") is Level.ORANGE  # the 没 belongs to 没勇气


def test_word_gating_belongs_to_the_entry_not_to_the_term() -> None:
    # 想 as a yes must be a word of its own; 想 as a wish need not be (真想 is one word to the segmenter).
    shared = make_engine(
        [
            {"id": "wish", "role": "wish", "level": "none", "category": "suicide", "terms": ["想"]},
            {"id": "yes", "role": "affirm", "level": "none", "category": "suicide", "terms": ["想"], "word": True},
            {"id": "dying", "role": "dying", "level": "none", "category": "suicide", "terms": ["死掉"]},
        ],
        [
            {
                "id": "wish_death",
                "all": [["wish"], ["dying"]],
                "scope": "near",
                "window": 2,
                "ordered": True,
                "level": "orange",
                "category": "suicide",
            }
        ],
        everyday_roles={"wish", "affirm"},
        words=["真想"],
    )
    assert shared.assess("真想死掉").level is Level.ORANGE
