"""What counselors do to cases (claim, reply, note, refer, resolve) and the SLA watchdog. Each action is one
transaction, audited; the person hears about it through their channel after the commit."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import StaffMember, Status, Tier, can_see, next_tier
from bot.core.messages import OutboundMessage, StoredOutbound
from bot.core.safety_replies import format_hotlines
from bot.core.triage.assessment import Level
from bot.service.case_view import case_summary
from bot.service.runtime import Runtime
from bot.store import cases as case_store
from bot.store import dialogue_store, people, person_data
from bot.store import messages as message_store
from bot.store.models import Case, Conversation, User
from bot.store.staff import active_staff_named, audit, staff_by_token

log = logging.getLogger(__name__)
SUPERVISING_ROLES = {"supervisor", "admin"}


class CaseworkError(Exception):
    """An action that cannot be done; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class _ToPerson:
    channel: str
    external_id: str
    messages: list[StoredOutbound]


def _require_admin(staff: StaffMember) -> None:
    if staff.role != "admin":
        raise CaseworkError(403, "only admins export or erase a person's data")


class Casework:
    """Counselor actions on cases, and the watchdog that climbs unclaimed cases."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def authenticate(self, token: str) -> StaffMember | None:
        """The active staff account a bearer token belongs to."""
        async with self._rt.db.reading() as session:
            return await staff_by_token(session, token)

    async def queue(
        self,
        staff: StaffMember,
        *,
        statuses: list[str],
        levels: list[str],
        limit: int,
        offset: int,
        school: str | None = None,
        tier: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the cases in the staff member's scope, most urgent first, and how many there are in all."""
        async with self._rt.db.reading() as session:
            rows, total = await case_store.queue(
                session, staff.scope, statuses=statuses, levels=levels, limit=limit, offset=offset,
                school=school, tier=tier,
            )  # fmt: skip
        return [case_summary(c) for c in rows], total

    async def _case(self, session: AsyncSession, staff: StaffMember, case_id: int) -> Case:
        case = await case_store.get_in_scope(session, case_id, staff.scope)
        if case is None:
            raise CaseworkError(404, f"case {case_id} not found in your scope")
        return case

    async def view(self, staff: StaffMember, case_id: int) -> dict[str, Any]:
        """The case with its timeline, the person's profile and the conversation; the view is audited."""
        rt = self._rt
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            user = await people.user_by_id(session, case.user_id)
            assert user is not None
            await audit(session, staff.id, "case.view", rt.clock(), case_id=case.id)
            lines = await message_store.transcript(session, rt.cipher, case.conversation_id)
            events = await case_store.events_of(session, rt.cipher, case)
            plan = await dialogue_store.load_plan(session, rt.cipher, user.id)
        return {
            "case": case_summary(case),
            "outcome": None if case.outcome_enc is None else rt.cipher.decrypt(case.outcome_enc),
            "person": {
                "id": user.id,
                "channel": user.channel,
                "role": user.role,
                "lang": user.lang,
                "region": user.region,
                "school": user.school,
                "grade": user.grade,
            },
            "events": events,
            # The person's safety plan only when they agreed to share it.
            "safety_plan": [list(pair) for pair in plan[0]] if plan is not None and plan[1] else None,
            "messages": [
                {"id": m.id, "from": m.sender, "text": m.text, "at": m.at.isoformat(), "level": m.level} for m in lines
            ],
        }

    async def claim(self, staff: StaffMember, case_id: int) -> dict[str, Any]:
        """Take the case and the conversation; only one of racing counselors wins (409 for the others)."""
        rt = self._rt
        now = rt.clock()
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            if not await case_store.claim(session, case.id, staff.id, now):
                raise CaseworkError(409, f"case {case_id} is already {case.status}")
            await session.refresh(case)
            conversation, user = await self._conversation(session, case)
            conversation.handoff_case_id = case.id
            await case_store.add_event(session, rt.cipher, case.id, "claimed", now, staff_id=staff.id)
            await audit(session, staff.id, "case.claim", now, case_id=case.id)
            title = rt.counselor_title(user.lang, staff.name)
            notice = rt.dialogue.render("utter_counselor_joined", user.lang, counselor=title)
            to_person = await self._say(session, case, user, OutboundMessage(notice.text, sender="system"))
            summary = case_summary(case)
        rt.metrics.time_to_claim.labels(case.level).observe((now - case.opened_at).total_seconds())
        await self._after(summary, "case.claimed", to_person)
        return summary

    async def reply(self, staff: StaffMember, case_id: int, text: str) -> dict[str, Any]:
        """Send ``text`` to the person as the counselor; the case becomes active."""
        rt = self._rt
        now = rt.clock()
        async with rt.db.transaction() as session:
            case = await self._held(session, staff, case_id)
            _conversation, user = await self._conversation(session, case)
            case.status = Status.ACTIVE.value
            to_person = await self._say(
                session, case, user, OutboundMessage(text, sender="counselor"), staff_id=staff.id
            )
            await case_store.add_event(session, rt.cipher, case.id, "reply", now, staff_id=staff.id, detail=text)
            await audit(session, staff.id, "case.reply", now, case_id=case.id)
            summary = case_summary(case)
        delivered = await self._after(summary, "case.updated", to_person)
        return {"case": summary, "delivered": delivered}

    async def refer(self, staff: StaffMember, case_id: int, to: str, reason: str) -> dict[str, Any]:
        """Close the case as referred to ``to`` (a named service) with ``reason``; the timeline keeps both."""
        detail = json.dumps({"to": to, "reason": reason}, ensure_ascii=False)
        return await self.close(staff, case_id, status=Status.REFERRED, outcome="referred", detail=detail)

    async def reassign(self, staff: StaffMember, case_id: int, to_name: str) -> dict[str, Any]:
        """A supervisor or admin gives the case to another counselor who may see it (by hand, at a shift change or
        when the one holding it is away); it stays in its state, and the new holder is the one who answers."""
        rt = self._rt
        now = rt.clock()
        if staff.role not in SUPERVISING_ROLES:
            raise CaseworkError(403, "only supervisors and admins reassign cases")
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            if Status(case.status).is_closed or case.status == Status.OPEN.value:
                # An open case waits in the queue for whoever claims it first; only a held case changes hands.
                raise CaseworkError(409, f"case {case_id} is {case.status}: only a claimed case can be reassigned")
            target = await active_staff_named(session, to_name)
            visible = target is not None and can_see(
                target.scope, level=Level(case.level), tier=Tier(case.tier), school=case.school, district=case.district
            )
            if target is None or not visible:
                raise CaseworkError(422, f"no active account named {to_name[:80]!r} can see case {case_id}")
            case.assignee_id = target.id
            await case_store.add_event(session, rt.cipher, case.id, "reassigned", now, staff_id=staff.id,
                                       detail=target.name)  # fmt: skip
            await audit(session, staff.id, "case.reassign", now, case_id=case.id, detail=target.name)
            summary = case_summary(case)
        await self._after(summary, "case.updated", None)
        return summary

    async def hand_back(self, staff: StaffMember, case_id: int) -> dict[str, Any]:
        """Give the conversation back to the bot while the case stays open with its counselor (between sessions,
        or at the end of a shift): the person is told, and the bot answers again, with triage as always."""
        rt = self._rt
        now = rt.clock()
        async with rt.db.transaction() as session:
            case = await self._held(session, staff, case_id)
            conversation, user = await self._conversation(session, case)
            if conversation.handoff_case_id != case.id:
                raise CaseworkError(409, f"case {case_id}: the bot already has the conversation")
            conversation.handoff_case_id = None
            await case_store.add_event(session, rt.cipher, case.id, "handed_back", now, staff_id=staff.id)
            await audit(session, staff.id, "case.hand_back", now, case_id=case.id)
            notice = self._render("utter_counselor_handed_back", user)
            to_person = await self._say(session, case, user, OutboundMessage(notice, sender="system"))
            summary = case_summary(case)
            key = (user.channel, user.external_id)
        await self._after(summary, "case.updated", to_person, key)
        return summary

    async def follow_up(self, staff: StaffMember, case_id: int, on: date | None) -> dict[str, Any]:
        """Set (or clear, with None) the day to check on the person again; it must not be in the past."""
        rt = self._rt
        now = rt.clock()
        today = now.astimezone(rt.settings.timezone).date()
        if on is not None and on < today:
            raise CaseworkError(422, f"a follow-up day cannot be in the past (today is {today.isoformat()})")
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            case.follow_up_on = on
            detail = on.isoformat() if on is not None else "cleared"
            await case_store.add_event(session, rt.cipher, case.id, "follow_up", now, staff_id=staff.id, detail=detail)
            await audit(session, staff.id, "case.follow_up", now, case_id=case.id, detail=detail)
            return case_summary(case)

    async def follow_ups(self, staff: StaffMember) -> list[dict[str, Any]]:
        """The cases the staff member holds whose follow-up day has come, each marked overdue when it has passed."""
        rt = self._rt
        today = rt.clock().astimezone(rt.settings.timezone).date()
        async with rt.db.reading() as session:
            rows = await case_store.follow_ups_due(session, staff.scope, staff.id, today)
        return [{**case_summary(c), "overdue": c.follow_up_on is not None and c.follow_up_on < today} for c in rows]

    async def note(self, staff: StaffMember, case_id: int, text: str) -> dict[str, Any]:
        """Add a private note (encrypted) to the case timeline."""
        rt = self._rt
        now = rt.clock()
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            await case_store.add_event(session, rt.cipher, case.id, "note", now, staff_id=staff.id, detail=text)
            await audit(session, staff.id, "case.note", now, case_id=case.id)
            return case_summary(case)

    async def close(
        self, staff: StaffMember, case_id: int, *, status: Status, outcome: str, detail: str
    ) -> dict[str, Any]:
        """Resolve or refer the case; the person is told the counselor has finished and how to come back."""
        rt = self._rt
        now = rt.clock()
        async with rt.db.transaction() as session:
            case = await self._case(session, staff, case_id)
            if Status(case.status).is_closed:
                raise CaseworkError(409, f"case {case_id} is already {case.status}")
            if case.assignee_id not in {None, staff.id} and staff.role not in SUPERVISING_ROLES:
                raise CaseworkError(403, f"case {case_id} is held by another counselor")
            conversation, user = await self._conversation(session, case)
            case.status, case.outcome_enc, case.closed_at = status.value, rt.cipher.encrypt(outcome), now
            case.assignee_id = case.assignee_id or staff.id
            kind = "referred" if status is Status.REFERRED else "resolved"
            await case_store.add_event(session, rt.cipher, case.id, kind, now, staff_id=staff.id, detail=detail)
            await audit(session, staff.id, f"case.{kind}", now, case_id=case.id)
            to_person = None
            if conversation.handoff_case_id == case.id:
                conversation.handoff_case_id = None
                notice = self._render("utter_counselor_left", user)
                to_person = await self._say(session, case, user, OutboundMessage(notice, sender="system"))
            summary = case_summary(case)
            key = (user.channel, user.external_id)
        await self._after(summary, "case.closed", to_person, key)
        return summary

    async def export_person(self, staff: StaffMember, user_id: int) -> dict[str, Any]:
        """Everything stored about a person (admins only; audited)."""
        rt = self._rt
        _require_admin(staff)
        async with rt.db.transaction() as session:
            data = await person_data.export(session, rt.cipher, user_id)
            if data is None:
                raise CaseworkError(404, f"person {user_id} not found")
            await audit(session, staff.id, "person.export", rt.clock(), detail=f"user {user_id}")
        return data

    async def erase_person(self, staff: StaffMember, user_id: int) -> dict[str, Any]:
        """Erase a person's words and identity (admins only; audited); their cases stay, anonymous."""
        rt = self._rt
        _require_admin(staff)
        async with rt.db.reading() as session:
            user = await people.user_by_id(session, user_id)
        if user is None:
            raise CaseworkError(404, f"person {user_id} not found")
        key = (user.channel, user.external_id)
        # Under the person's turn: none of their messages, nor a replay of their journal entries, runs meanwhile
        # (one would bring their words back after the erasure).
        async with rt.people.turn(key):
            async with rt.db.transaction() as session:
                former = await person_data.erase(session, user_id, rt.clock())
                if former is None:
                    raise CaseworkError(404, f"person {user_id} not found")
                await audit(session, staff.id, "person.erase", rt.clock(), detail=f"user {user_id}")
            rt.people.forget(former)
            from_journal = await rt.journal.forget_person(former)
        return {"erased": user_id, "journal_entries": from_journal}

    async def sweep(self) -> int:
        """Every unclaimed case past its deadline climbs one tier (school → district → city), with a new deadline;
        a red case's person hears once per climb that we are still looking, with the hotlines. At the city tier a
        case climbs no further: the on-call side is paged again each period, and the person is not messaged
        again. Returns how many cases climbed or were re-paged."""
        rt = self._rt
        now = rt.clock()
        done = 0
        async with rt.db.reading() as session:
            overdue = await case_store.overdue(session, now)
        for stale in overdue:
            async with rt.db.transaction() as session:
                case = await session.get(Case, stale.id)
                if case is None or case.status != Status.OPEN.value or case.claim_deadline >= now:
                    continue  # claimed meanwhile
                level = Level(case.level)
                following = next_tier(Tier(case.tier), case.district)
                case.claim_deadline = rt.sla.claim_deadline(level, now, rt.settings.timezone)
                to_person = None
                if following is None:
                    kind = "repaged"
                    await case_store.add_event(session, rt.cipher, case.id, kind, now)
                    await audit(session, None, "case.repage", now, case_id=case.id, detail=case.tier)
                else:
                    kind = "escalated"
                    case.tier = following.value
                    case.escalations += 1
                    detail = json.dumps({"tier": case.tier, "escalations": case.escalations})
                    await case_store.add_event(session, rt.cipher, case.id, kind, now, detail=detail)
                    await audit(session, None, "case.escalate", now, case_id=case.id, detail=case.tier)
                    if level is Level.RED:
                        _conversation, user = await self._conversation(session, case)
                        text = self._render("utter_counselor_waiting", user)
                        to_person = await self._say(session, case, user, OutboundMessage(text, sender="system"))
                summary = case_summary(case)
            (rt.metrics.escalations if kind == "escalated" else rt.metrics.repages).labels(level.value).inc()
            log.warning(
                "case unclaimed past its deadline; " + ("escalated" if kind == "escalated" else "paged again"),
                extra={"event": f"case_{kind}", "case_id": summary["id"], "tier": summary["tier"]},
            )
            await self._after(summary, f"case.{kind}", to_person)
            done += 1
        return done

    async def _held(self, session: AsyncSession, staff: StaffMember, case_id: int) -> Case:
        case = await self._case(session, staff, case_id)
        if case.status == Status.OPEN.value:
            raise CaseworkError(409, f"case {case_id} must be claimed before replying")
        if Status(case.status).is_closed:
            raise CaseworkError(409, f"case {case_id} is already {case.status}")
        if case.assignee_id != staff.id and staff.role not in SUPERVISING_ROLES:
            raise CaseworkError(403, f"case {case_id} is held by another counselor")
        return case

    async def _conversation(self, session: AsyncSession, case: Case) -> tuple[Conversation, User]:
        conversation = await session.get(Conversation, case.conversation_id)
        user = await people.user_by_id(session, case.user_id)
        assert conversation is not None
        assert user is not None
        return conversation, user

    def _render(self, response: str, user: User) -> str:
        listing = format_hotlines(self._rt.hotlines.for_region(user.region, emergency=True), user.lang)
        return self._rt.dialogue.render(response, user.lang, hotlines=listing).text

    async def _say(
        self, session: AsyncSession, case: Case, user: User, message: OutboundMessage, *, staff_id: int | None = None
    ) -> _ToPerson:
        stored = await message_store.add_outbound(
            session,
            self._rt.cipher,
            conversation_id=case.conversation_id,
            user_id=user.id,
            message=message,
            now=self._rt.clock(),
            staff_id=staff_id,
        )
        return _ToPerson(user.channel, user.external_id, [stored])

    async def _after(
        self, summary: dict[str, Any], kind: str, to_person: _ToPerson | None, person: tuple[str, str] | None = None
    ) -> bool:
        """After the commit: the pipeline's memory of the person is dropped (their case, handoff or pending
        messages changed), the consoles are told, then the person (pending in the store if they are away)."""
        rt = self._rt
        if person is not None:
            rt.people.forget(person)
        elif to_person is not None:
            rt.people.forget((to_person.channel, to_person.external_id))
        rt.events.publish(kind, summary)
        if to_person is None:
            return False
        delivered = await rt.deliveries.push(to_person.channel, to_person.external_id, to_person.messages)
        if delivered:
            async with rt.db.transaction() as session:
                await message_store.mark_delivered(session, [m.id for m in to_person.messages], rt.clock())
        return delivered
