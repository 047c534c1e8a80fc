from .teacher_student_distiller import TeacherStudentDistiller  # noqa: F401
