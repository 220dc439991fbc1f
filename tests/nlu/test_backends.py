"""NLU backends: the embedded classifier, and a Rasa server over HTTP (a local server answering exactly as
Rasa's ``POST /model/parse`` documents) with the embedded model as fallback on every kind of failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.nlu.backends import EmbeddedBackend, RasaBackend
from bot.nlu.embedded import EmbeddedNlu
from bot.nlu.training_data import Example, TrainingData, parse_training_data, strip_annotations

EXAMPLES = {
    "greet": ["你好", "在吗", "哈喽", "hello", "hi there", "早上好"],
    "hotlines": ["热线电话是多少", "求助电话", "心理热线", "hotline number", "crisis line", "给我热线"],
    "set_role": ["我是家长", "我是学生", "我是老师", "I am a parent", "I'm a teacher", "我是孩子妈妈"],
}


def model() -> EmbeddedNlu:
    data = TrainingData([Example(t, i) for i, texts in EXAMPLES.items() for t in texts])
    data.lookups["role"] = ["家长", "学生", "老师", "parent", "teacher"]
    data.synonyms.update({"家长": "parent", "学生": "student", "老师": "teacher"})
    return EmbeddedNlu(data, str.casefold)


def rasa_answer(text: str, intent: str, confidence: float, entities: list[dict[str, Any]]) -> dict[str, Any]:
    """The shape Rasa documents for /model/parse."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities,
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "response_selector": {},
    }


@pytest.fixture
async def fake_rasa() -> AsyncIterator[tuple[TestServer, list[Any]]]:
    behaviour: list[Any] = ["ok"]
    received: list[dict[str, Any]] = []

    async def parse(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        mode = behaviour[0]
        if mode == "slow":
            await asyncio.sleep(2)
        if mode == "error":
            return web.json_response({"error": "model not loaded"}, status=500)
        if mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        if mode == "fallback":
            return web.json_response(rasa_answer(body["text"], "nlu_fallback", 0.3, []))
        entity = {"entity": "role", "value": "parent", "start": 2, "end": 4, "extractor": "DIETClassifier"}
        return web.json_response(rasa_answer(body["text"], "set_role", 0.97, [entity]))

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    server = TestServer(app)
    await server.start_server()
    try:
        yield server, [behaviour, received]
    finally:
        await server.close()


async def test_embedded_backend_understands_and_finds_entities() -> None:
    backend = EmbeddedBackend(model())
    understood = await backend.understand("我是家长")
    assert understood.intent == "set_role"
    assert understood.entity("role") == "parent"


@pytest.mark.parametrize("text", ["xyzzy", "嗷嗷嗷", "🙂🙂", "。。。"])
async def test_a_message_with_nothing_the_model_knows_is_unsure(text: str) -> None:
    understood = model().parse(text)
    assert (understood.intent, understood.confidence) == (None, 0.0)


async def test_payloads_are_read_exactly() -> None:
    understood = model().parse('/set_role{"role": "teacher"}')
    assert (understood.intent, understood.entity("role"), understood.source) == ("set_role", "teacher", "payload")


async def test_rasa_answer_is_used(fake_rasa: tuple[TestServer, list[Any]]) -> None:
    server, (_behaviour, received) = fake_rasa
    backend = RasaBackend(str(server.make_url("/")), 1.0, model())
    try:
        understood = await backend.understand("我是孩子的家长")
    finally:
        await backend.close()
    assert (understood.intent, understood.entity("role"), understood.source) == ("set_role", "parent", "rasa")
    assert received == [{"text": "我是孩子的家长"}]


@pytest.mark.parametrize("mode", ["slow", "error", "garbage"])
async def test_rasa_failures_fall_back_to_the_embedded_model(
    fake_rasa: tuple[TestServer, list[Any]], mode: str
) -> None:
    server, (behaviour, _received) = fake_rasa
    behaviour[0] = mode
    backend = RasaBackend(str(server.make_url("/")), 0.3, model())
    try:
        understood = await backend.understand("热线电话是多少")
    finally:
        await backend.close()
    assert (understood.intent, understood.source) == ("hotlines", "fallback")
    assert backend.failures == 1


async def test_rasa_unreachable_falls_back() -> None:
    backend = RasaBackend("http://127.0.0.1:9", 0.3, model())
    try:
        understood = await backend.understand("你好")
    finally:
        await backend.close()
    assert (understood.intent, understood.source) == ("greet", "fallback")


async def test_rasa_nlu_fallback_means_unsure(fake_rasa: tuple[TestServer, list[Any]]) -> None:
    server, (behaviour, _received) = fake_rasa
    behaviour[0] = "fallback"
    backend = RasaBackend(str(server.make_url("/")), 1.0, model())
    try:
        understood = await backend.understand("嗯……")
    finally:
        await backend.close()
    assert understood.intent is None


def test_rasa_annotations_are_read() -> None:
    text, entities = strip_annotations('我是[家长](role)，孩子读[初二]{"entity": "grade"}')
    assert text == "我是家长，孩子读初二"
    assert entities == (("role", "家长"), ("grade", "初二"))


def test_training_data_errors_name_the_line() -> None:
    from bot.core.content_error import ContentError

    with pytest.raises(ContentError, match="examples"):
        parse_training_data("nlu.yml", {"nlu": [{"intent": "greet"}]})


def test_fast_scoring_equals_scikit_learn() -> None:
    import numpy as np

    nlu = model()
    for text in ["你好呀", "热线号码", "我是家长", "something else entirely", ""]:
        folded = text.casefold()
        expected = nlu._model.predict_proba([folded])[0]
        assert np.allclose(nlu.probabilities(folded), expected, atol=1e-12)


def test_grades_include_hong_kong_forms_but_not_words_that_contain_them():
    nlu = model()
    assert nlu.parse("我读中三").entity("grade") == "中三"
    assert nlu.parse("i'm in form 5").entity("grade") == "form 5"
    assert nlu.parse("其中一个同学").entity("grade") is None
    assert nlu.parse("读初二").entity("grade") == "初二"


def test_hong_kong_forms_are_junior_and_senior_secondary():
    from bot.core.dialogue import Who

    assert Who("zh", grade="中二").audience == "student_junior"
    assert Who("zh", grade="中五").audience == "student_senior"
    assert Who("en", grade="form 1").audience == "student_junior"
