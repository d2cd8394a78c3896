"""grading queue state, and indexes for the queue, the gradebook and the audit log

attempts.grading_state stores where an attempt stands in the grading queue (0 not graded, 1 open
regrade request, 2 draft, 3 released; kept by lms.services.grading), so the queue reads a page
through ix_attempts_queue (course_id, latest, grading_state, submitted_at, id, assignment_id)
instead of sorting every latest attempt of the mentor's courses; it replaces ix_attempts_course_latest. The column is
backfilled from the grades and open regrade requests. The gradebook reads a page of students'
attempts through ix_attempts_course_user (course_id, user_id), and, for a course most students take,
walks the students in name order through ix_users_name (name, id) instead of sorting them all. An auditor's log reads each of their
courses' content and sign-off events newest first through ix_audit_entries_course_action_seq
(course_id, action, seq), instead of gathering every event of the courses.

Revision ID: c6f43746b32e
Revises: 14046f5fada6
Create Date: 2026-11-25 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c6f43746b32e'
down_revision = '14046f5fada6'
branch_labels = None
depends_on = None


BACKFILL = """
UPDATE attempts SET grading_state = CASE
    WHEN EXISTS (SELECT 1 FROM regrade_requests r WHERE r.attempt_id = attempts.id AND r.status = 'open') THEN 1
    WHEN (SELECT g.status FROM grades g WHERE g.attempt_id = attempts.id) = 'draft' THEN 2
    ELSE 3 END
WHERE id IN (SELECT attempt_id FROM grades)
"""


def upgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grading_state', sa.SmallInteger(), server_default='0', nullable=False))
    op.execute(BACKFILL)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_course_latest')
        batch_op.create_index('ix_attempts_queue',
                              ['course_id', 'latest', 'grading_state', 'submitted_at', 'id', 'assignment_id'], unique=False)
        batch_op.create_index('ix_attempts_course_user', ['course_id', 'user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_name', ['name', 'id'], unique=False)

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_course_action_seq', ['course_id', 'action', 'seq'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_course_action_seq')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_name')

    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_course_user')
        batch_op.drop_index('ix_attempts_queue')
        batch_op.create_index('ix_attempts_course_latest', ['course_id', 'latest', 'submitted_at'], unique=False)

    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a copy of the table: on SQLite, dropping the
    # old attempts table would break the foreign keys of the attempts' files and grades.
    with op.batch_alter_table('attempts', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('grading_state')
