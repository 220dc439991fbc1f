"""Recently seen people and their recent messages, kept in memory between messages so that an ordinary
message costs one write. Valid for one serving process (DESIGN.md: `xinqiao serve` is one process); anything
that changes a person's case or pending messages outside the pipeline calls ``forget``."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from bot.core.dialogue import DialogueState
from bot.store.people import Person

Key = tuple[str, str]  # (channel, external id)


class PersonCache:
    """LRU of ``Person`` and of each conversation's last messages, plus one lock per person so that one person's
    messages are handled one at a time and in order."""

    def __init__(self, capacity: int = 20_000, history: int = 12) -> None:
        self._capacity = capacity
        self._history = history
        self._people: OrderedDict[Key, Person] = OrderedDict()
        self._texts: OrderedDict[int, deque[str]] = OrderedDict()
        self._states: dict[int, DialogueState] = {}
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}
        # Bumped by every ``forget``: a pipeline that read a person before a forget must not put back what it read.
        self.epoch = 0

    def get(self, key: Key) -> Person | None:
        """A copy of the cached person (callers change the copy and ``put`` it back after their commit)."""
        person = self._people.get(key)
        if person is None:
            return None
        self._people.move_to_end(key)
        return replace(person)

    def put(self, key: Key, person: Person, epoch: int) -> None:
        """Remember ``person`` as now committed, unless something was forgotten since ``epoch`` was read."""
        if epoch != self.epoch:
            return
        self._people[key] = person
        self._people.move_to_end(key)
        while len(self._people) > self._capacity:
            _key, dropped = self._people.popitem(last=False)
            self._texts.pop(dropped.conversation_id, None)
            self._states.pop(dropped.conversation_id, None)

    def forget(self, key: Key) -> None:
        """Drop what is known of a person: the next message reads them from the store."""
        self.epoch += 1
        person = self._people.pop(key, None)
        if person is not None:
            self._texts.pop(person.conversation_id, None)
            self._states.pop(person.conversation_id, None)

    def history(self, conversation_id: int) -> list[str] | None:
        """The person's last messages, oldest first, or None when not cached."""
        texts = self._texts.get(conversation_id)
        return None if texts is None else list(texts)

    def set_history(self, conversation_id: int, texts: list[str]) -> None:
        """Remember a conversation's last messages read from the store."""
        self._texts[conversation_id] = deque(texts, maxlen=self._history)
        self._texts.move_to_end(conversation_id)
        while len(self._texts) > self._capacity:
            self._texts.popitem(last=False)

    def add_text(self, conversation_id: int, text: str) -> None:
        """Append a committed message to a cached conversation."""
        texts = self._texts.get(conversation_id)
        if texts is not None:
            texts.append(text)

    def state(self, conversation_id: int) -> DialogueState | None:
        """Where the conversation's dialogue stands, when cached."""
        return self._states.get(conversation_id)

    def set_state(self, conversation_id: int, state: DialogueState) -> None:
        """Remember a conversation's dialogue state (committed or read from the store)."""
        self._states[conversation_id] = state

    @asynccontextmanager
    async def turn(self, key: Key) -> AsyncIterator[None]:
        """Hold this person's lock (messages of one person never interleave)."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
