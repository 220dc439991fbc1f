"""Our custom actions (article lookup, hotlines, profile, plan, escalation) for a Rasa deployment, served by
rasa-sdk's action server: ``python -m rasa_sdk --actions bot.rasa_actions`` (install ``xinqiao[rasa]``). Each runs
the same dialogue engine as the embedded bot, with Rasa's slots as the conversation state; escalation goes
through our own pipeline, so a request opens a case in our store like any other."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.core.dialogue import Dialogue, DialogueState, SetLanguage, SetProfile, SetSubscribed, Who
from bot.core.safety_replies import format_hotlines
from bot.core.understanding import Understanding
from bot.loaders.content import load_hotlines
from bot.loaders.dialogues import load_dialogue
from bot.settings import Settings

CHANNEL = "rasa"


@functools.cache
def _engine() -> tuple[Dialogue, Callable[[str, str], str]]:
    settings = Settings.from_env()
    _model, dialogue = load_dialogue(settings.content_dir, settings.dialogues_dir)
    directory = load_hotlines(settings.content_dir)
    return dialogue, lambda lang, region: format_hotlines(directory.for_region(region, emergency=True), lang)


def _who(tracker: Tracker, dialogue: Dialogue) -> Who:
    slots = tracker.slots
    lang = slots.get("language") or "zh"
    answers = [(slot, slots.get(slot)) for slot in dialogue.domain.forms.get("safety_plan_form", ())]
    labels = dialogue.domain.labels.get("plan", {})
    plan = "\n".join(f"· {labels.get(s, {}).get(lang, s)}：{a}" for s, a in answers if a) or None
    return Who(lang, slots.get("role") or "student", slots.get("grade"), slots.get("region") or "CN", plan_text=plan)


class _EngineAction(Action):  # type: ignore[misc]  # rasa_sdk ships no type information
    """Runs one of our custom actions on the message Rasa has just understood."""

    action_name = ""

    def name(self) -> str:
        """The action's name in the domain."""
        return self.action_name

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Reply through the dispatcher; return slot changes as events."""
        del domain
        dialogue, hotlines = _engine()
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        entities = tuple((str(e["entity"]), str(e["value"])) for e in message.get("entities", []) if "value" in e)
        who = _who(tracker, dialogue)
        state = DialogueState(article=tracker.get_slot("article"), part=int(tracker.get_slot("article_part") or 0))
        turn = dialogue.run_action(
            self.action_name,
            text=str(message.get("text") or ""),
            understood=Understanding(intent, 1.0, entities, "rasa"),
            state=state,
            who=who,
            hotlines=hotlines(who.lang, who.region),
        )
        for reply in turn.replies:
            buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons)
        events: list[EventType] = []
        for effect in turn.effects:
            if isinstance(effect, SetProfile):
                events.append(SlotSet(effect.field, effect.value))
            elif isinstance(effect, SetSubscribed):
                events.append(SlotSet("subscribed", effect.subscribed))
            elif isinstance(effect, SetLanguage):
                events.append(SlotSet("language", effect.lang))
        if turn.state.article != state.article or turn.state.part != state.part:
            events += [SlotSet("article", turn.state.article), SlotSet("article_part", float(turn.state.part))]
        return events


class ActionHotlines(_EngineAction):
    """The hotlines of the person's region (slot ``region``), with 110/120."""

    action_name = "action_hotlines"


class ActionSearchArticles(_EngineAction):
    """Answers a free question (or a topic button) with the best article's summary."""

    action_name = "action_search_articles"


class ActionMore(_EngineAction):
    """The next part of the article being read."""

    action_name = "action_more"


class ActionSetProfile(_EngineAction):
    """Role, grade and region from the message's entities."""

    action_name = "action_set_profile"


class ActionSubscribe(_EngineAction):
    """Reminders on."""

    action_name = "action_subscribe"


class ActionUnsubscribe(_EngineAction):
    """Reminders off."""

    action_name = "action_unsubscribe"


class ActionShowPlan(_EngineAction):
    """Shows the safety plan kept in the form's slots."""

    action_name = "action_show_plan"


class ActionEscalate(Action):  # type: ignore[misc]
    """Opens a counselor request in our store through the message pipeline (the rule then says so)."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Store the request as a message of this Rasa conversation; its case reaches the counselor queue."""
        del dispatcher, domain
        from bot.app import build_runtime
        from bot.core.messages import InboundMessage
        from bot.service.pipeline import MessagePipeline

        runtime = await build_runtime(Settings.from_env())
        try:
            message_id = str((tracker.latest_message or {}).get("message_id") or len(tracker.events))
            await MessagePipeline(runtime).handle(
                InboundMessage(CHANNEL, tracker.sender_id, f"escalate-{message_id}", "/talk_to_counselor")
            )
        finally:
            await runtime.db.close()
        return []
