"""The model-zoo writer (:func:`export_student`) and the export contract, which the models
own (:mod:`okdhp_mm.models.utils.export_contract`) and this package re-exports."""
from ..models.utils.export_contract import (ExportableStudent, ExportError,  # noqa: F401
                                            ExportsBranch, ExportsPlainHead, NeedsPlugin,
                                            StudentExport)
from .branch_choice import choose_best_branch  # noqa: F401
from .plain_config import find_foreign_types  # noqa: F401
from .writer import export_student  # noqa: F401
