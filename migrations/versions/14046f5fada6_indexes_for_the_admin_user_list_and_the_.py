"""indexes for the admin user list and the audit log by actor

The admin's user list pages through users newest first, of everybody or of one role
((created_at, id) and (role, created_at, id), which replaces the index on role alone); the audit
log is filtered by the actor's e-mail address and read newest first ((actor_email, seq)).

Revision ID: 14046f5fada6
Revises: b3c63a35121a
Create Date: 2026-11-25 03:55:50.403462

"""
from alembic import op
import sqlalchemy as sa

import lms.models.types


# revision identifiers, used by Alembic.
revision = '14046f5fada6'
down_revision = 'b3c63a35121a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_actor_email_seq', ['actor_email', 'seq'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_role'))
        batch_op.create_index('ix_users_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_users_role_created', ['role', 'created_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_role_created')
        batch_op.drop_index('ix_users_created')
        batch_op.create_index(batch_op.f('ix_users_role'), ['role'], unique=False)

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_actor_email_seq')
