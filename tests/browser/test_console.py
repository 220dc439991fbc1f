"""The console's sign-in and queue in a real headless browser, driven by the accessible names of DESIGN.md §5."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import Browser, Page, expect

from bot.channels.embed_token import sign
from bot.service.console_auth import hash_password
from bot.store.console_sessions import set_password
from tests.service.conftest import Service

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PASSWORD = "night-shift-2026"  # noqa: S105 - a test account's password
RED = "我不想活了，药都准备好了，今晚就吃"


async def counselor(service: Service, name: str, school: str) -> None:
    await service.staff(name, school=school)
    async with service.runtime.db.transaction() as session:
        await set_password(session, name, hash_password(PASSWORD))


async def sign_in(service: Service, browser: Browser, name: str, password: str) -> Page:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(str(service.client.make_url("/console/login?lang=en")))
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def test_a_counselor_signs_in_on_a_phone_and_finds_the_red_case(service: Service, browser: Browser) -> None:
    await counselor(service, "wang", "nn-001")
    context = sign({"school": "nn-001", "region": "450102", "exp": time.time() + 600}, "school-site-secret")
    await service.say("r" * 24, RED, context=context)
    page = await sign_in(service, browser, "wang", PASSWORD)
    await expect(page.get_by_role("heading", name="Cases waiting")).to_be_visible()
    await expect(page.get_by_role("link", name="red")).to_be_visible()
    # Phone layout first: nothing wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Username")).to_be_visible()


async def test_a_wrong_password_is_said_and_keyboard_only_sign_in_works(service: Service, browser: Browser) -> None:
    await counselor(service, "li", "nn-002")
    page = await sign_in(service, browser, "li", "wrong-password")
    await expect(page.get_by_role("alert")).to_contain_text("not right")
    await page.get_by_label("Username").fill("li")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Cases waiting")).to_be_visible()
    await expect(page.get_by_text("No open cases in your scope")).to_be_visible()


async def test_a_red_case_arrives_live_and_is_worked_to_the_end(service: Service, browser: Browser) -> None:
    await counselor(service, "zhou", "nn-003")
    page = await sign_in(service, browser, "zhou", PASSWORD)
    await expect(page.get_by_text("No open cases in your scope")).to_be_visible()
    context = sign({"school": "nn-003", "region": "450102", "exp": time.time() + 600}, "school-site-secret")
    await service.say("s" * 24, RED, context=context)
    # Within 2 s through the event stream, with an alert and the red count in the tab title.
    await expect(page.get_by_role("link", name="red")).to_be_visible(timeout=2000)
    await expect(page.locator("#live-alert")).to_contain_text("new red case")
    await expect(page).to_have_title(re.compile(r"^\(1\) "))
    # The claim deadline ticks in minutes (the test service's clock is a fixed day, so it reads as overdue here).
    await expect(page.locator("[data-deadline]").first).to_contain_text(re.compile(r"\d+ min"))
    await page.get_by_role("link", name="red").click()
    await expect(page.get_by_text("药都准备好了")).to_be_visible()
    await page.get_by_role("button", name="Claim").click()
    await expect(page.get_by_role("status")).to_contain_text("Done")
    await page.get_by_role("textbox", name="Reply").fill("I'm here with you. Are you somewhere safe right now?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("status")).to_contain_text(re.compile("Delivered|Saved"))
    await page.get_by_label("Outcome").select_option("emergency_services")
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.get_by_text("This case is closed.")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
