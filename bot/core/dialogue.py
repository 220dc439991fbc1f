"""The embedded dialogue engine over the Rasa-format ``dialogues/`` project: rules map an intent to responses
and actions, the safety-plan form asks its slots in order, articles are delivered in parts. Pure: it returns
replies, the new conversation state and the effects the caller must carry out (store a plan, open a request)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.content_error import ContentError, line_of
from bot.core.library import Article, Library, Topic
from bot.core.messages import Button, OutboundMessage
from bot.core.responses import LANGS, Response, parse_variations
from bot.core.retrieval import ArticleIndex
from bot.core.tools import Tool, Toolbox
from bot.core.understanding import Understanding

FALLBACK = "utter_fallback"
LANGUAGE_INTENTS = {"lang_zh": "zh", "lang_en": "en"}
FEEDBACK_ASK, FEEDBACK_THANKS = "utter_feedback_ask", "utter_feedback_thanks"
REQUIRED_RESPONSES = (
    "utter_greet", "utter_menu", "utter_fallback", "utter_hotlines", "utter_counselor_requested",
    "utter_counselor_joined", "utter_counselor_left", "utter_counselor_handed_back", "utter_counselor_waiting",
    "utter_language_switched",
    "utter_rate_limited", "utter_no_results", "utter_more_none",
)  # fmt: skip
STOP_FORM = frozenset({"menu", "deny", "goodbye", "talk_to_counselor", "hotlines"})
CUSTOM_ACTIONS = frozenset({
    "action_hotlines", "action_set_profile", "action_search_articles", "action_more", "action_subscribe",
    "action_unsubscribe", "action_show_plan", "action_escalate",
})  # fmt: skip
# The library topic of what a report was about, for the questions that follow it.
CATEGORY_TOPICS = {
    "self_harm": "self_harm",
    "suicide": "warning_signs",
    "abuse": "abuse",
    "sexual_abuse": "abuse",
    "exploitation": "online_safety",
    "bullying": "bullying",
    "eating": "self_esteem",
}
# Button payloads of a guided exercise: start one, the next step, the check-in answer.
TOOL_INTENTS = frozenset({"tool", "tool_next", "tool_done"})
# A search hit is answered with when the message names one of its topics' keywords, or scores this high (BM25 in
# ArticleIndex; chance overlaps of everyday characters reach ~12, messages about a topic 15-50).
PICK_UP_SCORE = 15.0
# Misses in a row before the stock "not sure" reply.
STOCK_AFTER = 2
# "更多" / "more" typed alone reads on; inside a longer sentence (他还要更多) it is not the button.
MORE_MAX = {"zh": 4, "en": 12}
# Typed messages that would change the person's settings need a confident reading: a sentence NLU half-places as
# "unsubscribe" (他又发消息了 说只给我十分钟) must not switch off their reminders.
SETTING_INTENTS = frozenset({"subscribe", "unsubscribe", "delete_data", "lang_zh", "lang_en"})
SURE_FOR_SETTINGS = 0.6
# After a no to the screening question: an exercise for the low mood or stress the person described.
AFTER_NO_TOPICS = ("depression", "stress", "emotions")
# Intents about the bot, small talk and the profile: below this confidence, a message that names a worry's topic is
# answered on the worry.
CHAT_INTENTS = frozenset({
    "privacy", "will_tell", "capabilities", "bot_challenge", "small_talk", "greet", "goodbye", "thanks", "not_sure",
    "set_role", "set_grade", "set_region", "open_up",
})  # fmt: skip
SURE_FOR_CHAT = 0.5
# Short answers that, once a case is open, get "I'm here" instead of the no-context menu.
AFTER_RISK_ACK = frozenset({"affirm", "deny", "thanks", "not_sure"})
# In crisis these go on as usual: making or reading one's own safety plan helps.
CRISIS_PASS = frozenset({"safety_plan", "show_plan"})
# In crisis, what answers what the person said; anything else gets the check-in.
CRISIS_REPLIES = {
    "where_to_go": "utter_crisis_where",
    "keep_secret": "utter_crisis_secret",
    "will_tell": "utter_crisis_secret",
    "privacy": "utter_crisis_secret",
}
_PRIMARY = re.compile(r"[一二三四五六]年级|grade\s*[1-6]\b|year\s*[1-6]\b", re.IGNORECASE)
_JUNIOR = re.compile(r"初[一二三]|初中|中[一二三]|grade\s*[7-9]\b|year\s*[7-9]\b|form\s*[1-3]\b", re.IGNORECASE)
_SENIOR = re.compile(r"高[一二三]|高中|中[四五六]|grade\s*1[0-2]\b|year\s*1[0-2]\b|form\s*[4-6]\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """The person chose a language."""

    lang: str


@dataclass(frozen=True, slots=True)
class SetProfile:
    """The person said who they are: role, grade or region."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class RequestCounselor:
    """The person asked for a human."""


@dataclass(frozen=True, slots=True)
class SetSubscribed:
    """Reminders on or off."""

    subscribed: bool


@dataclass(frozen=True, slots=True)
class SavePlan:
    """A finished safety plan, slot name → the person's words, in Stanley–Brown order."""

    answers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SharePlan:
    """Whether the person agrees to share their plan with their counselor."""

    share: bool


Effect = SetLanguage | SetProfile | RequestCounselor | SetSubscribed | SavePlan | SharePlan


@dataclass(frozen=True, slots=True)
class DialogueState:
    """What the conversation is in the middle of."""

    form: str | None = None
    answers: tuple[tuple[str, str], ...] = ()
    article: str | None = None
    part: int = 0
    awaiting_share: bool = False
    awaiting_feedback: bool = False
    # The screening questions the safety replies asked in this stretch of risk, in order; ``screening_pending``
    # is the one the person's next message may be answering ("有", "yes"), which triage reads with it.
    screening_asked: tuple[str, ...] = ()
    screening_pending: str | None = None
    # What the bot's last message offered, so that 要 / 好 / no thanks is read as its answer: ``tool:<id>`` (an
    # exercise offered) or ``read_on`` (an article's first part shown).
    expecting: str | None = None
    # Messages in a row the bot could not place; the stock "not sure" reply comes only after two.
    misses: int = 0
    # The guided exercise under way and the step shown last.
    tool: str | None = None
    tool_step: int = 0
    # Who is writing about someone else, once a report said so (parent, teacher, friend), and the library topic of
    # what they reported, for the questions that follow (我该怎么跟她开口).
    reporter: str | None = None
    topic: str | None = None
    # After a red message, until a counselor takes over or the person says they are safe, the conversation is in
    # crisis (crisis replies only); when it began (ISO time, set by the caller, who has the clock) says how long
    # they have been waiting.
    crisis_since: str | None = None

    @property
    def crisis(self) -> bool:
        """Whether the conversation is in crisis."""
        return self.crisis_since is not None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready form for the store."""
        return {"form": self.form, "answers": [list(a) for a in self.answers], "article": self.article,
                "part": self.part, "awaiting_share": self.awaiting_share,
                "awaiting_feedback": self.awaiting_feedback, "screening_asked": list(self.screening_asked),
                "screening_pending": self.screening_pending, "expecting": self.expecting, "misses": self.misses,
                "tool": self.tool, "tool_step": self.tool_step,
                "reporter": self.reporter, "topic": self.topic, "crisis_since": self.crisis_since}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DialogueState:
        """The state stored by ``as_json``; unknown or missing keys fall back to the defaults."""
        answers = tuple((str(k), str(v)) for k, v in data.get("answers", []) if isinstance(k, str))
        asked = tuple(str(step) for step in data.get("screening_asked", []) if isinstance(step, str))
        pending, expecting, tool = data.get("screening_pending"), data.get("expecting"), data.get("tool")
        reporter, topic, since = data.get("reporter"), data.get("topic"), data.get("crisis_since")
        return cls(data.get("form"), answers, data.get("article"), int(data.get("part", 0)),
                   bool(data.get("awaiting_share", False)), bool(data.get("awaiting_feedback", False)), asked,
                   pending if isinstance(pending, str) else None, expecting if isinstance(expecting, str) else None,
                   int(data.get("misses", 0)),
                   tool if isinstance(tool, str) else None, int(data.get("tool_step", 0)),
                   reporter if isinstance(reporter, str) else None,
                   topic if isinstance(topic, str) else None,
                   # A state stored before the start time was kept says only that it was in crisis.
                   since if isinstance(since, str) else ("" if data.get("crisis") else None))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Who:
    """What the dialogue knows of the person."""

    lang: str
    role: str = "student"
    grade: str | None = None
    region: str = "CN"
    plan_text: str | None = None
    # Whether a counselor has been told (a case is open), and the region's lines in one short sentence.
    case_open: bool = False
    brief_hotlines: str = ""
    # Who they are when writing about someone else (a parent about their child): the audience of what is offered.
    reporter: str | None = None
    # Minutes since the crisis began, for "you have been waiting N minutes" (None outside a crisis).
    waited: int | None = None
    # The screening question (thoughts, method …) the bot's last message asked, which this message may answer.
    answering: str | None = None

    @property
    def audience(self) -> str | None:
        """The library audience code for this person, when it can be told."""
        if self.role in {"parent", "teacher"}:
            return self.role
        if self.reporter in {"parent", "teacher"}:
            return self.reporter
        grade = self.grade or ""
        for pattern, code in ((_PRIMARY, "student_primary"), (_JUNIOR, "student_junior"), (_SENIOR, "student_senior")):
            if pattern.search(grade):
                return code
        return None


@dataclass(slots=True)
class Turn:
    """The dialogue's answer to one message."""

    intent: str | None
    replies: list[OutboundMessage]
    state: DialogueState
    effects: list[Effect] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Said:
    """One message as the actions see it."""

    text: str
    understood: Understanding
    who: Who
    hotlines: str


@dataclass(frozen=True, slots=True)
class Domain:
    """Responses, forms and rules read from the Rasa project."""

    intents: tuple[str, ...]
    responses: Mapping[str, Mapping[str, Response]]
    forms: Mapping[str, tuple[str, ...]]
    rules: Mapping[str, tuple[str, ...]]
    on_submit: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, Mapping[str, Mapping[str, str]]]


class Dialogue:
    """Decides the replies to an understood message."""

    def __init__(
        self, domain: Domain, index: ArticleIndex, topics: Mapping[str, Topic], toolbox: Toolbox | None = None
    ) -> None:
        self._domain = domain
        self._library = index.library
        self._index = index
        self._topics = topics
        self._tools = toolbox if toolbox is not None else Toolbox({})

    @property
    def domain(self) -> Domain:
        """The domain this dialogue runs."""
        return self._domain

    @property
    def index(self) -> ArticleIndex:
        """The search index over the library."""
        return self._index

    @property
    def library(self) -> Library:
        """The article library it serves from."""
        return self._library

    @property
    def tools(self) -> Toolbox:
        """The guided exercises it can offer."""
        return self._tools

    def render(self, response: str, lang: str, **values: str) -> OutboundMessage:
        """A response in ``lang`` with placeholders filled in."""
        variation = self._domain.responses[response][lang if lang in LANGS else "zh"]
        text = variation.text
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return OutboundMessage(text.strip(), variation.buttons)

    def support(self, text: str, state: DialogueState, who: Who) -> Turn | None:
        """Support content for a worry (a yellow message): the article that best answers it, ready to read on.
        Retrieval only, no NLU: it follows the safety reply without waiting on anything."""
        hits = self._index.search(text, lang=who.lang, audience=who.audience, strict_audience=False, limit=3)
        if not hits:
            return None
        article = hits[0].article
        # An exercise only for a worry the person named and only for their own (a parent or teacher writing about a
        # child gets the article): grief is not met with breathing, nor a sleepless night with exam relaxation.
        named = self._index.named_topics(text)
        writer = who.audience or self._index.writer(text)
        own = writer not in {"parent", "teacher"}
        tool = self._tools.for_topics(named[:1], who.lang, who.audience) if own and named else None
        if tool is not None and writer == "student" and not any(a.startswith("student") for a in tool.audience):
            tool = None  # a pupil comparing herself is not handed the parents' exercise for talking to a child
        if tool is not None:
            # One warm line has been said; a thing to do now comes before a thing to read.
            offer = self._tool_offer(tool, who.lang)
            return Turn("support", [offer], replace(state, article=article.id, part=0, expecting=f"tool:{tool.id}"))
        reply = self._summary(article, [hit.article for hit in hits[1:3]], who.lang)
        return Turn("support", [reply], replace(state, article=article.id, part=0, expecting="read_on"))

    def respond(self, text: str, understood: Understanding, state: DialogueState, who: Who, hotlines: str) -> Turn:
        """The turn for one message (triage has already run; risky messages never reach here)."""
        turn = Turn(understood.intent, [], state)
        if self._carries_on(turn, text, understood, who, hotlines):
            return turn
        turn.state = state = replace(state, expecting=None, tool=None, tool_step=0)
        if state.form is not None and (understood.intent not in STOP_FORM or understood.source != "payload"):
            self._fill_form(turn, text, who, hotlines)
            return turn
        if state.form is not None:
            turn.state = replace(state, form=None, answers=())
        if state.awaiting_share and understood.intent in {"affirm", "deny"}:
            share = understood.intent == "affirm"
            turn.effects.append(SharePlan(share))
            turn.state = replace(turn.state, awaiting_share=False)
            turn.replies.append(self.render("utter_plan_shared" if share else "utter_plan_not_shared", who.lang))
            return turn
        turn.state = replace(turn.state, awaiting_share=False)
        if state.awaiting_feedback:
            turn.state = replace(turn.state, awaiting_feedback=False)
            # What follows "what would you like to tell us?" is the feedback itself, whatever NLU made of it
            # (it stays in the conversation, encrypted like every message); a button is still a button.
            if understood.source != "payload" and FEEDBACK_THANKS in self._domain.responses:
                turn.replies.append(self.render(FEEDBACK_THANKS, who.lang))
                return turn
        intent = self._intent_for(text, understood)
        actions = self._domain.rules.get(intent or "", ()) if intent else ()
        if not actions:
            if (
                who.case_open
                and understood.source != "payload"
                and state.topic is None
                and not self._index.named_topics(text)
            ):
                # After a risky message, words NLU cannot place are met with presence, not a chance article.
                turn.replies.append(self.render("utter_risk_ack", who.lang))
            else:
                self._safety_net(turn, text, who, hotlines)
            return turn
        turn.state = replace(turn.state, misses=0)
        new_lang = LANGUAGE_INTENTS.get(understood.intent or "")
        if new_lang is not None:
            # The confirmation is already in the language chosen.
            turn.effects.append(SetLanguage(new_lang))
            who = replace(who, lang=new_lang)
        for action in actions:
            self._run(action, turn, _Said(text, understood, who, hotlines))
        if FEEDBACK_ASK in actions:
            turn.state = replace(turn.state, awaiting_feedback=True)
        return turn

    def _intent_for(self, text: str, understood: Understanding) -> str | None:
        """The intent to act on (``_acted_on``); and a worry NLU half-places as small talk or a question about the
        bot (我妈天天翻我手机…一点隐私都没有 is not a privacy question) is answered on the worry it names."""
        intent = _acted_on(text, understood)
        if intent in CHAT_INTENTS and understood.source != "payload" and understood.confidence < SURE_FOR_CHAT:
            return None if self._index.named_topics(text) else intent
        return intent

    def run_action(
        self, action: str, *, text: str, understood: Understanding, state: DialogueState, who: Who, hotlines: str
    ) -> Turn:
        """One custom action alone, as a Rasa action server calls it (Rasa runs the rules itself)."""
        turn = Turn(understood.intent, [], state)
        self._run(action, turn, _Said(text, understood, who, hotlines))
        return turn

    def _run(self, action: str, turn: Turn, said: _Said) -> None:
        lang = said.who.lang
        if action in self._domain.forms:
            turn.state = replace(turn.state, form=action, answers=(), article=None)
            intro = f"utter_{action.removesuffix('_form')}_intro"
            if intro in self._domain.responses:
                turn.replies.append(self.render(intro, lang))
            turn.replies.append(self.render(f"utter_ask_{self._domain.forms[action][0]}", lang))
            return
        handler: Callable[[Turn, _Said], None] | None = {
            "action_set_profile": self._set_profile,
            "action_search_articles": self._search,
            "action_more": self._more,
            "action_subscribe": lambda t, _s: self._subscribe(t, lang, subscribed=True),
            "action_unsubscribe": lambda t, _s: self._subscribe(t, lang, subscribed=False),
            "action_show_plan": lambda t, s: t.replies.append(self._plan_reply(s.who, lang)),
            "action_escalate": lambda t, _s: t.effects.append(RequestCounselor()),
            # The hotline list of the person's region, which a plain Rasa response cannot fill in.
            "action_hotlines": lambda t, s: t.replies.append(self.render("utter_hotlines", lang, hotlines=s.hotlines)),
        }.get(action)
        if handler is not None:
            handler(turn, said)
        elif action in self._domain.responses:
            turn.replies.append(self.render(action, lang, hotlines=said.hotlines))

    # -- understanding first, the library as the safety net --------------------------------------------------

    def _safety_net(self, turn: Turn, text: str, who: Who, hotlines: str) -> None:
        """When NLU cannot place a message: what the library has on it, in words that pick up the topic; with
        nothing relevant, an open question; the stock reply only after two misses in a row."""
        topic = turn.state.topic
        hits = self._index.search(
            text, lang=who.lang, audience=who.audience, strict_audience=False, limit=3, topic=topic
        )
        if hits and (
            hits[0].score >= PICK_UP_SCORE
            or (topic is not None and topic in hits[0].article.topics)
            or self._index.names_topic(text, hits[0].article.topics)
        ):
            article = hits[0].article
            others = [h.article for h in hits[1:3]]
            lead = self._pick_up(article, who.lang, text)
            turn.replies.append(self._summary(article, others, who.lang, lead=lead))
            turn.state = replace(turn.state, article=article.id, part=0, expecting="read_on", misses=0)
            return
        misses = turn.state.misses + 1
        if misses >= STOCK_AFTER:
            turn.replies.append(self.render(FALLBACK, who.lang, hotlines=hotlines))
            misses = 0
        else:
            turn.replies.append(self.render("utter_open_question", who.lang))
        turn.state = replace(turn.state, misses=misses)

    def _carries_on(self, turn: Turn, text: str, understood: Understanding, who: Who, hotlines: str) -> bool:
        """Whether the message carries on what is under way (an exercise, a crisis, an offer just made), and was
        answered so; False when it starts something new."""
        if understood.intent in TOOL_INTENTS and understood.source == "payload":
            self._tool_payload(turn, understood, who, hotlines)
            return True
        if turn.state.crisis and turn.state.form is None and understood.intent not in CRISIS_PASS:
            self.crisis(turn, understood, who, hotlines)
            return True
        if turn.state.tool is not None and understood.source != "payload":
            tool = self._tools.get(turn.state.tool)
            if tool is not None and understood.intent in {"affirm", "more"}:
                self._tool_step(turn, tool, turn.state.tool_step + 1, who, hotlines)
                return True
            return False
        return self._answers_offer(turn, text, understood, who, hotlines) or self._acknowledges(turn, understood, who)

    def _acknowledges(self, turn: Turn, understood: Understanding, who: Who) -> bool:
        """After a risky message (a case is open) or a screening question, 好 / 嗯 / 没有 / 谢谢 is met with presence,
        not a cheerful menu; a no to "have you thought of …" also gets something to do for the heaviness they did
        describe."""
        state = turn.state
        if not (
            (who.case_open or who.answering is not None)
            and understood.intent in AFTER_RISK_ACK
            and understood.source != "payload"
            and state.form is None
            and not (state.awaiting_share or state.awaiting_feedback)
        ):
            return False
        said_no = understood.intent in {"deny", "not_sure"} and who.answering is not None
        response = "utter_screening_thanks" if said_no else "utter_risk_ack"
        turn.replies.append(self.render(response, who.lang))
        tool = self._tools.for_topics(AFTER_NO_TOPICS, who.lang, who.audience)
        if (said_no or (who.case_open and understood.intent == "deny")) and state.expecting is None and tool:
            turn.replies.append(self._tool_offer(tool, who.lang))
            turn.state = replace(state, expecting=f"tool:{tool.id}")
        return True

    def _answers_offer(self, turn: Turn, text: str, understood: Understanding, who: Who, hotlines: str) -> bool:
        """A yes or no to what the last message offered: an exercise, or reading on."""
        state = turn.state
        if state.expecting is None or understood.intent not in {"affirm", "deny"}:
            return False
        tool = self._tools.get(state.expecting.removeprefix("tool:")) if state.expecting.startswith("tool:") else None
        if understood.intent == "deny":
            turn.state = replace(state, expecting=None)
            turn.replies.append(self.render("utter_offer_declined", who.lang))
        elif tool is not None:
            self._tool_step(turn, replace_tool_state(turn, tool), 0, who, hotlines)
        elif state.expecting == "read_on" and state.article is not None:
            turn.state = replace(state, expecting=None)
            self._more(turn, _Said(text, understood, who, hotlines))
        else:
            return False
        return True

    # -- crisis ---------------------------------------------------------------------------------------------

    def crisis(self, turn: Turn, understood: Understanding, who: Who, hotlines: str) -> None:
        """A crisis reply to whatever the person says after a red message: short, answering what they said, the
        emergency numbers and where the counselor is; never a menu or an article."""
        values = {"counselor": self._counselor_status(who), "brief": who.brief_hotlines, "hotlines": hotlines}
        intent = understood.intent
        if intent == "safe_now":
            turn.state = replace(turn.state, crisis_since=None, expecting=None)
            turn.replies.append(self.render("utter_crisis_safe", who.lang, **values))
            return
        if intent == "talk_to_counselor":
            turn.effects.append(RequestCounselor())
        response = CRISIS_REPLIES.get(intent or "", "utter_crisis_checkin")
        if intent == "hotlines":
            response = "utter_hotlines"
        elif turn.state.expecting == "with_someone" and intent in {"deny", "affirm"}:
            # The check-in asked whether anyone is with them.
            response = "utter_crisis_alone" if intent == "deny" else "utter_crisis_company"
        turn.replies.append(self.render(response, who.lang, **values))
        turn.state = replace(turn.state, expecting="with_someone" if response == "utter_crisis_checkin" else None)

    def crisis_reply(self, who: Who, hotlines: str, *, alone: bool = False) -> OutboundMessage:
        """The crisis check-in for a message triage found risky again while the conversation is in crisis."""
        response = "utter_crisis_alone" if alone else "utter_crisis_checkin"
        status = self._counselor_status(who)
        return self.render(response, who.lang, counselor=status, brief=who.brief_hotlines, hotlines=hotlines)

    def _counselor_status(self, who: Who) -> str:
        """Whether a counselor has been told, and how long the person has waited."""
        labels = self._domain.labels.get("crisis", {})
        status = labels.get("notified" if who.case_open else "not_yet", {}).get(who.lang, "")
        waited = labels.get("waited", {}).get(who.lang, "")
        if who.case_open and who.waited and waited:
            status = f"{status}{waited.replace('{minutes}', str(who.waited))}"
        return status

    # -- guided exercises -----------------------------------------------------------------------------------

    def _tool_offer(self, tool: Tool, lang: str) -> OutboundMessage:
        label = self._domain.labels.get("tool", {})
        offer = self.render("utter_tool_offer", lang, title=tool.title, minutes=str(tool.minutes))
        buttons = (
            Button(label.get("start", {}).get(lang, "OK"), f'/tool{{"id": "{tool.id}"}}'),
            Button(label.get("not_now", {}).get(lang, "No"), "/deny"),
        )
        return OutboundMessage(f"{offer.text}\n{tool.summary}", buttons)

    def _tool_payload(self, turn: Turn, understood: Understanding, who: Who, hotlines: str) -> None:
        state = turn.state
        if understood.intent == "tool":
            tool = self._tools.get(understood.entity("id") or "")
            if tool is None:
                turn.replies.append(self.render("utter_more_none", who.lang, hotlines=hotlines))
                return
            self._tool_step(turn, replace_tool_state(turn, tool), 0, who, hotlines)
            return
        tool = self._tools.get(state.tool or "")
        if tool is None:
            turn.replies.append(self.render("utter_more_none", who.lang, hotlines=hotlines))
            return
        if understood.intent == "tool_next":
            self._tool_step(turn, tool, state.tool_step + 1, who, hotlines)
            return
        option = understood.entity("option") or ""
        index = int(option) if option.isdigit() and int(option) < len(tool.check_in.options) else 1
        turn.state = replace(state, tool=None, tool_step=0, expecting=None)
        buttons: tuple[Button, ...] = ()
        if index == len(tool.check_in.options) - 1:
            # It did not help: a person, at once.
            label = self._domain.labels.get("tool", {}).get("counselor", {})
            buttons = (Button(label.get(who.lang, "Talk to a counselor"), "/talk_to_counselor"),)
        turn.replies.append(OutboundMessage(tool.check_in.options[index][1], buttons))

    def _tool_step(self, turn: Turn, tool: Tool, step: int, who: Who, hotlines: str) -> None:
        del hotlines
        if step >= len(tool.steps):
            options = tuple(
                Button(label, f'/tool_done{{"option": "{n}"}}') for n, (label, _) in enumerate(tool.check_in.options)
            )
            turn.state = replace(turn.state, tool=tool.id, tool_step=step, expecting=None)
            turn.replies.append(OutboundMessage(tool.check_in.question, options))
            return
        current = tool.steps[step]
        heading = (
            f"{tool.title}（{step + 1}/{len(tool.steps)}）"
            if who.lang == "zh"
            else (f"{tool.title} ({step + 1}/{len(tool.steps)})")
        )
        turn.state = replace(turn.state, tool=tool.id, tool_step=step, expecting=None)
        turn.replies.append(OutboundMessage(f"{heading}\n{current.text}", (Button(current.button, "/tool_next"),)))

    # -- actions --------------------------------------------------------------------------------------------

    def _set_profile(self, turn: Turn, said: _Said) -> None:
        understood, who = said.understood, said.who
        labels = self._domain.labels
        role = understood.entity("role")
        grade = understood.entity("grade")
        region = understood.entity("city") or understood.entity("region")
        if role is not None and role in labels.get("roles", {}):
            turn.effects.append(SetProfile("role", role))
            turn.replies.append(self.render("utter_role_saved", who.lang, role_name=labels["roles"][role][who.lang]))
        if grade:
            turn.effects.append(SetProfile("grade", grade))
            turn.replies.append(self.render("utter_grade_saved", who.lang, grade=grade))
        if region is not None and region in labels.get("regions", {}):
            turn.effects.append(SetProfile("region", region))
            name = labels["regions"][region][who.lang]
            turn.replies.append(self.render("utter_region_saved", who.lang, region_name=name))
        if not turn.replies:
            ask = {"set_grade": "utter_ask_grade", "set_region": "utter_ask_region"}.get(understood.intent or "")
            turn.replies.append(self.render(ask or "utter_ask_role", who.lang))

    def _search(self, turn: Turn, said: _Said) -> None:
        text, understood, who, hotlines = said.text, said.understood, said.who, said.hotlines
        article_id, topic = understood.entity("article"), understood.entity("topic")
        article = self._library.get(article_id) if article_id else None
        if article is None and topic in self._topics:
            candidates = [a for a in self._library.served if topic in a.topics and a.lang == who.lang]
            candidates.sort(key=lambda a: (who.audience not in a.audience, a.topics.index(topic), a.id))
            article = candidates[0] if candidates else None
            others = candidates[1:3]
        else:
            hits = [] if article else self._index.search(text, lang=who.lang, audience=who.audience,
                                                          strict_audience=False, limit=3,
                                                          topic=turn.state.topic)  # fmt: skip
            article = article or (hits[0].article if hits else None)
            others = [h.article for h in hits[1:3]]
        if article is None:
            turn.replies.append(self.render("utter_no_results", who.lang, hotlines=hotlines))
            return
        turn.state = replace(turn.state, article=article.id, part=0, expecting="read_on")
        # A question in the person's own words is answered in words that pick up its topic.
        lead = self._pick_up(article, who.lang, text) if understood.source != "payload" else ""
        turn.replies.append(self._summary(article, others, who.lang, lead=lead))

    def _worry(self, text: str, article: Article) -> str:
        """The topic of ``article`` the message is about: the first one it names, else the article's first."""
        named = self._index.named_topics(text)
        return next((topic for topic in named if topic in article.topics), article.topics[0])

    def _pick_up(self, article: Article, lang: str, text: str) -> str:
        code = self._worry(text, article)
        topic = self._topics.get(code)
        name = topic.label.get(lang, code) if topic else code
        return self.render("utter_pick_up", lang, topic=name).text

    def _more(self, turn: Turn, said: _Said) -> None:
        who, hotlines = said.who, said.hotlines
        article = self._library.get(turn.state.article) if turn.state.article else None
        if article is None:
            turn.replies.append(self.render("utter_more_none", who.lang, hotlines=hotlines))
            return
        parts = article.parts()
        index = turn.state.part
        if index >= len(parts):
            turn.state = replace(turn.state, article=None, part=0)
            turn.replies.append(self.render("utter_more_none", who.lang, hotlines=hotlines))
            return
        label = self._domain.labels["article"]
        heading = label["part"][who.lang].replace("{n}", str(index + 1)).replace("{total}", str(len(parts)))
        buttons: list[Button] = []
        if index + 1 < len(parts):
            buttons.append(Button(label["read_on"][who.lang], "/more"))
            turn.state = replace(turn.state, part=index + 1)
        else:
            turn.state = replace(turn.state, article=None, part=0)
            related = self._related(article)
            buttons += [Button(a.title, f'/ask_question{{"article": "{a.id}"}}') for a in related]
            buttons.append(Button(label["other_topics"][who.lang], "/browse_topics"))
        turn.replies.append(OutboundMessage(f"{heading}\n\n{plain_text(parts[index])}", tuple(buttons)))

    def _subscribe(self, turn: Turn, lang: str, *, subscribed: bool) -> None:
        turn.effects.append(SetSubscribed(subscribed))
        turn.replies.append(self.render("utter_subscribed" if subscribed else "utter_unsubscribed", lang))

    def _plan_reply(self, who: Who, lang: str) -> OutboundMessage:
        if not who.plan_text:
            return self.render("utter_plan_empty", lang)
        return self.render("utter_plan_show", lang, plan=who.plan_text)

    def _fill_form(self, turn: Turn, text: str, who: Who, hotlines: str) -> None:
        state = turn.state
        assert state.form is not None
        slots = self._domain.forms[state.form]
        answers = (*state.answers, (slots[len(state.answers)], text.strip()))
        if len(answers) < len(slots):
            turn.state = replace(state, answers=answers)
            turn.replies.append(self.render(f"utter_ask_{slots[len(answers)]}", who.lang))
            return
        turn.effects.append(SavePlan(answers))
        turn.state = replace(state, form=None, answers=(), awaiting_share=True)
        for action in self._domain.on_submit.get(state.form, ("utter_plan_saved",)):
            if action in self._domain.responses:
                turn.replies.append(self.render(action, who.lang, hotlines=hotlines))

    # -- articles -------------------------------------------------------------------------------------------

    def _summary(self, article: Article, others: Sequence[Article], lang: str, *, lead: str = "") -> OutboundMessage:
        label = self._domain.labels["article"]
        text = f"《{article.title}》\n{article.summary}\n\n{label['full_text'][lang]}: /articles/{article.id}"
        if lead:
            text = f"{lead}\n{text}"
        buttons = [Button(label["read_on"][lang], "/more")]
        buttons += [Button(a.title, f'/ask_question{{"article": "{a.id}"}}') for a in others]
        buttons.append(Button(label["other_topics"][lang], "/browse_topics"))
        return OutboundMessage(text, tuple(buttons))

    def _related(self, article: Article, limit: int = 2) -> list[Article]:
        shared = [
            a
            for a in self._library.served
            if a.id != article.id and a.lang == article.lang and a.topics[0] in article.topics
        ]
        shared.sort(key=lambda a: (a.topics[0] != article.topics[0], a.id))
        return shared[:limit]


def _acted_on(text: str, understood: Understanding) -> str | None:
    """The intent to act on: none for 更多 inside a sentence (他还要更多 is not the read-on button), nor for a
    typed message half-placed as a change of settings."""
    intent = understood.intent
    typed = understood.source != "payload"
    if intent == "more" and typed and not _asks_to_read_on(text):
        return None
    if intent in SETTING_INTENTS and typed and understood.confidence < SURE_FOR_SETTINGS:
        return None
    return intent


def _asks_to_read_on(text: str) -> bool:
    said = text.strip()
    return len(said) <= (MORE_MAX["en"] if said.isascii() else MORE_MAX["zh"])


def replace_tool_state(turn: Turn, tool: Tool) -> Tool:
    """Start ``tool`` afresh: whatever was offered or read is over."""
    turn.state = replace(turn.state, tool=tool.id, tool_step=0, expecting=None, misses=0)
    return tool


def plain_text(markdown: str) -> str:
    """Markdown as chat text: emphasis marks and heading hashes removed, list bullets kept."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", markdown)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    return re.sub(r"^- ", "· ", text, flags=re.MULTILINE)


def parse_domain(domain: tuple[str, Any], rules: tuple[str, Any], labels: tuple[str, Any]) -> Domain:
    """Validate the Rasa domain, the rules and the labels file; errors name the file and line."""
    source, document = domain
    if not isinstance(document, Mapping) or not isinstance(document.get("responses"), Mapping):
        raise ContentError(source, line_of(document), "expected a mapping with `responses:`")
    intents = tuple(str(i) for i in document.get("intents", []))
    responses = {str(n): parse_variations(source, str(n), raw) for n, raw in document["responses"].items()}
    missing = [name for name in REQUIRED_RESPONSES if name not in responses]
    if missing:
        raise ContentError(source, line_of(document), f"missing responses: {', '.join(missing)}")
    forms: dict[str, tuple[str, ...]] = {}
    for name, form in (document.get("forms") or {}).items():
        slots = form.get("required_slots") if isinstance(form, Mapping) else None
        if not isinstance(slots, list) or not slots:
            raise ContentError(source, line_of(form), f"form {name}: needs required_slots")
        for slot in slots:
            if f"utter_ask_{slot}" not in responses:
                raise ContentError(source, line_of(form), f"form {name}: no response utter_ask_{slot}")
        forms[str(name)] = tuple(str(s) for s in slots)
    known = set(responses) | set(forms) | CUSTOM_ACTIONS
    mapping, on_submit = _parse_rules(rules, set(intents), known, forms)
    return Domain(intents, responses, forms, mapping, on_submit, _parse_labels(labels))


def _parse_rules(
    rules: tuple[str, Any], intents: set[str], known: set[str], forms: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    source, document = rules
    items = document.get("rules") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        raise ContentError(source, line_of(document), "expected a mapping with a `rules:` list")
    mapping: dict[str, tuple[str, ...]] = {}
    on_submit: dict[str, tuple[str, ...]] = {}
    for rule in items:
        steps = rule.get("steps") if isinstance(rule, Mapping) else None
        if not isinstance(steps, list) or not all(isinstance(s, Mapping) for s in steps):
            raise ContentError(source, line_of(rule), "a rule needs `steps:`, a list of intent/action mappings")
        actions = tuple(str(s["action"]) for s in steps if "action" in s)
        unknown = [a for a in actions if a not in known]
        if unknown:
            raise ContentError(source, line_of(rule), f"unknown actions: {', '.join(unknown)}")
        conditions = rule.get("condition") or []
        looped = [c.get("active_loop") for c in conditions if isinstance(c, Mapping) and "active_loop" in c]
        if looped and looped[0] in forms:
            on_submit[str(looped[0])] = tuple(a for a in actions if a != looped[0])
            continue
        intent = steps[0].get("intent") if steps else None
        if intent == "nlu_fallback":
            continue
        if intent not in intents:
            raise ContentError(source, line_of(steps[0]), f"intent {intent!r} is not in the domain's intents")
        mapping[str(intent)] = actions
    return mapping, on_submit


def _parse_labels(labels: tuple[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    source, document = labels
    if not isinstance(document, Mapping):
        raise ContentError(source, None, "expected a mapping of label groups")
    parsed: dict[str, dict[str, dict[str, str]]] = {}
    for group, entries in document.items():
        if not isinstance(entries, Mapping):
            raise ContentError(source, line_of(entries), f"{group}: expected a mapping")
        parsed[str(group)] = {}
        for key, texts in entries.items():
            if not isinstance(texts, Mapping) or not all(isinstance(texts.get(lang), str) for lang in LANGS):
                raise ContentError(source, line_of(texts), f"{group}.{key}: needs zh and en")
            parsed[str(group)][str(key)] = {lang: str(texts[lang]) for lang in LANGS}
    if "article" not in parsed:
        raise ContentError(source, None, "missing the `article` labels")
    return parsed
