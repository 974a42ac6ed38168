"""The version of jupyter-mlops, for modules that the package's ``__init__`` reaches.

``jupyter_mlops/__init__.py`` imports the server extension app (for
``_jupyter_server_extension_points``), so the server and the core modules it uses
read the version here rather than from ``jupyter_mlops`` itself (that would be an
import cycle).
"""

from __future__ import annotations

__all__ = ["__version__"]

try:
    from jupyter_mlops._version import __version__
except ImportError:  # pragma: no cover - only in an unbuilt source tree
    __version__ = "0.0.0+unknown"
