"""The console's pages: signing in and out, and the queue of the cases in the viewer's scope. Server-rendered HTML
(no script needed to sign in), Chinese by default and English with ``?lang=en``; controls carry the accessible
names automation uses (DESIGN.md §5)."""

from __future__ import annotations

import html
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.core.cases import Status
from bot.service.casework import Casework
from bot.service.console_auth import ConsoleAuth, ConsoleUser, Outcome
from bot.service.runtime import Runtime

# The session cookie (its token is a bearer secret; only its hash is stored) and the sign-in form's own CSRF cookie
# (double submit: the form carries the same random value, which another site cannot read).
SESSION_COOKIE = "xq_console"
SIGN_IN_COOKIE = "xq_sign_in"
CSRF_HEADER = "X-CSRF-Token"
OPEN_STATUSES = [s for s in Status if not s.is_closed]
QUEUE_PAGE = 50
LEVEL_ORDER = ("red", "orange", "yellow")
SCRIPT = '<script src="/console/static/console.js" defer></script>'
STATIC = Path(__file__).resolve().parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "心桥 · 心理老师工作台",
        "sign_in_title": "登录工作台",
        "username": "用户名",
        "password": "密码",
        "code": "动态验证码（账号开启了才需要）",
        "sign_in": "登录",
        "sign_out": "退出登录",
        "wrong": "用户名、密码或验证码不对。",
        "locked": "尝试次数太多，账号暂时锁定。请 {minutes} 分钟后再试，或联系管理员。",
        "expired": "这个页面已经过期，请重新输入后再登录。",
        "bad_form": "没有读懂提交的内容，请重新输入。",
        "queue": "待处理的个案",
        "empty": "你的范围内暂时没有待处理的个案。",
        "signed_in_as": "当前账号：{name}",
        "level.red": "红色",
        "level.orange": "橙色",
        "level.yellow": "黄色",
        "opened": "开启于 {time}",
        "deadline": "认领时限 {time}",
        "overdue": "已超时",
        "status.open": "待认领",
        "status.claimed": "已认领",
        "status.active": "处理中",
        "switch": "English",
        "more": "共 {total} 个，显示第 {shown} 个",
        "all": "全部",
        "filter": "筛选",
        "filter.level": "等级",
        "filter.status": "状态",
        "filter.tier": "层级",
        "filter.school": "学校",
        "tier.school": "学校",
        "tier.district": "区",
        "tier.city": "市",
        "previous": "上一页",
        "next": "下一页",
        "new_red": "有新的红色个案，请马上查看。",
        "due": "今天该追踪的个案",
        "left": "还剩 {m} 分钟认领",
        "late": "已超时 {m} 分钟",
        "sound": "新红色个案时响铃",
    },
    "en": {
        "title": "Xinqiao · counselor console",
        "sign_in_title": "Sign in to the console",
        "username": "Username",
        "password": "Password",
        "code": "One-time code (only if your account uses one)",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "wrong": "The username, password or one-time code is not right.",
        "locked": "Too many attempts: the account is locked for now. Try again in {minutes} min, or ask an admin.",
        "expired": "This page had expired. Please enter your details again.",
        "bad_form": "The form could not be read. Please enter your details again.",
        "queue": "Cases waiting",
        "empty": "No open cases in your scope right now.",
        "signed_in_as": "Signed in as {name}",
        "level.red": "red",
        "level.orange": "orange",
        "level.yellow": "yellow",
        "opened": "opened {time}",
        "deadline": "claim by {time}",
        "overdue": "overdue",
        "status.open": "waiting",
        "status.claimed": "claimed",
        "status.active": "in progress",
        "switch": "中文",
        "more": "{shown} of {total}",
        "all": "all",
        "filter": "Filter",
        "filter.level": "Level",
        "filter.status": "Status",
        "filter.tier": "Tier",
        "filter.school": "School",
        "tier.school": "school",
        "tier.district": "district",
        "tier.city": "city",
        "previous": "Previous",
        "next": "Next",
        "new_red": "A new red case: please look now.",
        "due": "Follow-ups due",
        "left": "{m} min left to claim",
        "late": "overdue by {m} min",
        "sound": "Sound for new red cases",
    },
}
_SAFE = {"X-Content-Type-Options": "nosniff"}
STYLE = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2733;background:#f4f6f8}
main{max-width:44rem;margin:0 auto;padding:1rem}h1{font-size:1.3rem}label{display:block;margin-top:.8rem}
input{width:100%;padding:.6rem;font-size:1rem;border:1px solid #8a96a3;border-radius:.4rem}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:.4rem;background:#1f5f8b;color:#fff}
[role=alert]{background:#fdecea;border-left:4px solid #b3261e;padding:.6rem;margin:.8rem 0}
ul.queue{list-style:none;padding:0}ul.queue li{background:#fff;margin:.5rem 0;padding:.7rem;border-radius:.4rem;
border-left:.5rem solid #8a96a3}li.red{border-left-color:#b3261e}li.orange{border-left-color:#c76b00}
li.yellow{border-left-color:#b59a00}form.filters{display:flex;flex-wrap:wrap;gap:.4rem;align-items:end}
form.filters label{margin:0}form.filters select,form.filters input{width:auto;min-width:6rem}
li.empty{border-left-color:transparent}label.inline{display:inline}
label.inline input{width:auto}.overdue{color:#b3261e;font-weight:600}header{display:flex;gap:1rem;
flex-wrap:wrap;align-items:center;justify-content:space-between}a{color:#1f5f8b}
"""


class ConsolePages:
    """The sign-in page, sign-out and the queue page."""

    def __init__(self, runtime: Runtime, auth: ConsoleAuth, casework: Casework) -> None:
        self._rt = runtime
        self._auth = auth
        self._work = casework

    def routes(self) -> list[web.AbstractRouteDef]:
        """The console's page routes."""
        return [
            web.get("/console", self.home),
            web.get("/console/", self.queue),
            web.get("/console/login", self.sign_in_form),
            web.post("/console/login", self.sign_in),
            web.post("/console/logout", self.sign_out),
            web.get("/console/static/console.js", self.script),
        ]

    async def script(self, _request: web.Request) -> web.StreamResponse:
        """The queue's live updates (the only script; the console works without it)."""
        return web.FileResponse(STATIC / "console.js", headers={"Cache-Control": "no-cache", **_SAFE})

    async def home(self, request: web.Request) -> web.StreamResponse:
        """``/console`` is ``/console/``."""
        raise web.HTTPSeeOther(with_lang("/console/", lang_of(request)))

    async def sign_in_form(self, request: web.Request) -> web.StreamResponse:
        """The sign-in form, with a fresh form token."""
        return self._form(request, lang_of(request), status=200, message=None)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        """Check the form's token, then the name, password and one-time code; a session cookie when they hold."""
        lang = lang_of(request)
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError):
            return self._form(request, lang, status=400, message="bad_form")
        sent = form.get("csrf")
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
            return self._form(request, lang, status=403, message="expired")
        fields = [form.get(name) for name in ("username", "password", "code")]
        if not all(isinstance(v, str) for v in fields[:2]) or not isinstance(fields[2], str | None):
            return self._form(request, lang, status=400, message="bad_form")
        username, password, code = (str(v or "") for v in fields)
        result = await self._auth.sign_in(username, password, code)
        if result.outcome is Outcome.LOCKED:
            minutes = max(1, -(-(result.retry_after or 60) // 60))
            response = self._form(request, lang, status=429, message="locked", minutes=minutes)
            response.headers["Retry-After"] = str(result.retry_after or 60)
            return response
        if result.outcome is not Outcome.SIGNED_IN or result.token is None:
            return self._form(request, lang, status=401, message="wrong")
        response = see_other(with_lang("/console/", lang))
        response.set_cookie(SESSION_COOKIE, result.token, path="/", httponly=True, samesite="Strict",
                            secure=_https(request))  # fmt: skip
        response.del_cookie(SIGN_IN_COOKIE, path="/console")
        return response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        """End the session (the form carries the session's CSRF token)."""
        lang = lang_of(request)
        token = request.cookies.get(SESSION_COOKIE, "")
        user = await self._auth.user(token)
        if user is not None:
            try:
                form = await request.post()
            except (ValueError, UnicodeDecodeError):
                form = None
            sent = form.get("csrf") if form is not None else None
            if not isinstance(sent, str) or not secrets.compare_digest(sent, user.csrf):
                raise web.HTTPForbidden(text="CSRF token missing or wrong", headers=HEADERS)
            await self._auth.sign_out(token, user.member)
        response = see_other(with_lang("/console/login", lang))
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    async def queue(self, request: web.Request) -> web.StreamResponse:
        """The open cases in the viewer's scope, most urgent first, or the way to the sign-in form."""
        lang = lang_of(request)
        user = await self._auth.user(request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            raise web.HTTPSeeOther(with_lang("/console/login", lang))
        chosen = _filters(request)
        cases, total = await self._work.queue(
            user.member,
            statuses=[chosen["status"]] if chosen["status"] else [str(s) for s in OPEN_STATUSES],
            levels=[chosen["level"]] if chosen["level"] else [],
            limit=QUEUE_PAGE,
            offset=int(chosen["offset"] or 0),
            school=chosen["school"] or None,
            tier=chosen["tier"] or None,
        )
        due = await self._work.follow_ups(user.member)
        body = self._queue_body(user, cases, total, lang, chosen) + self._due_body(due, lang)
        return page(lang, LABELS[lang]["title"], body, csrf=user.csrf, script=True)

    def _queue_body(
        self, user: ConsoleUser, cases: list[dict[str, Any]], total: int, lang: str, chosen: dict[str, str]
    ) -> str:
        text = LABELS[lang]
        now = self._rt.clock()
        items = []
        for case in cases:
            level = str(case["level"])
            deadline = datetime.fromisoformat(case["claim_deadline"])
            late = case["status"] == Status.OPEN and deadline < now
            when = self._local(deadline)
            status = text.get(f"status.{case['status']}", str(case["status"]))
            categories = "、".join(case["categories"]) if lang == "zh" else ", ".join(case["categories"])
            name = html.escape(text.get(f"level.{level}", level))
            href = with_lang(f"/console/cases/{int(case['id'])}", lang)
            opened = text["opened"].format(time=self._local(datetime.fromisoformat(case["opened_at"])))
            due = text["overdue"] if late else text["deadline"].format(time=when)
            items.append(
                f'<li class="{html.escape(level)}"><a href="{href}" aria-label="{name}">{name} #{int(case["id"])}</a>'
                f" · {html.escape(status)} · {html.escape(categories)}<br><small>{html.escape(opened)} · "
                f"<span{' class=overdue' if late else ''}{_countdown(case)}>{html.escape(due)}</span></small></li>"
            )
        empty = "" if items else f'<li class="empty">{html.escape(text["empty"])}</li>'
        clocks = f'data-left="{html.escape(text["left"])}" data-late="{html.escape(text["late"])}"'
        listing = f'<ul class="queue" id="queue" aria-live="polite" {clocks}>{"".join(items)}{empty}</ul>'
        live = (
            f'<p id="live-alert" role="alert" hidden data-red="{html.escape(text["new_red"])}"></p>'
            f'<label class="inline"><input type="checkbox" id="sound"> {html.escape(text["sound"])}</label>'
        )
        more = _paging(text, total, len(cases), chosen, lang)
        other = "en" if lang == "zh" else "zh"
        return (
            f"<header><span>{html.escape(text['signed_in_as'].format(name=user.member.name))}</span>"
            f'<a href="/console/?lang={other}" lang="{other}">{html.escape(text["switch"])}</a>'
            f'<form method="post" action="{with_lang("/console/logout", lang)}">'
            f'<input type="hidden" name="csrf" value="{html.escape(user.csrf)}">'
            f'<button type="submit">{html.escape(text["sign_out"])}</button></form></header>'
            f"<h1>{html.escape(text['queue'])}</h1>{live}{_filter_form(text, chosen, lang)}{listing}{more}"
        )

    def _due_body(self, due: list[dict[str, Any]], lang: str) -> str:
        if not due:
            return ""
        text = LABELS[lang]
        rows = []
        for c in due:
            href = with_lang(f"/console/cases/{int(c['id'])}", lang)
            late = f" · <span class=overdue>{html.escape(text['overdue'])}</span>" if c["overdue"] else ""
            rows.append(
                f'<li class="{html.escape(str(c["level"]))}"><a href="{href}">#{int(c["id"])}</a> · '
                f"{html.escape(str(c['follow_up_on']))}{late}</li>"
            )
        items = "".join(rows)
        return f'<h2>{html.escape(text["due"])}</h2><ul class="queue" id="due">{items}</ul>'

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self._rt.settings.timezone).strftime("%m-%d %H:%M")

    def _form(
        self, request: web.Request, lang: str, *, status: int, message: str | None, **values: Any
    ) -> web.Response:
        text = LABELS[lang]
        token = secrets.token_urlsafe(32)
        alert = f'<p role="alert">{html.escape(text[message].format(**values))}</p>' if message else ""
        other = "en" if lang == "zh" else "zh"
        body = (
            f"<h1>{html.escape(text['sign_in_title'])}</h1>{alert}"
            f'<form method="post" action="{with_lang("/console/login", lang)}">'
            f'<input type="hidden" name="csrf" value="{token}">'
            f'<label for="username">{html.escape(text["username"])}</label>'
            '<input id="username" name="username" autocomplete="username" required maxlength="80" autofocus>'
            f'<label for="password">{html.escape(text["password"])}</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password" required '
            'maxlength="256">'
            f'<label for="code">{html.escape(text["code"])}</label>'
            '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="12">'
            f'<button type="submit">{html.escape(text["sign_in"])}</button></form>'
            f'<p><a href="/console/login?lang={other}" lang="{other}">{html.escape(text["switch"])}</a></p>'
        )
        response = page(lang, text["title"], body, status=status)
        response.set_cookie(SIGN_IN_COOKIE, token, path="/console", httponly=True, samesite="Strict",
                            secure=_https(request))  # fmt: skip
        return response


async def console_user(auth: ConsoleAuth, request: web.Request) -> ConsoleUser | None:
    """The signed-in console user of a request carrying the session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    return await auth.user(token) if token else None


def csrf_holds(request: web.Request, user: ConsoleUser) -> bool:
    """Whether a request that changes something carries the session's CSRF token (header from the page)."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return True
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and secrets.compare_digest(sent, user.csrf)


def page(
    lang: str,
    title: str,
    body: str,
    *,
    status: int = 200,
    csrf: str | None = None,
    style: str = "",
    script: bool = False,
) -> web.Response:
    """A console page: the shared head (viewport, CSRF meta, style) around ``body``."""
    meta = f'<meta name="csrf-token" content="{html.escape(csrf)}">' if csrf else ""
    document = (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{html.escape(title)}</title><style>{STYLE}{style}</style>"
        f"{SCRIPT if script else ''}</head><body><main>{body}</main></body></html>"
    )
    return web.Response(text=document, status=status, content_type="text/html", headers=HEADERS)


FILTERS = {
    "level": ("red", "orange", "yellow"),
    "status": tuple(str(s) for s in OPEN_STATUSES),
    "tier": ("school", "district", "city"),
}


def _countdown(case: dict[str, Any]) -> str:
    """The claim deadline for the page's ticking countdown (only while the case waits to be claimed)."""
    if case["status"] != Status.OPEN:
        return ""
    return f' data-deadline="{html.escape(str(case["claim_deadline"]))}"'


def _filters(request: web.Request) -> dict[str, str]:
    """The queue filters of the query string; anything not on the lists is ignored, not an error page."""
    chosen = {name: request.query.get(name, "") for name in FILTERS}
    chosen = {name: value if value in FILTERS[name] else "" for name, value in chosen.items()}
    school = request.query.get("school", "").strip()
    chosen["school"] = school[:40] if school.replace("-", "").replace("_", "").isalnum() else ""
    offset = request.query.get("offset", "")
    chosen["offset"] = offset if offset.isdigit() and int(offset) < 100_000 else ""
    return chosen


def _filter_form(text: dict[str, str], chosen: dict[str, str], lang: str) -> str:
    def select(name: str) -> str:
        options = f'<option value="">{html.escape(text["all"])}</option>' + "".join(
            f'<option value="{v}"{" selected" if chosen[name] == v else ""}>{html.escape(text.get(f"{name}.{v}", v))}'
            "</option>"
            for v in FILTERS[name]
        )
        label = html.escape(text[f"filter.{name}"])
        return f'<label for="f-{name}">{label}</label><select id="f-{name}" name="{name}">{options}</select>'

    hidden = '<input type="hidden" name="lang" value="en">' if lang == "en" else ""
    school = (
        f'<label for="f-school">{html.escape(text["filter.school"])}</label>'
        f'<input id="f-school" name="school" maxlength="40" value="{html.escape(chosen["school"])}">'
    )
    return (
        f'<form method="get" action="/console/" class="filters">{hidden}{select("level")}{select("status")}'
        f'{select("tier")}{school}<button type="submit">{html.escape(text["filter"])}</button></form>'
    )


def _paging(text: dict[str, str], total: int, shown: int, chosen: dict[str, str], lang: str) -> str:
    offset = int(chosen["offset"] or 0)
    if total <= shown and offset == 0:
        return ""
    query = {k: v for k, v in chosen.items() if v and k != "offset"} | ({"lang": "en"} if lang == "en" else {})
    links = []
    for label, start, shows in (
        ("previous", max(0, offset - QUEUE_PAGE), offset > 0),
        ("next", offset + QUEUE_PAGE, offset + shown < total),
    ):
        if shows:
            links.append(f'<a href="/console/?{urlencode(query | {"offset": start})}">{html.escape(text[label])}</a>')
    counted = html.escape(text["more"].format(shown=f"{offset + 1}-{offset + shown}", total=total))
    return f"<p>{counted} {' '.join(links)}</p>"


def see_other(location: str) -> web.Response:
    """A 303 to ``location`` as a response (not the raised HTTPSeeOther), so that cookies can be set on it."""
    return web.Response(status=303, headers={"Location": location, **HEADERS})


def lang_of(request: web.Request) -> str:
    """The console's language for this request: English with ``?lang=en``, else Chinese."""
    return "en" if request.query.get("lang") == "en" else "zh"


def with_lang(path: str, lang: str) -> str:
    """``path`` with the language kept (``?lang=en``)."""
    return f"{path}?lang=en" if lang == "en" else path


def _https(request: web.Request) -> bool:
    # Behind a reverse proxy the scheme arrives in X-Forwarded-Proto; it can only make the cookie stricter.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
