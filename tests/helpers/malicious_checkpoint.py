"""A crafted checkpoint payload: what the safe loading must refuse without running it."""
from __future__ import annotations

import os


class RunsCodeOnLoad:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))
