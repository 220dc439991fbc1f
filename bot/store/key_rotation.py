"""Re-encrypting every stored token under the newest data key. The columns come from the models (every
``EncryptedBytes`` column), so a new encrypted column is rotated without anyone remembering to list it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Column, Table, select, update

from bot.store.crypto import TextCipher
from bot.store.database import Database
from bot.store.models import encrypted_columns

BATCH = 500


async def rotate_all(db: Database, cipher: TextCipher) -> dict[str, int]:
    """Re-encrypt every token under ``cipher``'s first key, a batch per transaction (safe to run again after an
    interruption: a rotated token is simply rotated again). Returns the count per table."""
    by_table: dict[Table, list[Column[Any]]] = defaultdict(list)
    for table, column in encrypted_columns():
        by_table[table].append(column)
    counts: dict[str, int] = {}
    for table, columns in by_table.items():
        (key,) = table.primary_key.columns  # every encrypted table has a one-column key
        counts[table.name] = 0
        last: Any = None
        while True:
            async with db.transaction() as session:
                query = select(key, *columns).order_by(key).limit(BATCH)
                if last is not None:
                    query = query.where(key > last)
                rows = (await session.execute(query)).all()
                for row in rows:
                    values = {c.name: cipher.rotate(token) for c, token in zip(columns, row[1:], strict=True) if token}
                    if values:
                        await session.execute(update(table).where(key == row[0]).values(**values))
                        counts[table.name] += len(values)
            if len(rows) < BATCH:
                break
            last = rows[-1][0]
    return counts
