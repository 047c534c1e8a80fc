from .generate_mask import TopdownGenerateMask  # noqa: F401
from .loading import LoadImageOrSkip, UnreadableImageWarning  # noqa: F401
