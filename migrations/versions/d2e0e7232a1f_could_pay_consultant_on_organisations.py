"""could_pay_consultant on organisations: the signup form's answer the buddy
programme's criteria read (emails/programme.toml). Existing rows stay NULL:
they signed up before it was asked, and the criteria let them pass.

Revision ID: d2e0e7232a1f
Revises: 1c9c23f2fd6d
Create Date: 2026-11-25 17:24:14.581092

"""
import sqlalchemy as sa
from alembic import op

revision = 'd2e0e7232a1f'
down_revision = '1c9c23f2fd6d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('could_pay_consultant', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('could_pay_consultant')
