from . import backbones, distillers, heads, losses, necks  # noqa: F401  (registers modules)
