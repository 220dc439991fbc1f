"""Ranking approved articles for a free question: Okapi BM25 over Chinese character unigrams and bigrams and
Latin words, with title, summary and topic keywords weighted above the body."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.library import Article, Library

_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no topic in a question; everything else counts.
_STOP = frozenset((
    "的", "了", "吗", "呢", "吧", "啊", "我", "你", "他", "她", "它", "是", "在", "有", "和", "就", "都", "也", "要",
    "会", "能", "怎么", "怎么办", "什么", "如何", "可以", "应该", "一个", "这个", "那个",
    "the", "a", "an", "of", "to", "and", "or", "is", "are", "am", "be", "i", "my", "me", "you", "your", "it", "what",
    "how", "do", "does", "can", "should", "with", "for", "on", "in", "at", "about",
))  # fmt: skip
K1, B = 1.4, 0.75
AUDIENCE_PREFERENCE = 1.3  # an article for someone else must score this much better to rank first
# An article on what the conversation is about (a follow-up question that does not say it) counts as matching at
# least this much, and is preferred by this factor.
TOPIC_FLOOR, TOPIC_PREFERENCE = 10.0, 2.0
FIELD_WEIGHTS = {"title": 3, "summary": 2, "topics": 2, "body": 1}


def tokens(text: str) -> list[str]:
    """Character unigrams and bigrams of Chinese runs, and Latin words (a plural -s dropped), minus stop words."""
    found: list[str] = []
    for run in _HAN_RUN.findall(text):
        found.extend(ch for ch in run if ch not in _STOP)
        found.extend(run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in _STOP)
    for word in _WORD.findall(text):
        if word in _STOP:
            continue
        found.append(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return found


@dataclass(frozen=True, slots=True)
class Hit:
    """An article and how well it answers the question."""

    article: Article
    score: float


class ArticleIndex:
    """BM25 index over the approved articles of a library."""

    def __init__(
        self, library: Library, topic_keywords: Mapping[str, Sequence[str]], fold: Callable[[str], str]
    ) -> None:
        self._fold = fold
        self.library = library
        self._keywords = {topic: tuple(fold(w) for w in words) for topic, words in topic_keywords.items()}
        self._articles = library.served
        self._docs: list[Counter[str]] = []
        for article in self._articles:
            keywords = " ".join(word for topic in article.topics for word in topic_keywords.get(topic, ()))
            weighted: Counter[str] = Counter()
            for name, text in (
                ("title", article.title),
                ("summary", article.summary),
                ("topics", keywords),
                ("body", article.body),
            ):
                for token in tokens(fold(text)):
                    weighted[token] += FIELD_WEIGHTS[name]
            self._docs.append(weighted)
        lengths = [sum(doc.values()) for doc in self._docs]
        average = sum(lengths) / len(lengths) if lengths else 1.0
        count = len(self._docs)
        # Inverted index of each token's BM25 term weight per document, computed once: a search then only
        # touches the documents that share a token with the question.
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for index, doc in enumerate(self._docs):
            norm = K1 * (1 - B + B * lengths[index] / average)
            for token, tf in doc.items():
                self._postings.setdefault(token, []).append((index, tf * (K1 + 1) / (tf + norm)))
        self._idf = {t: math.log(1 + (count - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._postings.items()}

    def names_topic(self, question: str, topics: Sequence[str]) -> bool:
        """Whether ``question`` says one of the keywords of ``topics`` (压力, 睡不着, died): evidence that a search
        hit is about what was said, not a chance overlap of common characters."""
        folded = self._fold(question)
        return any(word and word in folded for topic in topics for word in self._keywords.get(topic, ()))

    def search(
        self,
        question: str,
        *,
        lang: str | None = None,
        audience: str | None = None,
        strict_audience: bool = True,
        limit: int = 5,
        topic: str | None = None,
    ) -> list[Hit]:
        """The best ``limit`` approved articles for ``question`` in ``lang``. With ``strict_audience`` only
        articles for ``audience``; otherwise theirs rank higher but others still answer (chat: a teacher asking
        how to teach life education is also served by a piece written for pupils). ``topic``: what the
        conversation is about (a parent's follow-up, 我该怎么跟她开口, after reporting marks on a daughter's arm)."""
        query = Counter(tokens(self._fold(question)))
        if not query:
            return []
        scores: dict[int, float] = {}
        for token, repeats in query.items():
            postings = self._postings.get(token)
            if postings is None:
                continue
            weight = self._idf[token] * repeats
            for index, term in postings:
                scores[index] = scores.get(index, 0.0) + weight * term
        hits = []
        if topic is not None:
            for index, article in enumerate(self._articles):
                if topic in article.topics:
                    scores[index] = max(scores.get(index, 0.0), TOPIC_FLOOR)
        for index, raw in scores.items():
            article = self._articles[index]
            score = raw * TOPIC_PREFERENCE if topic is not None and topic in article.topics else raw
            if lang is not None and article.lang != lang:
                continue
            for_them = audience is None or audience in article.audience
            if strict_audience and not for_them:
                continue
            if score > 0:
                hits.append(Hit(article, score if for_them else score / AUDIENCE_PREFERENCE))
        hits.sort(key=lambda hit: (-hit.score, hit.article.id))
        return hits[:limit]
