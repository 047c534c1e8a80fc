"""Helpers shared by our models: no registered modules here."""
from .branches import ENSEMBLE, BranchIndexError, check_branch_index  # noqa: F401
from .export_contract import (ExportableStudent, ExportError, ExportsBranch,  # noqa: F401
                              ExportsPlainHead, NeedsPlugin, StudentExport)
from .heatmap_alignment import align_heatmaps  # noqa: F401
from .model_inspection import (OUTPUT_SOURCES, auto_source, check_teacher_fits,  # noqa
                               decoder_size, get_module, heatmap_size, num_keypoints)
from .precision import (autocast_disabled, bf16_autocast_active,  # noqa: F401
                        bf16_autocast_disabled)
from .preprocessing import InputConverter, preprocessor_normalisation  # noqa: F401
from .recorder import ModuleOutputRecorder  # noqa: F401
from .log_vars import ReportsLogVars, collect_log_vars  # noqa: F401
from .accuracy import heatmap_pck_accuracy, simcc_pck_accuracy  # noqa: F401
from .teachers import DEFAULT_TEACHER, teacher_specs  # noqa: F401
