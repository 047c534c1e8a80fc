"""Report figures (as ``mmpose.visualization``): training curves from MMEngine's scalar logs
and predicted skeletons side by side (:mod:`.training_report`). Not imported by ``okdhp_mm``."""
