"""The inbound message pipeline, in DESIGN.md §3 order: dedupe → triage → store (message, triage, case, replies)
in one transaction → safety reply (even if the store failed) → relay to a counselor, or the dialogue."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.case_view import case_summary
from bot.core.cases import CaseAction, Status, case_action, district_of, first_tier
from bot.core.messages import InboundMessage, OutboundMessage
from bot.core.safety_replies import format_hotlines
from bot.core.triage.assessment import Assessment, Level
from bot.core.triage.engine import HISTORY_LIMIT
from bot.runtime import Runtime
from bot.store import cases as case_store
from bot.store import messages as message_store
from bot.store import people
from bot.store.messages import StoredOutbound
from bot.store.models import Case, Conversation, User

log = logging.getLogger(__name__)
REQUEST_CATEGORY = "request"  # a person asked for a counselor without a risk cue
UNSAVED_LIMIT = 10_000


@dataclass(slots=True)
class Outcome:
    """What the pipeline did with one message."""

    replies: list[StoredOutbound]
    assessment: Assessment
    stored: bool = True
    duplicate: bool = False
    message_id: int | None = None
    user_id: int | None = None
    # Earlier messages that were waiting for the person (a counselor's reply while they were away).
    pending: list[StoredOutbound] = field(default_factory=list)


@dataclass(slots=True)
class _Txn:
    """One message's transaction: its session, the person, and events to publish after commit."""

    session: AsyncSession
    user: User
    conversation: Conversation
    now: datetime
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class StoreUnavailableError(RuntimeError):
    """The message could not be stored; the safety reply still went out and a retry is queued."""


class MessagePipeline:
    """Handles one inbound message; the channel adapter delivers the returned replies."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._unsaved: deque[tuple[InboundMessage, datetime]] = deque(maxlen=UNSAVED_LIMIT)
        # Tests use this to simulate a crash after the commit and before the reply reaches the person.
        self.after_commit: Callable[[Outcome], None] | None = None

    @property
    def unsaved(self) -> int:
        """Messages that failed to store and wait for ``retry_unsaved``."""
        return len(self._unsaved)

    async def handle(self, inbound: InboundMessage, *, replies_delivered: bool = False) -> Outcome:
        """Triage, store and answer one message. Never raises for a store failure: the safety reply comes first.

        ``replies_delivered``: the channel hands the replies over in its response (web chat), so they and any
        pending earlier messages are recorded as delivered in the same transaction."""
        rt = self._rt
        now = rt.clock()
        rt.metrics.messages.labels(inbound.channel).inc()
        assessment: Assessment | None = None
        try:
            async with rt.db.transaction() as session:
                user = await people.upsert_user(
                    session,
                    channel=inbound.channel,
                    external_id=inbound.user_external_id,
                    profile=inbound.profile,
                    default_lang=rt.settings.default_lang,
                    default_region=rt.settings.default_region,
                    now=now,
                )
                conversation = await people.conversation_of(session, user, now)
                earlier = await message_store.find_inbound(session, user.id, inbound.external_id)
                if earlier is not None:
                    replies = await message_store.replies_to(session, rt.cipher, earlier.id)
                    return Outcome(replies, _NOTHING, duplicate=True, message_id=earlier.id, user_id=user.id)
                history = await message_store.recent_person_texts(session, rt.cipher, conversation.id, HISTORY_LIMIT)
                assessment = rt.triage.assess(inbound.text, history=history)
                work = _Txn(session, user, conversation, now)
                outcome = await self._store(work, inbound, assessment)
                if replies_delivered:
                    own = {r.id for r in outcome.replies}
                    waiting = await message_store.pending_for(session, rt.cipher, user.id)
                    outcome.pending = [m for m in waiting if m.id not in own]
                    await message_store.mark_delivered(
                        session, [r.id for r in (*outcome.pending, *outcome.replies)], now
                    )
        except SQLAlchemyError:
            return self._unstored(inbound, assessment, now)
        rt.metrics.triage.labels(assessment.level.value).inc()
        if assessment.level in {Level.RED, Level.ORANGE}:
            rt.metrics.safety_replies.labels(assessment.level.value).inc()
        for kind, summary in work.events:
            rt.events.publish(kind, summary)
        if assessment.level is not Level.NONE:
            log.info(
                "message triaged",
                extra={"event": "triage", "level": assessment.level.value, "message_id": outcome.message_id},
            )
        if self.after_commit is not None:
            self.after_commit(outcome)
        return outcome

    async def _store(self, work: _Txn, inbound: InboundMessage, assessment: Assessment) -> Outcome:
        rt = self._rt
        session, user, conversation, now = work.session, work.user, work.conversation, work.now
        message = await message_store.add_inbound(
            session,
            rt.cipher,
            conversation_id=conversation.id,
            user_id=user.id,
            external_id=inbound.external_id,
            text=inbound.text,
            assessment=assessment,
            now=now,
        )
        conversation.last_message_at = now
        case = await self._update_case(work, message.id, assessment)

        outgoing: list[OutboundMessage] = []
        safety = self._safety_reply(assessment, user.lang, user.region)
        if safety is not None and (assessment.level is not Level.YELLOW or conversation.handoff_case_id is None):
            outgoing.append(safety)
        if conversation.handoff_case_id is not None:
            held = await session.get(Case, conversation.handoff_case_id)
            if held is not None:
                await case_store.add_event(session, rt.cipher, held.id, "message", now, message_id=message.id)
                work.events.append(("case.message", case_summary(held)))
        elif safety is None:
            turn = rt.dialogue.understand(inbound.text)
            if turn.new_lang is not None:
                user.lang = turn.new_lang
            if turn.requests_counselor and case is None:
                await self._request_counselor(work, message.id)
            outgoing.append(self._render(turn.response, user.lang, user.region))
        stored = [
            await message_store.add_outbound(
                session,
                rt.cipher,
                conversation_id=conversation.id,
                user_id=user.id,
                message=reply,
                now=now,
                in_reply_to=message.id,
            )
            for reply in outgoing
        ]
        return Outcome(stored, assessment, message_id=message.id, user_id=user.id)

    async def _update_case(self, work: _Txn, message_id: int, assessment: Assessment) -> Case | None:
        rt = self._rt
        session, user, conversation, now = work.session, work.user, work.conversation, work.now
        existing = await case_store.open_case_of(session, user.id)
        action = case_action(assessment.level, Level(existing.level) if existing else None)
        if action is CaseAction.NONE:
            return None
        if action is CaseAction.OPEN:
            case = self._new_case(work, assessment.level, assessment.categories, message_id)
            session.add(case)
            await session.flush()
            await case_store.add_event(session, rt.cipher, case.id, "opened", now, message_id=message_id)
            work.events.append(("case.opened", case_summary(case)))
            return case
        assert existing is not None
        merged = dict.fromkeys([*existing.categories.split(","), *assessment.categories])
        existing.categories = ",".join(c for c in merged if c)
        if action is CaseAction.RAISE:
            existing.level = assessment.level.value
            if existing.status == Status.OPEN.value:
                deadline = rt.sla.claim_deadline(assessment.level, now, rt.settings.timezone)
                existing.claim_deadline = min(existing.claim_deadline, deadline)
            await case_store.add_event(session, rt.cipher, existing.id, "raised", now, message_id=message_id)
            work.events.append(("case.raised", case_summary(existing)))
        elif conversation.handoff_case_id != existing.id:
            await case_store.add_event(session, rt.cipher, existing.id, "message", now, message_id=message_id)
            work.events.append(("case.message", case_summary(existing)))
        return existing

    def _new_case(self, work: _Txn, level: Level, categories: tuple[str, ...], message_id: int) -> Case:
        user, now = work.user, work.now
        district = district_of(user.region)
        return Case(
            user_id=user.id,
            conversation_id=work.conversation.id,
            level=level.value,
            categories=",".join(categories),
            status=Status.OPEN.value,
            tier=first_tier(user.school, district).value,
            school=user.school,
            district=district,
            region=user.region,
            trigger_message_id=message_id,
            opened_at=now,
            claim_deadline=self._rt.sla.claim_deadline(level, now, self._rt.settings.timezone),
            escalations=0,
        )

    async def _request_counselor(self, work: _Txn, message_id: int) -> None:
        case = self._new_case(work, Level.YELLOW, (REQUEST_CATEGORY,), message_id)
        work.session.add(case)
        await work.session.flush()
        await case_store.add_event(work.session, self._rt.cipher, case.id, "requested", work.now, message_id=message_id)
        work.events.append(("case.opened", case_summary(case)))

    def _safety_reply(self, assessment: Assessment, lang: str, region: str) -> OutboundMessage | None:
        text = self._rt.safety.compose(assessment, lang, self._rt.hotlines, region)
        return None if text is None else OutboundMessage(text, sender="bot")

    def _render(self, response: str, lang: str, region: str) -> OutboundMessage:
        rt = self._rt
        listing = format_hotlines(rt.hotlines.for_region(region, emergency=True), lang)
        return rt.dialogue.render(response, lang, hotlines=listing)

    def _unstored(self, inbound: InboundMessage, assessment: Assessment | None, now: datetime) -> Outcome:
        """The store failed: answer from triage alone and keep the message for a later retry."""
        rt = self._rt
        rt.metrics.errors.labels("store").inc()
        log.exception("could not store message; safety reply sent anyway", extra={"event": "store_failed"})
        if assessment is None:
            assessment = rt.triage.assess(inbound.text)
        rt.metrics.triage.labels(assessment.level.value).inc()
        self._unsaved.append((inbound, now))
        rt.metrics.unsaved.set(len(self._unsaved))
        lang = inbound.profile.lang or rt.settings.default_lang
        region = inbound.profile.region or rt.settings.default_region
        safety = self._safety_reply(assessment, lang, region)
        replies = [StoredOutbound(0, safety)] if safety is not None else []
        if safety is not None and assessment.level in {Level.RED, Level.ORANGE}:
            rt.metrics.safety_replies.labels(assessment.level.value).inc()
        if not replies:
            replies = [StoredOutbound(0, self._render("utter_fallback", lang, region))]
        return Outcome(replies, assessment, stored=False)

    async def retry_unsaved(self) -> int:
        """Store messages that failed earlier (their replies were already sent); returns how many were stored."""
        stored = 0
        while self._unsaved:
            inbound, _received = self._unsaved[0]
            try:
                outcome = await self.handle_replayed(inbound)
            except SQLAlchemyError:
                break
            if not outcome.stored:
                break
            self._unsaved.popleft()
            stored += 1
        self._rt.metrics.unsaved.set(len(self._unsaved))
        return stored

    async def handle_replayed(self, inbound: InboundMessage) -> Outcome:
        """Store a message whose replies already went out: its replies are recorded as delivered."""
        outcome = await self.handle(inbound)
        if outcome.stored and not outcome.duplicate:
            async with self._rt.db.transaction() as session:
                await message_store.mark_delivered(session, [r.id for r in outcome.replies], self._rt.clock())
        elif not outcome.stored:
            # handle() queued it again; keep one copy only.
            self._unsaved.pop()
        return outcome


_NOTHING = Assessment(Level.NONE)
