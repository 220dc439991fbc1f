"""The chat page in a real headless browser: the person's side of the web chat."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect
from sqlalchemy import func, select

from bot.store.models import Message, User
from tests.service.conftest import Service

RED = "我不想活了，药都准备好了，今晚就吃"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def open_chat(service: Service, browser: Browser, query: str = "") -> Page:
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(str(service.client.make_url("/" + query)))
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    return page


async def send(page: Page, text: str) -> None:
    await page.fill("#input", text)
    await page.click("#send")


async def test_greeting_red_message_and_hotline_always_visible(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await expect(page.locator(".msg.bot").first).to_contain_text("心桥")
    hotline = page.locator("#hotline")
    await expect(hotline).to_be_visible()
    await expect(hotline).to_contain_text("12356")
    await send(page, RED)
    await expect(page.locator(".msg.user").last).to_contain_text("不想活")
    await expect(page.locator(".msg.bot").last).to_contain_text("12356")
    for _ in range(15):  # a long conversation scrolls the log, never the hotline banner
        await send(page, "嗯")
    await expect(hotline).to_be_in_viewport()
    admin = await service.staff("boss", "admin")
    cases = (await service.api("GET", "/api/v1/cases", admin))[1]["cases"]
    assert [c["level"] for c in cases] == ["red"]


async def test_buttons_and_the_english_switch(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await page.locator(".choices button", has_text="热线电话").first.click()
    await expect(page.locator(".msg.bot").last).to_contain_text("12356")
    await page.click("#lang-toggle")
    await expect(page.locator("#send")).to_have_text("Send")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".msg.bot").last).to_contain_text("English")


async def test_counselor_reply_appears_live_with_its_label(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser, "?region=450100")
    await send(page, RED)
    await expect(page.locator(".msg.bot").last).to_contain_text("0771")
    token = await service.staff("li")
    case_id = (await service.api("GET", "/api/v1/cases", token))[1]["cases"][0]["id"]
    assert (await service.api("POST", f"/api/v1/cases/{case_id}/claim", token))[0] == 200
    await expect(page.locator(".msg.system").last).to_contain_text("学校心理老师")
    await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "我在，你现在在哪里？"})
    counselor = page.locator(".msg.counselor").last
    await expect(counselor).to_contain_text("我在，你现在在哪里？")
    await expect(counselor.locator(".who")).to_have_text("心理老师")


async def test_markup_in_messages_is_shown_as_text(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await send(page, "<img src=x onerror=\"document.title='pwned'\">")
    await expect(page.locator(".msg.user").last).to_contain_text("<img src=x")
    assert await page.title() != "pwned"
    assert await page.locator(".log img").count() == 0


async def test_overlong_message_cannot_be_typed_past_the_limit(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await page.fill("#input", "好" * 5000)
    assert len(await page.input_value("#input")) == 4096


async def test_article_answers_link_to_the_full_page(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await send(page, "怎样帮孩子适应小学")
    link = page.locator(".msg.bot a[href^='/articles/']").last
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    article = await browser.new_page()
    await article.goto(str(service.client.make_url(str(href))))
    await expect(article.locator("main.article-page h1")).to_be_visible()
    await expect(article.locator("main.article-page")).to_contain_text("12356")


async def test_ending_the_chat_forgets_it_on_this_device(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await expect(page.locator("#privacy-note")).to_contain_text("结束对话")
    await send(page, RED)
    await expect(page.locator(".msg.bot").last).to_contain_text("12356")
    before = await page.evaluate("localStorage.getItem('xinqiao.session')")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="结束对话").click()
    await expect(page.locator(".msg.user")).to_have_count(0)
    await expect(page.locator(".msg.system").first).to_contain_text("对话已结束")
    after = await page.evaluate("localStorage.getItem('xinqiao.session')")
    assert after != before
    # The next person on this computer is greeted as new, and a counselor's reply to the old chat is not theirs.
    await expect(page.locator(".msg.bot").first).to_contain_text("心桥")
    token = await service.staff("li")
    case_id = (await service.api("GET", "/api/v1/cases", token))[1]["cases"][0]["id"]
    await service.api("POST", f"/api/v1/cases/{case_id}/claim", token)
    await service.api("POST", f"/api/v1/cases/{case_id}/reply", token, {"text": "只给上一位同学的话"})
    await page.reload()
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(page.locator(".msg.bot").first).to_be_visible()
    assert "只给上一位同学的话" not in await page.locator("#log").inner_text()
    assert "不想活" not in await page.locator("#log").inner_text()
    bot_messages = await page.locator(".msg.bot").count()
    await send(page, "你好")
    await expect(page.locator(".msg.bot")).to_have_count(bot_messages + 1)
    async with service.runtime.db.reading() as session:
        people = await session.scalar(select(func.count()).select_from(User).where(User.channel == "web"))
    assert people == 2  # the next message came from a new person, not from the ended conversation


async def test_the_page_keeps_sending_its_language_after_the_switch(service: Service, browser: Browser) -> None:
    page = await open_chat(service, browser)
    await page.click("#lang-toggle")
    await expect(page.locator(".msg.bot").last).to_contain_text("English")
    await send(page, "/hotlines")
    await expect(page.locator(".msg.bot").last).to_contain_text("call 110 (police)")
    await expect(page.locator("#privacy-note")).to_contain_text("End chat")
    await expect(page.get_by_role("button", name="End chat")).to_be_visible()


async def test_a_reply_lost_with_the_socket_comes_after_the_page_reconnects(service: Service, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    dropped: list[str] = []
    closing: list[asyncio.Future[None]] = []

    def route(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if not dropped and isinstance(message, str) and "12356" in message:
                # The socket dies after the server answered and before the page heard it (a restart, a tunnel).
                dropped.append(message)
                closing.append(asyncio.ensure_future(page_side.close()))
                return
            page_side.send(message)

        server_side.on_message(from_server)

    await page.route_web_socket("**/api/v1/web/ws", route)
    await page.goto(str(service.client.make_url("/")))
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await send(page, RED)
    await expect(page.locator(".msg.bot").last).to_contain_text("12356", timeout=10_000)
    assert dropped
    await asyncio.gather(*closing)
    async with service.runtime.db.reading() as session:
        stored = list(await session.scalars(select(Message.external_id).where(Message.direction == "in")))
    assert len(stored) == 1  # sent twice with the same id, stored once
