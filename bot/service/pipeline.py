"""The inbound message pipeline, in DESIGN.md §3 order: triage first (local, before NLU or any I/O) → store
(message, triage, case, replies) in one transaction, within the store's deadline → safety reply → relay to a
counselor, or the dialogue. Past the deadline, or when the store fails, the message goes to the durable journal
and the reply goes out anyway: nothing on this path can hold or silence a safety reply."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import CaseAction, Status, case_action, district_of, first_tier
from bot.core.dialogue import (
    CATEGORY_TOPICS,
    DialogueState,
    RequestCounselor,
    SavePlan,
    SetLanguage,
    SetProfile,
    SetSubscribed,
    Turn,
    Who,
)
from bot.core.messages import Button, InboundMessage, OutboundMessage, StoredOutbound
from bot.core.safety_replies import format_hotlines, screening_after
from bot.core.triage.assessment import Assessment, Level
from bot.core.triage.engine import HISTORY_LIMIT
from bot.core.understanding import Understanding
from bot.service.case_view import case_summary
from bot.service.journal import JournalEntry
from bot.service.runtime import Runtime
from bot.store import cases as case_store
from bot.store import dialogue_store, people
from bot.store import messages as message_store
from bot.store.database import is_unavailable
from bot.store.models import Case
from bot.store.people import PROFILE_FIELDS, Person

log = logging.getLogger(__name__)
_T = TypeVar("_T")
REQUEST_CATEGORY = "request"  # a person asked for a counselor without a risk cue
# How long the reply waits for the journal's fsync when the store failed (a healthy disk takes milliseconds).
JOURNAL_WAIT = 1.0
_NOTHING = Assessment(Level.NONE)
_UNSURE = Understanding(None, 0.0, source="fallback")
# When triage itself cannot read a message, a human does: a quiet yellow follow-up rather than silence.
_UNREAD = Assessment(Level.YELLOW, ("distress",), explanation=("triage failed on this message",))
# Categories where the danger is someone else: a personal safety plan is not the next step there.
# The library audience of primary pupils, whose safety replies ask a grown-up to call with them.
PUPILS = "student_primary"
OTHERS_DANGER = frozenset({"abuse", "sexual_abuse", "exploitation", "danger", "harm_others", "third_party"})
# Intents whose reply reads something only the store has (the person's safety plan).
NEEDS_STORE = frozenset({"show_plan"})


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
    # The person's language after this message (the page follows it: a typed "English please" switches it).
    lang: str | None = None


@dataclass(slots=True)
class _Triage:
    """A message's triage so far and the conversation it was read with (None: the conversation was not known)."""

    assessment: Assessment
    history: list[str] | None
    # The screening question the message may be answering, as it stood when it was read.
    pending: str | None = None


@dataclass(slots=True)
class _Txn:
    """One message's transaction: its session, the person (a copy, kept after commit) and events to publish."""

    session: AsyncSession
    person: Person
    now: datetime
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    dialogue_state: DialogueState | None = None


def _profile_changes(person: Person, inbound: InboundMessage) -> dict[str, str]:
    """Profile fields the channel reports differently from what is stored."""
    return {
        name: value
        for name in PROFILE_FIELDS
        if (value := getattr(inbound.profile, name)) is not None and value != getattr(person, name)
    }


def _settled(person: Person, inbound: InboundMessage, *, take_pending: bool) -> bool:
    """Nothing about the person needs the full path: no counselor holds them, nothing waits for them, and the
    channel reports no change to their profile."""
    if person.handoff_case_id is not None or (take_pending and person.has_pending):
        return False
    return not _profile_changes(person, inbound)


class MessagePipeline:
    """Handles one inbound message; the channel adapter delivers the returned replies."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        # Built once at start from the content: what goes out if composing any other answer fails.
        self._last_resort = {
            lang: OutboundMessage(self._render("utter_last_resort", lang, "CN").text, sender="system")
            for lang in ("zh", "en")
        }
        # Store attempts still running (one per message in flight, and those given up at the deadline).
        self._runners: set[asyncio.Task[None]] = set()
        # Tests use this to simulate a failure after the commit and before the reply reaches the person.
        self.after_commit: Callable[[Outcome], None] | None = None

    @property
    def unsaved(self) -> int:
        """Messages answered but not yet in the database (in the journal, or in memory if its disk refused)."""
        return self._rt.journal.depth

    async def handle(self, inbound: InboundMessage, *, replies_delivered: bool = False) -> Outcome:
        """Triage, store and answer one message. Never raises: past the store's deadline or on any failure after
        triage the reply (the safety reply first) goes out and the message waits in the journal.

        ``replies_delivered``: the channel hands the replies over in its response (web chat), so they and any
        pending earlier messages are recorded as delivered in the same transaction."""
        rt = self._rt
        loop = asyncio.get_running_loop()
        started = loop.time()
        received = rt.clock()
        rt.metrics.messages.labels(inbound.channel).inc()
        key = (inbound.channel, inbound.user_external_id)
        person = rt.people.get(key)
        history = rt.people.history(person.conversation_id) if person is not None else None
        state = rt.people.state(person.conversation_id) if person is not None else None
        pending = state.screening_pending if state is not None else None
        assessment = self._assess(inbound.text, history or [], pending)
        # NLU only for what triage found nothing in: a risky message never waits on it (nor on Rasa).
        understood = await self._understand(inbound.text) if assessment.level is Level.NONE else None
        # Inline under the deadline. Waits that end at once when cancelled (the person's turn, a group commit) are
        # awaited directly; database transactions run detached (``_detached``), so the deadline never waits on
        # their unwinding. Each hand-over to a task costs a turn of a busy loop, so the common path has none.
        triage = _Triage(assessment, history, pending)
        deadline = asyncio.timeout_at(started + rt.settings.store_deadline)
        try:
            async with deadline:
                outcome = await self._stored_turn(inbound, triage, understood, replies_delivered=replies_delivered)
            rt.metrics.reply_seconds.labels(outcome.assessment.level.value).observe(loop.time() - started)
            return outcome
        except TimeoutError:
            reason = "deadline" if deadline.expired() else "unavailable"
            log.warning("store too slow; answered and kept in the journal", extra={"event": "store_late"})
        except Exception as error:
            reason = "unavailable" if is_unavailable(error) else "error"
            log.error(
                "could not store message; answered from triage and kept in the journal",
                exc_info=error,
                extra={"event": "store_failed", "reason": reason},
            )
        rt.people.forget(key)
        outcome = await self._unstored(
            inbound,
            triage.assessment,
            understood,
            person=person,
            asked=state.screening_asked if state is not None else (),
            received=received,
            replies_delivered=replies_delivered,
            reason=reason,
        )
        rt.metrics.reply_seconds.labels(outcome.assessment.level.value).observe(loop.time() - started)
        return outcome

    def _assess(self, text: str, history: list[str], asked: str | None = None) -> Assessment:
        try:
            return self._rt.triage.assess(text, history=history, asked=asked)
        except Exception:
            self._rt.metrics.errors.labels("triage").inc()
            log.exception("triage failed; the message goes to a counselor as yellow", extra={"event": "triage_failed"})
            return _UNREAD

    async def _understand(self, text: str) -> Understanding:
        try:
            return await self._rt.nlu.understand(text)
        except Exception:
            self._rt.metrics.errors.labels("nlu").inc()
            log.exception("understanding failed; answering as unsure", extra={"event": "nlu_failed"})
            return _UNSURE

    async def _detached(self, work: Coroutine[Any, Any, _T]) -> _T:
        """``await work``, run in a task of its own: cancelled (at the deadline), the caller is let go at once and
        the task is cancelled behind it, to unwind (roll back, give back its connection) when the driver is free.
        Awaited inline instead, that unwinding would hold the caller until the database's lock timeout."""
        answer: asyncio.Future[_T] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                result = await work
            except Exception as error:
                if not answer.done():
                    answer.set_exception(error)
                return
            if not answer.done():
                answer.set_result(result)

        task = asyncio.create_task(run())
        self._runners.add(task)
        task.add_done_callback(self._runners.discard)
        try:
            return await answer
        except asyncio.CancelledError:
            task.cancel()
            raise

    def urgent(self, text: str) -> bool:
        """True when ``text`` alone triages red or orange: such a message is never refused (a rate limit)."""
        return self._assess(text, []).level in {Level.RED, Level.ORANGE}

    async def settle(self) -> None:
        """At shutdown, before the database closes: let store attempts given up at their deadline finish unwinding
        (each within about one deadline, when the database's own timeout ends it)."""
        if self._runners:
            await asyncio.wait(self._runners, timeout=self._rt.settings.store_deadline + 0.5)

    async def _stored_turn(
        self, inbound: InboundMessage, triage: _Triage, understood: Understanding | None, *, replies_delivered: bool
    ) -> Outcome:
        """The person's turn, under their lock: what the journal holds for them first (their messages stay in
        order), then this message, triaged again if their conversation moved on while it waited for the lock."""
        rt = self._rt
        key = (inbound.channel, inbound.user_external_id)
        async with rt.people.turn(key):
            # Two messages of one person at once (two tabs, a channel delivering in parallel), or earlier ones
            # still in the journal: this one is read with them, as it would have been one after the other —
            # before any database work, so that the reply knows it even if the store is down.
            waiting = [entry.inbound.text for _seq, entry in rt.journal.of_person(key)]
            cached = self._cached_history(key)
            seen = [*(cached if cached is not None else triage.history or []), *waiting][-HISTORY_LIMIT:]
            # The message before this one may have been answered with a question meanwhile.
            state = self._cached_state(key)
            pending = state.screening_pending if state is not None else triage.pending
            if seen != (triage.history or []) or pending != triage.pending:
                triage.assessment = _stronger(triage.assessment, self._assess(inbound.text, seen, pending))
            if waiting:
                await self._replay_person(key)
            # None (forgotten meanwhile by a failure or a counselor action): the full path reads the store's.
            triage.history = self._cached_history(key)
            return await self._process(
                inbound,
                triage.assessment,
                understood,
                history_known=triage.history is not None,
                replies_delivered=replies_delivered,
            )

    def _cached_history(self, key: tuple[str, str]) -> list[str] | None:
        person = self._rt.people.get(key)
        return None if person is None else self._rt.people.history(person.conversation_id)

    def _cached_state(self, key: tuple[str, str]) -> DialogueState | None:
        person = self._rt.people.get(key)
        return None if person is None else self._rt.people.state(person.conversation_id)

    async def _process(
        self,
        inbound: InboundMessage,
        early: Assessment,
        understood: Understanding | None,
        *,
        history_known: bool,
        replies_delivered: bool,
    ) -> Outcome:
        rt = self._rt
        key = (inbound.channel, inbound.user_external_id)
        epoch = rt.people.epoch
        now = rt.clock()
        quick = self._quick_path(
            inbound, key, early, understood, replies_delivered=replies_delivered, take_pending=replies_delivered
        )
        if quick is not None:
            person, item, new_state = quick
            stored = await rt.group_commit.store(item)
            if stored is not None:
                outcome = Outcome(stored[1], early, message_id=stored[0], user_id=person.user_id)
                return self._committed(
                    inbound, outcome, person=person, epoch=epoch, state=new_state, events=[], replaying=False
                )
            # A re-delivery: the full path below finds what was stored the first time.
        return await self._detached(
            self._full_path(
                inbound, early, understood, now, epoch=epoch, history_known=history_known, delivered=replies_delivered
            )
        )

    async def _full_path(
        self,
        inbound: InboundMessage,
        early: Assessment,
        understood: Understanding | None,
        now: datetime,
        *,
        epoch: int,
        history_known: bool,
        delivered: bool,
    ) -> Outcome:
        """The message, its case and the dialogue's effects in one transaction, then what follows a commit (the
        consoles told of a new case): here, so that it happens even when the caller gave up at the deadline."""
        rt = self._rt
        async with rt.db.transaction() as session:
            person = await self._person(session, inbound, now)
            assessment = early
            if not history_known:
                # Read after a restart or a forget: the conversation may say more than the message alone, and
                # the message may answer the question the last reply asked.
                history = await self._history(session, person)
                pending = (await self._dialogue_state(session, person)).screening_pending
                assessment = _stronger(early, self._assess(inbound.text, history, pending))
            work = _Txn(session, person, now)
            outcome = await self._store(
                work,
                inbound,
                assessment,
                understood or _UNSURE,
                replies_delivered=delivered,
                take_pending=delivered,
            )
        if outcome.duplicate:
            rt.people.put((inbound.channel, inbound.user_external_id), work.person, epoch)
            outcome.lang = work.person.lang
            return outcome
        return self._committed(
            inbound,
            outcome,
            person=work.person,
            epoch=epoch,
            state=work.dialogue_state,
            events=work.events,
            replaying=False,
        )

    def _committed(
        self,
        inbound: InboundMessage,
        outcome: Outcome,
        *,
        person: Person,
        epoch: int,
        state: DialogueState | None,
        events: list[tuple[str, dict[str, Any]]],
        replaying: bool,
    ) -> Outcome:
        """After the commit, on either path: remember the person, tell the consoles, count."""
        rt = self._rt
        outcome.lang = person.lang
        rt.people.put((inbound.channel, inbound.user_external_id), person, epoch)
        rt.people.add_text(person.conversation_id, inbound.text)
        if state is not None:
            rt.people.set_state(person.conversation_id, state)
        for kind, summary in events:
            rt.events.publish(kind, summary)
        level = outcome.assessment.level
        # A replayed message was counted, and its safety reply sent, when it first arrived.
        if not replaying:
            rt.metrics.triage.labels(level.value).inc()
            if level in {Level.RED, Level.ORANGE}:
                rt.metrics.safety_replies.labels(level.value).inc()
        if level is not Level.NONE:
            log.info(
                "message triaged",
                extra={"event": "triage", "triage_level": level.value, "message_id": outcome.message_id},
            )
        if self.after_commit is not None:
            self.after_commit(outcome)
        return outcome

    def _quick_path(
        self,
        inbound: InboundMessage,
        key: tuple[str, str],
        assessment: Assessment,
        understood: Understanding | None,
        *,
        replies_delivered: bool,
        take_pending: bool,
    ) -> tuple[Person, message_store.Exchange, DialogueState | None] | None:
        """For the common message (a known person, no risk, no case, no counselor, nothing pending, a dialogue
        turn that changes nothing stored) the rows to store by group commit; None sends it down the full path."""
        rt = self._rt
        if assessment.level is not Level.NONE or understood is None or understood.intent in NEEDS_STORE:
            return None
        person = rt.people.get(key)
        if person is None or not _settled(person, inbound, take_pending=take_pending):
            return None
        state = rt.people.state(person.conversation_id)
        if rt.people.history(person.conversation_id) is None or state is None:
            return None
        # A message with no risk ends a stretch of screening questions.
        screened = replace(state, screening_asked=(), screening_pending=None)
        now = rt.clock()
        who = replace(
            self._who(person),
            reporter=screened.reporter,
            waited=_waited(screened, now),
            answering=state.screening_pending,
        )
        turn = rt.dialogue.respond(inbound.text, understood, screened, who, self._hotlines(person))
        if turn.effects:
            return None
        item = self._exchange(person, inbound, assessment, turn.replies, now, delivered=replies_delivered)
        if turn.state != state:
            # Reading an article moves the conversation's state: it is written in the same group commit.
            row = dialogue_store.state_row(rt.cipher, person.conversation_id, turn.state.as_json(), now)
            return person, replace(item, state_row=row), turn.state
        return person, item, None

    def _exchange(
        self,
        person: Person,
        inbound: InboundMessage,
        assessment: Assessment,
        replies: list[OutboundMessage],
        now: datetime,
        *,
        delivered: bool,
    ) -> message_store.Exchange:
        return message_store.exchange(
            self._rt.cipher,
            conversation_id=person.conversation_id,
            user_id=person.user_id,
            external_id=inbound.external_id,
            text=inbound.text,
            assessment=assessment,
            replies=replies,
            now=now,
            delivered=delivered,
        )

    def _who(self, person: Person, plan_text: str | None = None) -> Who:
        return Who(
            person.lang,
            person.role,
            person.grade,
            person.region,
            plan_text=plan_text,
            case_open=person.open_case_id is not None,
            brief_hotlines=self._brief(person.lang, person.region),
        )

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the pipeline lives as long as the service
    def _brief(self, lang: str, region: str) -> str:
        """The region's first two lines in one sentence, for replies that must stay short (crisis check-ins)."""
        lines = self._rt.hotlines.for_region(region)[:2]
        listed = (
            "；".join(f"{h.name[lang]} {h.number}" for h in lines)
            if lang == "zh"
            else "; ".join(f"{h.name[lang]} {h.number}" for h in lines)
        )
        if not listed:
            return ""
        return f"也可以打：{listed}。" if lang == "zh" else f"You can also call: {listed}."

    def _hotlines(self, person: Person) -> str:
        return self._listing(person.lang, person.region)

    def _hotlines_for(self, who: Who) -> str:
        return self._listing(who.lang, who.region)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the pipeline lives as long as the service
    def _listing(self, lang: str, region: str) -> str:
        return format_hotlines(self._rt.hotlines.for_region(region, emergency=True), lang)

    async def _dialogue_state(self, session: AsyncSession, person: Person) -> DialogueState:
        rt = self._rt
        state = rt.people.state(person.conversation_id)
        if state is None:
            stored = await dialogue_store.load_state(session, rt.cipher, person.conversation_id)
            state = DialogueState.from_json(stored) if stored else DialogueState()
            rt.people.set_state(person.conversation_id, state)
        return state

    async def _plan_text(self, session: AsyncSession, person: Person) -> str | None:
        rt = self._rt
        plan = await dialogue_store.load_plan(session, rt.cipher, person.user_id)
        if plan is None:
            return None
        labels = rt.dialogue.domain.labels.get("plan", {})
        return "\n".join(f"· {labels.get(slot, {}).get(person.lang, slot)}：{answer}" for slot, answer in plan[0])

    async def _person(self, session: AsyncSession, inbound: InboundMessage, now: datetime) -> Person:
        """The person from the cache or the store, created on first contact; profile changes written through."""
        rt = self._rt
        key = (inbound.channel, inbound.user_external_id)
        person = rt.people.get(key)
        if person is None:
            # Insert first: on the web most unknown people are new sessions, so this saves a lookup for them;
            # for someone already stored the insert is skipped and they are read instead.
            person, created = await people.create_person(
                session,
                channel=inbound.channel,
                external_id=inbound.user_external_id,
                profile=inbound.profile,
                default_lang=rt.settings.default_lang,
                default_region=rt.settings.default_region,
                now=now,
            )
            if created:
                # A new person has said nothing before and is in the middle of nothing.
                rt.people.set_history(person.conversation_id, [])
                rt.people.set_state(person.conversation_id, DialogueState())
            return person
        changes = _profile_changes(person, inbound)
        if changes:
            await people.update_user(session, person.user_id, **changes)
            for name, value in changes.items():
                setattr(person, name, value)
        return person

    async def _history(self, session: AsyncSession, person: Person) -> list[str]:
        rt = self._rt
        history = rt.people.history(person.conversation_id)
        if history is None:
            history = await message_store.recent_person_texts(session, rt.cipher, person.conversation_id, HISTORY_LIMIT)
            rt.people.set_history(person.conversation_id, history)
        return history

    async def _store(
        self,
        work: _Txn,
        inbound: InboundMessage,
        assessment: Assessment,
        understood: Understanding,
        *,
        replies_delivered: bool,
        take_pending: bool,
        sent: JournalEntry | None = None,
    ) -> Outcome:
        """Store the exchange and what it does to the person's case. ``sent``: a journal entry being replayed, whose
        replies already went out (they are stored as they were, and no dialogue turn runs again)."""
        rt = self._rt
        session, person, now = work.session, work.person, work.now
        held = person.handoff_case_id is not None
        # A replayed entry's replies went out already: its screening question was not remembered (the store was
        # down), so the state is left as it is.
        state = await self._dialogue_state(session, person) if sent is None else None
        screened: DialogueState | None = None
        if state is not None:
            outgoing, screened = self._risk_replies(inbound, assessment, state, self._who(person), held=held, now=now)
        else:
            outgoing = list(sent.replies) if sent is not None else []
        turn: Turn | None = None
        if screened is not None and not held and (assessment.level is Level.NONE or _fills_form(assessment, state)):
            plan = await self._plan_text(session, person) if understood.intent in NEEDS_STORE else None
            who = replace(
                self._who(person, plan),
                reporter=screened.reporter,
                waited=_waited(screened, now),
                answering=state.screening_pending if state is not None else None,
            )
            turn = rt.dialogue.respond(inbound.text, understood, screened, who, self._hotlines(person))
            outgoing.extend(turn.replies)

        stored = await message_store.insert_exchange(
            session, self._exchange(person, inbound, assessment, outgoing, now, delivered=replies_delivered)
        )
        if stored is None:
            message_id, replies = await message_store.replies_for(
                session, rt.cipher, person.user_id, inbound.external_id
            )
            return Outcome(replies, _NOTHING, duplicate=True, message_id=message_id, user_id=person.user_id)
        message_id, replies = stored

        case = await self._update_case(work, message_id, assessment)
        if turn is not None:
            await self._carry_out(work, turn, case, message_id)
        final = turn.state if turn is not None else screened
        if final is not None and final != state:
            await dialogue_store.save_state(session, rt.cipher, person.conversation_id, final.as_json(), now)
            work.dialogue_state = final
        elif sent is not None and sent.wants_counselor and case is None and person.open_case_id is None:
            await self._open_case(work, Level.YELLOW, (REQUEST_CATEGORY,), message_id)
        if held and person.handoff_case_id is not None:
            await case_store.add_event(
                session, rt.cipher, person.handoff_case_id, "message", now, message_id=message_id
            )
            handoff = await session.get(Case, person.handoff_case_id)
            if handoff is not None:
                work.events.append(("case.message", case_summary(handoff)))

        outcome = Outcome(replies, assessment, message_id=message_id, user_id=person.user_id)
        if take_pending and person.has_pending:
            outcome.pending = await message_store.pending_for(session, rt.cipher, person.user_id)
            await message_store.mark_delivered(session, [m.id for m in outcome.pending], now)
            person.has_pending = False
        return outcome

    async def _carry_out(self, work: _Txn, turn: Turn, case: Case | None, message_id: int) -> None:
        """Apply what the dialogue decided, in the message's transaction."""
        rt, session, person, now = self._rt, work.session, work.person, work.now
        for effect in turn.effects:
            if isinstance(effect, SetLanguage | SetProfile):
                name, value = ("lang", effect.lang) if isinstance(effect, SetLanguage) else (effect.field, effect.value)
                await people.update_user(session, person.user_id, **{name: value})
                setattr(person, name, value)
            elif isinstance(effect, RequestCounselor):
                if case is None and person.open_case_id is None:
                    await self._open_case(work, Level.YELLOW, (REQUEST_CATEGORY,), message_id)
            elif isinstance(effect, SetSubscribed):
                await people.update_user(session, person.user_id, subscribed=effect.subscribed)
            elif isinstance(effect, SavePlan):
                await dialogue_store.save_plan(session, rt.cipher, person.user_id, list(effect.answers), now)
            else:
                shared = await dialogue_store.set_plan_shared(session, person.user_id, effect.share, now)
                if shared and effect.share and person.open_case_id is not None:
                    await case_store.add_event(session, rt.cipher, person.open_case_id, "plan_shared", now)

    async def _update_case(self, work: _Txn, message_id: int, assessment: Assessment) -> Case | None:
        rt = self._rt
        session, person, now = work.session, work.person, work.now
        open_level = Level(person.open_case_level) if person.open_case_level else None
        action = case_action(assessment.level, open_level)
        if action is CaseAction.NONE:
            return None
        if action is CaseAction.OPEN:
            return await self._open_case(work, assessment.level, assessment.categories, message_id)
        existing = await session.get(Case, person.open_case_id)
        if existing is None:
            raise RuntimeError(f"open case {person.open_case_id} is missing")
        merged = dict.fromkeys([*existing.categories.split(","), *assessment.categories])
        existing.categories = ",".join(c for c in merged if c)
        if action is CaseAction.RAISE:
            existing.level = assessment.level.value
            person.open_case_level = existing.level
            if existing.status == Status.OPEN.value:
                deadline = rt.sla.claim_deadline(assessment.level, now, rt.settings.timezone)
                existing.claim_deadline = min(existing.claim_deadline, deadline)
            await case_store.add_event(session, rt.cipher, existing.id, "raised", now, message_id=message_id)
            work.events.append(("case.raised", case_summary(existing)))
        elif person.handoff_case_id != existing.id:
            await case_store.add_event(session, rt.cipher, existing.id, "message", now, message_id=message_id)
            work.events.append(("case.message", case_summary(existing)))
        return existing

    async def _open_case(self, work: _Txn, level: Level, categories: tuple[str, ...], message_id: int) -> Case:
        rt, person, now = self._rt, work.person, work.now
        district = district_of(person.region)
        case = Case(
            user_id=person.user_id,
            conversation_id=person.conversation_id,
            level=level.value,
            categories=",".join(categories),
            status=Status.OPEN.value,
            tier=first_tier(person.school, district).value,
            school=person.school,
            district=district,
            region=person.region,
            trigger_message_id=message_id,
            assignee_id=None,
            opened_at=now,
            claim_deadline=rt.sla.claim_deadline(level, now, rt.settings.timezone),
            claimed_at=None,
            closed_at=None,
            outcome_enc=None,
            escalations=0,
        )
        # The case row is its own "opened" event (``case_store.events_of`` shows it first); one statement.
        case.id = await case_store.insert_case(work.session, case)
        person.open_case_id, person.open_case_level = case.id, case.level
        work.events.append(("case.opened", case_summary(case)))
        return case

    def _risk_replies(
        self,
        inbound: InboundMessage,
        assessment: Assessment,
        state: DialogueState,
        who: Who,
        *,
        held: bool,
        now: datetime,
    ) -> tuple[list[OutboundMessage], DialogueState]:
        """The safety reply (none for level none; none at yellow while a counselor has the conversation), the
        support content that follows one at yellow, and where screening stands after them."""
        if _fills_form(assessment, state):
            return [], state
        if assessment.reporter is not None:
            topic = next((CATEGORY_TOPICS[c] for c in assessment.categories if c in CATEGORY_TOPICS), None)
            state = replace(state, reporter=assessment.reporter, topic=topic)
        who = replace(who, reporter=state.reporter, waited=_waited(state, now))
        if held and state.crisis:
            # A counselor has the conversation: crisis replies are theirs now.
            state = replace(state, crisis_since=None, expecting=None)
        if state.crisis and assessment.level in {Level.YELLOW, Level.ORANGE} and not held:
            # In crisis a worry gets the crisis check-in, not a yellow template and an article.
            # A worry in answer to "is anyone with you?" (没人陪我) is a no.
            alone = state.expecting == "with_someone"
            reply = self._rt.dialogue.crisis_reply(who, self._hotlines_for(who), alone=alone)
            if assessment.level is Level.YELLOW:
                return [reply], replace(state, expecting=None if alone else "with_someone")
        safety = self._safety_reply(
            assessment, who.lang, who.region, state.screening_asked, crisis=state.crisis, pupil=who.audience == PUPILS
        )
        replied = safety is not None and (assessment.level is not Level.YELLOW or not held)
        asked, pending = screening_after(self._rt.safety, assessment, state.screening_asked, replied=replied)
        state = replace(state, screening_asked=asked, screening_pending=pending)
        if assessment.level is Level.RED and not held:
            # Crisis mode until a counselor takes over or the person says they are safe.
            since = state.crisis_since if state.crisis else now.isoformat()
            state = replace(state, crisis_since=since, expecting=None, tool=None, article=None)
        if safety is None or not replied:
            return [], state
        if assessment.level is Level.YELLOW and pending is None:
            # Yellow offers support content: the article for the worry follows the reply. Not when the reply asks a
            # screening question: one question per turn, and the offer follows the answer.
            support = self._rt.dialogue.support(inbound.text, state, who)
            if support is not None:
                return [safety, *support.replies], support.state
        return [safety], state

    def _safety_reply(
        self,
        assessment: Assessment,
        lang: str,
        region: str,
        asked: tuple[str, ...] = (),
        *,
        crisis: bool = False,
        pupil: bool = False,
    ) -> OutboundMessage | None:
        text = self._rt.safety.compose(assessment, lang, self._rt.hotlines, region, asked, crisis=crisis, pupil=pupil)
        if text is None:
            return None
        buttons: tuple[Button, ...] = ()
        # After orange or yellow distress the person is offered their own safety plan (people in crisis use a
        # plan they made far more than a number); not when the danger comes from someone else.
        if assessment.level in {Level.ORANGE, Level.YELLOW} and not set(assessment.categories) & OTHERS_DANGER:
            offer = self._rt.dialogue.domain.labels.get("plan", {}).get("offer")
            if offer is not None:
                buttons = (Button(offer[lang if lang in offer else "zh"], "/safety_plan"),)
        return OutboundMessage(text, buttons, sender="bot")

    def _render(self, response: str, lang: str, region: str) -> OutboundMessage:
        return self._rt.dialogue.render(response, lang, hotlines=self._listing(lang, region))

    async def _unstored(
        self,
        inbound: InboundMessage,
        assessment: Assessment,
        understood: Understanding | None,
        *,
        person: Person | None,
        asked: tuple[str, ...],
        received: datetime,
        replies_delivered: bool,
        reason: str,
    ) -> Outcome:
        """The store failed or was too slow: answer from triage (and the dialogue, for an ordinary message) and keep
        the message in the journal, fsync'd, before the answer goes out."""
        rt = self._rt
        rt.metrics.store_bypassed.labels(reason).inc()
        rt.metrics.triage.labels(assessment.level.value).inc()
        lang = person.lang if person is not None else inbound.profile.lang or rt.settings.default_lang
        region = person.region if person is not None else inbound.profile.region or rt.settings.default_region
        try:
            replies, wants_counselor = self._answer_unstored(
                inbound, assessment, understood, person, lang=lang, region=region, asked=asked
            )
        except Exception:
            rt.metrics.errors.labels("reply").inc()
            log.exception("composing the reply failed; the last-resort reply went out", extra={"event": "reply_failed"})
            replies, wants_counselor = [self._last_resort[lang if lang in self._last_resort else "zh"]], False
        entry = JournalEntry(inbound, received, tuple(replies), replies_delivered, wants_counselor)
        try:
            # Bounded: a stalled disk must not hold the reply. Inline, so that the entry is pending before the
            # person's next message can take their turn; the writer finishes the write if we stop waiting.
            async with asyncio.timeout(JOURNAL_WAIT):
                seq = await rt.journal.append(entry)
            if not rt.journal.written(seq):
                rt.metrics.errors.labels("journal").inc()
        except TimeoutError:
            rt.metrics.errors.labels("journal").inc()
            log.error("journal write is slow; the reply went out first", extra={"event": "journal_slow"})
        rt.metrics.journal_depth.set(self.unsaved)
        return Outcome([StoredOutbound(0, reply) for reply in replies], assessment, stored=False, lang=lang)

    def _answer_unstored(
        self,
        inbound: InboundMessage,
        assessment: Assessment,
        understood: Understanding | None,
        person: Person | None,
        *,
        lang: str,
        region: str,
        asked: tuple[str, ...],
    ) -> tuple[list[OutboundMessage], bool]:
        """The replies without the store, and whether the person asked for a counselor."""
        rt = self._rt
        who = self._who(person) if person is not None else Who(lang, inbound.profile.role or "student", region=region)
        risky, _state = self._risk_replies(
            inbound, assessment, DialogueState(screening_asked=asked), who, held=False, now=self._rt.clock()
        )
        if risky:
            if assessment.level in {Level.RED, Level.ORANGE}:
                rt.metrics.safety_replies.labels(assessment.level.value).inc()
            return risky, False
        if person is not None and person.handoff_case_id is not None:
            return [], False  # a counselor holds the conversation: the message is relayed once it is stored
        state = (rt.people.state(person.conversation_id) if person is not None else None) or DialogueState()
        who = replace(who, answering=state.screening_pending)
        turn = rt.dialogue.respond(inbound.text, understood or _UNSURE, state, who, self._listing(lang, region))
        wants_counselor = any(isinstance(effect, RequestCounselor) for effect in turn.effects)
        saves = [effect for effect in turn.effects if not isinstance(effect, RequestCounselor)]
        # A turn that changes stored settings cannot be kept now: the person is told to try again, not misled.
        return ([self._render("utter_try_again_later", lang, region)] if saves else turn.replies), wants_counselor

    async def replay_journal(self) -> int:
        """Store what the journal holds, person by person in arrival order; returns how many were stored. Stops at
        the first sign the database is still unavailable; an entry that can never be stored is set aside."""
        rt = self._rt
        stored = 0
        try:
            for key in rt.journal.people():
                async with rt.people.turn(key):
                    stored += await self._replay_person(key)
        except Exception as error:
            if not is_unavailable(error):
                raise
        finally:
            rt.metrics.journal_depth.set(self.unsaved)
        return stored

    async def _replay_person(self, key: tuple[str, str]) -> int:
        """Store one person's journal entries, oldest first (call with the person's turn held). Raises when the
        database is unavailable, so that newer messages wait behind the older ones."""
        rt = self._rt
        stored = 0
        for seq, entry in rt.journal.of_person(key):
            if not rt.journal.is_pending(seq):
                continue  # erased, or stored by another round, since the list was read
            try:
                await self._detached(self._replay(entry))
            except Exception as error:
                rt.people.forget(key)
                if is_unavailable(error):
                    raise
                rt.metrics.journal_set_aside.inc()
                await rt.journal.put_aside(seq, type(error).__name__)
                continue
            await rt.journal.stored(seq)
            stored += 1
        return stored

    async def _replay(self, entry: JournalEntry) -> None:
        """Store one journal entry as if it had been stored when it arrived (its time, its replies)."""
        rt = self._rt
        inbound = entry.inbound
        key = (inbound.channel, inbound.user_external_id)
        epoch = rt.people.epoch
        async with rt.db.transaction() as session:
            person = await self._person(session, inbound, entry.received_at)
            assessment = self._assess(inbound.text, await self._history(session, person))
            work = _Txn(session, person, entry.received_at)
            outcome = await self._store(
                work,
                inbound,
                assessment,
                _UNSURE,
                replies_delivered=entry.delivered,
                take_pending=False,
                sent=entry,
            )
        if outcome.duplicate:
            rt.people.put(key, work.person, epoch)
            return
        self._committed(
            inbound, outcome, person=work.person, epoch=epoch, state=None, events=work.events, replaying=True
        )

    async def waiting_for(self, channel: str, external_id: str) -> list[StoredOutbound] | None:
        """What waits for a person who opens the chat again (None: nobody known by that id yet)."""
        rt = self._rt
        async with rt.db.reading() as session:
            user = await people.find_user(session, channel, external_id)
            if user is None:
                return None
            return await message_store.pending_for(session, rt.cipher, user.id)

    async def delivered(self, messages: list[StoredOutbound]) -> None:
        """Record that these waiting messages reached the person."""
        if messages:
            async with self._rt.db.transaction() as session:
                await message_store.mark_delivered(session, [m.id for m in messages], self._rt.clock())


def _waited(state: DialogueState, now: datetime) -> int | None:
    """Whole minutes since the crisis began, for the crisis replies; None outside one."""
    if not state.crisis_since:
        return None
    try:
        since = datetime.fromisoformat(state.crisis_since)
    except ValueError:
        return None
    return max(0, int((now - since).total_seconds() // 60))


def _fills_form(assessment: Assessment, state: DialogueState | None) -> bool:
    """A worry written as an answer in a form (a warning sign in one's safety plan: "睡不着的时候") is the form's
    answer, not a new message to reply to; red and orange still interrupt it."""
    return assessment.level is Level.YELLOW and state is not None and state.form is not None


def _stronger(first: Assessment, second: Assessment) -> Assessment:
    """The more serious of two assessments of one message (the first on a tie)."""
    return second if second.level.rank > first.level.rank else first
