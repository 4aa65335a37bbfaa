"""CAMSIS occupational scales from microdata on couples, and effect scores (ESRES)."""

from camsis.errors import CamsisError
from camsis.esres import esres
from camsis.match import match

__version__ = "0.1.0"

__all__ = ["CamsisError", "__version__", "esres", "match"]
