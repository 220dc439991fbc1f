"""The full article pages at ``/articles/{id}``, linked from chat: plain HTML from the article's Markdown."""

from __future__ import annotations

import html
from collections.abc import Mapping

from aiohttp import web
from markdown_it import MarkdownIt

from bot.core.library import Library

# "js-default" escapes any raw HTML in the Markdown: editors write text, never markup.
_MARKDOWN = MarkdownIt("js-default")


class ArticlePages:
    """Serves approved articles; drafts and unknown ids are 404."""

    def __init__(self, library: Library, help_line: Mapping[str, str]) -> None:
        self._library = library
        self._help_line = help_line

    def routes(self) -> list[web.AbstractRouteDef]:
        """The page route."""
        return [web.get("/articles/{id}", self.page)]

    async def page(self, request: web.Request) -> web.Response:
        """One article as a page."""
        article = self._library.get(request.match_info["id"])
        if article is None:
            raise web.HTTPNotFound(text="article not found")
        lang = "zh-CN" if article.lang == "zh" else "en"
        body = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{html.escape(article.title)}</title>"
            f'<link rel="stylesheet" href="/static/chat.css"></head><body><main class="article-page">'
            f'<h1>{html.escape(article.title)}</h1><p class="summary">{html.escape(article.summary)}</p>'
            f"{_MARKDOWN.render(article.body)}"
            f'<p class="help">{html.escape(self._help_line[article.lang])} '
            f'<a href="/hotlines?lang={article.lang}">12356 · 110 · 120</a></p></main></body></html>'
        )
        return web.Response(text=body, content_type="text/html")
