"""The database models, one module per aggregate."""
from .content import (  # noqa: F401
    Asset,
    AssetBlob,
    Assignment,
    Case,
    ContentVersion,
    Course,
    CourseMentor,
    Lesson,
    SyncRun,
    course_cases,
    lesson_cases,
)
from .learning import Enrollment, LessonProgress  # noqa: F401
from .users import ROLES, LoginAttempt, User  # noqa: F401
from .submissions import (  # noqa: F401
    Attempt,
    AttemptFile,
    Extension,
    Grade,
    GradeEvent,
    RegradeRequest,
)
from .audit import AuditEntry, AuditHead, SignOff  # noqa: F401
