"""CAMSIS occupational scales from microdata on couples, and effect scores (ESRES)."""

from importlib import import_module

from camsis.errors import CamsisError

__version__ = "0.1.0"

__all__ = ["BuildOptions", "CamsisError", "ScaleResult", "__version__", "build_scale", "esres", "match"]

# Name -> the module defining it. camsis.esres and camsis.match are the functions, and
# camsis.build_scale the front door for Python users (docs/python.md), imported when first
# used (PEP 562) rather than with the package: every rule job and `camsis` command imports
# camsis, and esres alone would bring scipy.optimize to all of them.
_LAZY = {"esres": "method.esres", "match": "publish.match", "build_scale": "building", "BuildOptions": "building",
         "ScaleResult": "building"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'camsis' has no attribute {name!r}")
    value = getattr(import_module(f"camsis.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
