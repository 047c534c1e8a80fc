# Registered modules are imported here so that importing okdhp_mm registers them.
from .multi_branch_estimator import MultiBranchPoseEstimator  # noqa: F401
from .teacher_student_distiller import TeacherStudentDistiller  # noqa: F401
