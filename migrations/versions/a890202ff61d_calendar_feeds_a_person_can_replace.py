"""calendar_feeds: a person's calendar feed link once they have replaced it
(it was shared by mistake). Its generation is in the link, so older links
stop working. No rows to start with: every person is on the first
generation, the links Hearth has given until now.

Revision ID: a890202ff61d
Revises: d2e0e7232a1f
Create Date: 2026-11-26 01:57:59.355453

"""
import sqlalchemy as sa
from alembic import op

revision = 'a890202ff61d'
down_revision = 'd2e0e7232a1f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_calendar_feeds_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_calendar_feeds'))
    )


def downgrade():
    op.drop_table('calendar_feeds')
