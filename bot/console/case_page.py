"""A case in the console: the conversation, triage, the person's profile and safety plan, the timeline, and the
counselor's actions (claim, reply, note, refer from the directory, resolve with an outcome), each a plain form with
the session's CSRF token that comes back to the case (post, then redirect)."""

from __future__ import annotations

import html
import secrets
from datetime import date, datetime
from typing import Any

from aiohttp import web

from bot.console.pages import LABELS, console_user, page, see_other, with_lang
from bot.console.pages import lang_of as _lang
from bot.core.cases import Status
from bot.core.referrals import ReferralDirectory
from bot.core.sanitize import sanitize_text
from bot.service.casework import Casework, CaseworkError
from bot.service.console_auth import ConsoleAuth, ConsoleUser
from bot.service.runtime import Runtime

TEXT_MAX, REASON_MAX = 2000, 500
CASE_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "back": "← 返回个案列表",
        "case": "个案 #{id}",
        "status": "状态",
        "tier": "当前层级",
        "tier.school": "学校",
        "tier.district": "区",
        "tier.city": "市",
        "categories": "类别",
        "deadline": "认领时限",
        "person": "求助者",
        "role": "身份",
        "school": "学校",
        "grade": "年级",
        "region": "地区",
        "channel": "渠道",
        "plan": "TA 分享的安全计划",
        "conversation": "对话",
        "from.person": "求助者",
        "from.bot": "心桥",
        "from.counselor": "心理老师",
        "from.system": "系统",
        "timeline": "经过",
        "claim": "认领",
        "hand_back": "交还给心桥（个案保留）",
        "reassign_to": "转给另一位老师（账号名）",
        "reassign": "改派",
        "reply": "回复",
        "send": "发送",
        "note": "备注（只有工作人员看得到）",
        "add_note": "添加备注",
        "refer_to": "转介到",
        "reason": "转介原因",
        "refer": "转介",
        "outcome": "结案结果",
        "resolve_note": "结案说明",
        "resolve": "结案",
        "unverified": "（联系方式未核实）",
        "sent": "已送达。",
        "pending": "已保存，TA 回来时会收到。",
        "done": "已完成。",
        "empty_text": "请先写内容。",
        "unknown_choice": "请从列表里选择。",
        "closed": "这个个案已经结束。",
        "none": "无",
        "follow_up": "追踪日期（到期会出现在你的待追踪列表里）",
        "set_follow_up": "设置追踪日期",
        "bad_date": "请选一个日期。",
    },
    "en": {
        "back": "← Back to the queue",
        "case": "Case #{id}",
        "status": "Status",
        "tier": "Tier",
        "tier.school": "school",
        "tier.district": "district",
        "tier.city": "city",
        "categories": "Categories",
        "deadline": "Claim by",
        "person": "The person",
        "role": "Role",
        "school": "School",
        "grade": "Grade",
        "region": "Region",
        "channel": "Channel",
        "plan": "Safety plan they shared",
        "conversation": "Conversation",
        "from.person": "Person",
        "from.bot": "Xinqiao",
        "from.counselor": "Counselor",
        "from.system": "System",
        "timeline": "Timeline",
        "claim": "Claim",
        "hand_back": "Hand back to the bot (the case stays open)",
        "reassign_to": "Give to another counselor (account name)",
        "reassign": "Reassign",
        "reply": "Reply",
        "send": "Send",
        "note": "Note (staff only)",
        "add_note": "Add note",
        "refer_to": "Refer to",
        "reason": "Reason for the referral",
        "refer": "Refer",
        "outcome": "Outcome",
        "resolve_note": "Closing note",
        "resolve": "Resolve",
        "unverified": " (contact details not verified)",
        "sent": "Delivered.",
        "pending": "Saved; it reaches them when they are back.",
        "done": "Done.",
        "empty_text": "Please write something first.",
        "unknown_choice": "Please choose from the list.",
        "closed": "This case is closed.",
        "none": "none",
        "follow_up": "Follow-up date (the case shows on your due list from then)",
        "set_follow_up": "Set follow-up",
        "bad_date": "Please choose a date.",
    },
}
CASE_STYLE = """
section{background:#fff;border-radius:.4rem;padding:.8rem;margin:.8rem 0}dl{display:grid;grid-template-columns:
auto 1fr;gap:.2rem .8rem;margin:0}dt{color:#52606d}ol.log{list-style:none;padding:0;margin:0}ol.log li{padding:.4rem 0;
border-bottom:1px solid #e4e7eb;overflow-wrap:anywhere}.who{font-weight:600}.from-person .who{color:#1f5f8b}
textarea,select{width:100%;font:inherit;padding:.5rem;border:1px solid #8a96a3;border-radius:.4rem}
textarea{min-height:5rem}[role=status]{background:#e7f4ea;border-left:4px solid #2e7d32;padding:.6rem}
"""


class CasePages:
    """The case page and the counselor's actions on it."""

    def __init__(self, runtime: Runtime, auth: ConsoleAuth, casework: Casework, directory: ReferralDirectory) -> None:
        self._rt = runtime
        self._auth = auth
        self._work = casework
        self._directory = directory

    def routes(self) -> list[web.AbstractRouteDef]:
        """The case page and one form route per action."""
        return [
            web.get("/console/cases/{id:[0-9]{1,12}}", self.case),
            web.post(
                "/console/cases/{id:[0-9]{1,12}}/{action:claim|reply|note|refer|resolve|follow-up|hand-back|reassign}",
                self.act,
            ),
        ]

    async def case(self, request: web.Request) -> web.StreamResponse:
        """The case (viewing it is audited), with a line saying how the last action went."""
        lang = _lang(request)
        user = await console_user(self._auth, request)
        if user is None:
            return see_other(with_lang("/console/login", lang))
        flash = {"sent": "sent", "pending": "pending", "done": "done"}.get(request.query.get("said", ""))
        return await self._render(user, int(request.match_info["id"]), lang, status=200, flash=flash, alert=None)

    async def act(self, request: web.Request) -> web.StreamResponse:
        """One action from the case page's forms."""
        lang = _lang(request)
        user = await console_user(self._auth, request)
        if user is None:
            return see_other(with_lang("/console/login", lang))
        case_id, action = int(request.match_info["id"]), request.match_info["action"]
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError):
            return await self._render(user, case_id, lang, status=400, flash=None, alert="empty_text")
        sent = form.get("csrf")
        if not isinstance(sent, str) or not secrets.compare_digest(sent, user.csrf):
            raise web.HTTPForbidden(text="CSRF token missing or wrong")
        keys = ("text", "to", "reason", "outcome", "on")
        fields = {key: sanitize_text(str(form.get(key) or "")).strip() for key in keys}
        try:
            said = await self._do(user, case_id, action, fields)
        except _FormError as problem:
            return await self._render(user, case_id, lang, status=422, flash=None, alert=problem.key)
        except CaseworkError as exc:
            return await self._render(user, case_id, lang, status=exc.status, flash=None, alert=None, error=exc.message)
        return see_other(with_lang(f"/console/cases/{case_id}", lang) + ("&" if lang == "en" else "?") + f"said={said}")

    async def _do(self, user: ConsoleUser, case_id: int, action: str, fields: dict[str, str]) -> str:
        staff = user.member
        plain = {"claim": self._work.claim, "hand-back": self._work.hand_back}
        if action in plain:
            await plain[action](staff, case_id)
            return "done"
        if action in {"reply", "note"}:
            text = fields["text"][:TEXT_MAX]
            if not text:
                raise _FormError("empty_text")
            if action == "note":
                await self._work.note(staff, case_id, text)
                return "done"
            result = await self._work.reply(staff, case_id, text)
            return "sent" if result.get("delivered") else "pending"
        if action in {"reassign", "follow-up"}:
            await self._setting(user, case_id, action, fields)
            return "done"
        if action == "refer":
            service = self._directory.get(fields["to"])
            if service is None:
                raise _FormError("unknown_choice")
            await self._work.refer(staff, case_id, service.name["zh"], fields["reason"][:REASON_MAX])
            return "done"
        outcome = self._directory.outcome(fields["outcome"])
        if outcome is None:
            raise _FormError("unknown_choice")
        await self._work.close(
            staff, case_id, status=Status.RESOLVED, outcome=outcome.id, detail=fields["text"][:TEXT_MAX]
        )
        return "done"

    async def _setting(self, user: ConsoleUser, case_id: int, action: str, fields: dict[str, str]) -> None:
        """Who holds the case, and when to check on the person again."""
        staff = user.member
        if action == "reassign":
            if not fields["to"]:
                raise _FormError("empty_text")
            await self._work.reassign(staff, case_id, fields["to"][:80])
            return
        if action == "follow-up":
            try:
                on = date.fromisoformat(fields["on"]) if fields["on"] else None
            except ValueError:
                raise _FormError("bad_date") from None
            await self._work.follow_up(staff, case_id, on)
            return

    async def _render(
        self,
        user: ConsoleUser,
        case_id: int,
        lang: str,
        *,
        status: int,
        flash: str | None,
        alert: str | None,
        error: str | None = None,
    ) -> web.Response:
        text = CASE_LABELS[lang]
        try:
            view = await self._work.view(user.member, case_id)
        except CaseworkError as exc:
            body = f'<p><a href="{with_lang("/console/", lang)}">{html.escape(text["back"])}</a></p>'
            return page(lang, LABELS[lang]["title"], body + f'<p role="alert">{html.escape(exc.message)}</p>',
                        status=exc.status, csrf=user.csrf)  # fmt: skip
        notice = f'<p role="status">{html.escape(text[flash])}</p>' if flash else ""
        if alert or error:
            notice += f'<p role="alert">{html.escape(text[alert] if alert else error or "")}</p>'
        body = (
            f'<p><a href="{with_lang("/console/", lang)}">{html.escape(text["back"])}</a></p>{notice}'
            f"{self._summary(view, lang)}{self._actions(view, user, lang)}{self._conversation(view, lang)}"
            f"{self._person(view, lang)}{self._timeline(view, lang)}"
        )
        title = f"{text['case'].format(id=case_id)} · {LABELS[lang]['title']}"
        return page(lang, title, body, status=status, csrf=user.csrf, style=CASE_STYLE)

    def _summary(self, view: dict[str, Any], lang: str) -> str:
        text, case = CASE_LABELS[lang], view["case"]
        level = LABELS[lang].get(f"level.{case['level']}", case["level"])
        status = LABELS[lang].get(f"status.{case['status']}", case["status"])
        categories = ", ".join(case["categories"]) or text["none"]
        return (
            f"<h1>{html.escape(level)} · {html.escape(text['case'].format(id=case['id']))}</h1><dl>"
            f"<dt>{text['status']}</dt><dd>{html.escape(status)}</dd>"
            f"<dt>{text['tier']}</dt><dd>{html.escape(text.get('tier.' + case['tier'], case['tier']))}</dd>"
            f"<dt>{text['categories']}</dt><dd>{html.escape(categories)}</dd>"
            f"<dt>{text['deadline']}</dt><dd>{html.escape(self._local(case['claim_deadline']))}</dd></dl>"
        )

    def _actions(self, view: dict[str, Any], user: ConsoleUser, lang: str) -> str:
        text, case = CASE_LABELS[lang], view["case"]
        base = f"/console/cases/{int(case['id'])}"
        token = f'<input type="hidden" name="csrf" value="{html.escape(user.csrf)}">'

        def form(action: str, inner: str, button: str) -> str:
            return (
                f'<form method="post" action="{with_lang(f"{base}/{action}", lang)}">{token}{inner}'
                f'<button type="submit">{html.escape(text[button])}</button></form>'
            )

        follow = _date_field(text["follow_up"], case.get("follow_up_on") or "")
        if Status(case["status"]).is_closed:
            closed = f"<p>{html.escape(text['closed'])}</p>"
            return f"<section>{closed}</section><section>{form('follow-up', follow, 'set_follow_up')}</section>"
        parts = []
        if case["status"] == Status.OPEN:
            parts.append(form("claim", "", "claim"))
        parts.append(form("reply", _area("reply-text", "text", text["reply"], TEXT_MAX), "send"))
        if case["status"] != Status.OPEN:
            parts.append(form("hand-back", "", "hand_back"))
            if user.member.role in {"supervisor", "admin"}:
                to = f'<label for="reassign-to">{html.escape(text["reassign_to"])}</label>'
                to += '<input id="reassign-to" name="to" maxlength="80" autocomplete="off">'
                parts.append(form("reassign", to, "reassign"))
        parts.append(form("note", _area("note-text", "text", text["note"], TEXT_MAX), "add_note"))
        parts.append(form("follow-up", follow, "set_follow_up"))
        services = self._directory.for_region(view["person"].get("region"))
        options = "".join(
            f'<option value="{html.escape(s.id)}">{html.escape(s.name[lang])}'
            f"{html.escape((' ' + s.phone) if s.phone else '')}{html.escape('' if s.verified else text['unverified'])}"
            "</option>"
            for s in services
        )
        refer = _select("refer-to", "to", text["refer_to"], options) + _area(
            "refer-reason", "reason", text["reason"], REASON_MAX
        )
        parts.append(form("refer", refer, "refer"))
        choices = "".join(
            f'<option value="{html.escape(o.id)}">{html.escape(o.label[lang])}</option>'
            for o in self._directory.outcomes
        )
        resolve = _select("outcome", "outcome", text["outcome"], choices) + _area(
            "resolve-note", "text", text["resolve_note"], TEXT_MAX
        )
        parts.append(form("resolve", resolve, "resolve"))
        return "".join(f"<section>{p}</section>" for p in parts)

    def _conversation(self, view: dict[str, Any], lang: str) -> str:
        text = CASE_LABELS[lang]
        items = "".join(
            f'<li class="from-{html.escape(m["from"])}"><span class="who">'
            f"{html.escape(text.get('from.' + m['from'], m['from']))}</span> "
            f"<small>{html.escape(self._local(m['at']))}</small><br>{html.escape(m['text'])}</li>"
            for m in view["messages"]
        )
        return f'<section><h2>{text["conversation"]}</h2><ol class="log" role="log">{items}</ol></section>'

    def _person(self, view: dict[str, Any], lang: str) -> str:
        text, person = CASE_LABELS[lang], view["person"]
        rows = "".join(
            f"<dt>{text[key]}</dt><dd>{html.escape(str(person.get(key) or text['none']))}</dd>"
            for key in ("role", "school", "grade", "region", "channel")
        )
        plan = ""
        if view.get("safety_plan"):
            plan = (
                f"<h2>{text['plan']}</h2><dl>"
                + "".join(
                    f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in view["safety_plan"]
                )
                + "</dl>"
            )
        return f"<section><h2>{text['person']}</h2><dl>{rows}</dl>{plan}</section>"

    def _timeline(self, view: dict[str, Any], lang: str) -> str:
        text = CASE_LABELS[lang]
        items = "".join(
            f"<li>{html.escape(self._local(e['at']))} · {html.escape(str(e['kind']))}"
            f"{(' · ' + html.escape(str(e['detail']))) if e.get('detail') else ''}</li>"
            for e in view["events"]
        )
        return f'<section><h2>{text["timeline"]}</h2><ol class="log">{items}</ol></section>'

    def _local(self, moment: str) -> str:
        return datetime.fromisoformat(moment).astimezone(self._rt.settings.timezone).strftime("%m-%d %H:%M")


class _FormError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _area(element_id: str, name: str, label: str, limit: int) -> str:
    return (
        f'<label for="{element_id}">{html.escape(label)}</label>'
        f'<textarea id="{element_id}" name="{name}" maxlength="{limit}"></textarea>'
    )


def _date_field(label: str, current: str) -> str:
    return (
        f'<label for="follow-up-on">{html.escape(label)}</label>'
        f'<input type="date" id="follow-up-on" name="on" value="{html.escape(current)}">'
    )


def _select(element_id: str, name: str, label: str, options: str) -> str:
    label_html = f'<label for="{element_id}">{html.escape(label)}</label>'
    return f'{label_html}<select id="{element_id}" name="{name}">{options}</select>'
