"""grade as wide as the edges allow; the resolve outcome encrypted

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:00:00

A grade longer than 16 characters passed validation at the edge but could not be stored on PostgreSQL, so every
message of that person failed to store: the column now holds what the edges accept (GRADE_MAX). The outcome a
counselor types when resolving a case is free text: it moves to an encrypted column. Existing outcomes are
encrypted here with the service's data key, which ``xinqiao db upgrade`` and ``xinqiao serve`` hand over.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CASES = sa.table("cases", sa.column("id", sa.Integer), sa.column("outcome", sa.String), sa.column("outcome_enc"))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("grade", existing_type=sa.String(length=16), type_=sa.String(length=32))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome_enc", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_CASES.c.id, _CASES.c.outcome).where(_CASES.c.outcome.is_not(None))).all()
    if rows:
        cipher = context.config.attributes.get("cipher")
        if cipher is None:
            raise RuntimeError("cases hold outcomes to encrypt: run `xinqiao db upgrade`, which has the data keys")
        for case_id, outcome in rows:
            connection.execute(
                sa.update(_CASES).where(_CASES.c.id == case_id).values(outcome_enc=cipher.encrypt(outcome))
            )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("outcome")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=40), nullable=True))
    cipher = context.config.attributes.get("cipher")
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_CASES.c.id, _CASES.c.outcome_enc).where(_CASES.c.outcome_enc.is_not(None))
    ).all()
    for case_id, token in rows:
        # Without the keys the outcome cannot be read back; it is dropped rather than stored in the clear wrongly.
        plain = cipher.decrypt(token)[:40] if cipher is not None else None
        connection.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(outcome=plain))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("outcome_enc")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("grade", existing_type=sa.String(length=32), type_=sa.String(length=16))
