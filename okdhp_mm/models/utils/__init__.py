"""Helpers shared by our models: no registered modules here."""
from .branches import BranchIndexError, check_branch_index  # noqa: F401
from .heatmap_alignment import align_heatmaps  # noqa: F401
from .model_config import (ModelSpec, load_model_config, resolve_config_path,  # noqa: F401
                           strip_pretrained)
from .model_inspection import (OUTPUT_SOURCES, auto_source, decoder_size, get_module,  # noqa
                               heatmap_size, num_keypoints)
from .precision import autocast_disabled  # noqa: F401
from .preprocessing import InputConverter, preprocessor_normalisation  # noqa: F401
from .recorder import ModuleOutputRecorder  # noqa: F401
from .log_vars import ReportsLogVars, collect_log_vars  # noqa: F401
from .accuracy import heatmap_pck_accuracy, simcc_pck_accuracy  # noqa: F401
