"""CAMSIS occupational scales from microdata on couples, and effect scores (ESRES)."""

from camsis.errors import CamsisError

__version__ = "0.1.0"

__all__ = ["CamsisError", "__version__", "esres"]


def __getattr__(name):
    # `camsis.esres` on first use only: every workflow job imports camsis, few need scipy's optimiser.
    if name == "esres":
        from camsis.esres import esres

        return esres
    raise AttributeError(f"module 'camsis' has no attribute {name!r}")
