"""Export contract (:mod:`.contract`) and the model-zoo writer (:func:`export_student`)."""
from .branch_choice import choose_best_branch  # noqa: F401
from .contract import (ExportableStudent, ExportError, ExportsBranch,  # noqa: F401
                       ExportsPlainHead)
from .plain_config import find_foreign_types  # noqa: F401
from .writer import export_student  # noqa: F401
