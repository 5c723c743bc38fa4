"""A statistically rigorous resampling study of AI-art popularity prediction.

Start with ``python -m study.replicate`` (the original notebook reproduced, its flaws
measured); the modules are named by topic: ``datasets``, ``features``, ``replicate``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("study")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
