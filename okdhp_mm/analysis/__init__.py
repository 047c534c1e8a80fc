"""Measuring tools, not imported by ``okdhp_mm``: :mod:`.benchmark` (what a multi-branch model
costs beside its students), :mod:`.evidence` (does each method teach), :mod:`.training_cost`."""
