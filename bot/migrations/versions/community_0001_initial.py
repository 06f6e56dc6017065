"""community initial: code of conduct, resource library, surveys, mentors (issue #11)

Revision ID: community_0001
Revises: 0001
Create Date: 2026-11-24 14:38:38.660657
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.models.base


revision: str = 'community_0001'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = ('community',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conduct_ack',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('guild_id', 'member_id', 'version', name='uq_conduct_ack_member_version')
    )
    with op.batch_alter_table('conduct_ack', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conduct_ack_guild_id'), ['guild_id'], unique=False)

    op.create_table('conduct_code',
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('text_de', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('require_ack', sa.Boolean(), nullable=False),
    sa.Column('updated_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('guild_id')
    )
    op.create_table('mentor',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('topics', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('guild_id', 'member_id', name='uq_mentor_member')
    )
    with op.batch_alter_table('mentor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_guild_id'), ['guild_id'], unique=False)

    op.create_table('mentor_block',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('blocked_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('guild_id', 'member_id', 'blocked_id', name='uq_mentor_block')
    )
    with op.batch_alter_table('mentor_block', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_block_guild_id'), ['guild_id'], unique=False)

    op.create_table('mentor_match',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('mentor_id', sa.BigInteger(), nullable=False),
    sa.Column('mentee_id', sa.BigInteger(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('mentee_accepted', sa.Boolean(), nullable=False),
    sa.Column('mentor_accepted', sa.Boolean(), nullable=False),
    sa.Column('mentor_checkin', sa.Boolean(), nullable=False),
    sa.Column('mentee_checkin', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', bot.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', bot.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('thread_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mentor_match', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_match_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mentor_match_mentee_id'), ['mentee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mentor_match_mentor_id'), ['mentor_id'], unique=False)

    op.create_table('resource',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('suggested_by', sa.BigInteger(), nullable=True),
    sa.Column('suggested_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.BigInteger(), nullable=True),
    sa.Column('decided_at', bot.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('queue_channel_id', sa.BigInteger(), nullable=True),
    sa.Column('queue_message_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_topic'), ['topic'], unique=False)

    op.create_table('survey',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('questions', sa.Text(), nullable=False),
    sa.Column('salt', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('keys_wiped', sa.Boolean(), nullable=False),
    sa.Column('pulse_month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('channel_id', sa.BigInteger(), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('post_claimed_at', bot.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('guild_id', 'pulse_month', name='uq_survey_pulse_month')
    )
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_closes_at'), ['closes_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_guild_id'), ['guild_id'], unique=False)

    op.create_table('survey_settings',
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('pulse_enabled', sa.Boolean(), nullable=False),
    sa.Column('pulse_channel_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('guild_id')
    )
    op.create_table('mentor_checkin',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('match_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('sent_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['mentor_match.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('match_id', 'month', name='uq_mentor_checkin_month')
    )
    with op.batch_alter_table('mentor_checkin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentor_checkin_match_id'), ['match_id'], unique=False)

    op.create_table('survey_response',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('survey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('respondent_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('member_id', sa.BigInteger(), nullable=True),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('answered_at', bot.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('survey_id', 'respondent_key', name='uq_survey_response_respondent')
    )
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_response_survey_id'), ['survey_id'], unique=False)


    # Full-text search for the resource library (not in the models: see bot/models/library.py).
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Standalone FTS5 table; rowid = resource.id; holds approved resources only (the service
        # inserts on approval and deletes on removal).
        op.execute(
            "CREATE VIRTUAL TABLE resource_fts USING fts5("
            "title, content, topic, tokenize = 'unicode61 remove_diacritics 2')"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_resource_fts ON resource USING gin "
            "(to_tsvector('simple', title || ' ' || content || ' ' || topic))"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS resource_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_resource_fts")
    for table in (
        "survey_response",
        "mentor_checkin",
        "survey_settings",
        "survey",
        "resource",
        "mentor_match",
        "mentor_block",
        "mentor",
        "conduct_code",
        "conduct_ack",
    ):
        op.drop_table(table)
