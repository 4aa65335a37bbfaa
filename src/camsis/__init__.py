"""CAMSIS occupational scales from microdata on couples, and effect scores (ESRES)."""

import sys
from importlib import import_module
from types import ModuleType

from camsis.errors import CamsisError

__version__ = "0.1.0"

__all__ = ["BuildOptions", "CamsisError", "ScaleResult", "__version__", "build_scale", "esres", "match"]

# Name -> the module defining it. camsis.esres and camsis.match are the functions, and
# camsis.build_scale the front door for Python users (docs/python.md), imported when first
# used (PEP 562) rather than with the package: every rule job and `camsis` command imports
# camsis, and esres alone would bring scipy.optimize to all of them.
_LAZY = {"esres": "esres", "match": "match", "build_scale": "building", "BuildOptions": "building",
         "ScaleResult": "building"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'camsis' has no attribute {name!r}")
    value = getattr(import_module(f"camsis.{_LAZY[name]}"), name)  # esres, match: set by _Package.__setattr__
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(ModuleType):
    """The package, whose ``esres`` and ``match`` stay the functions of those names.

    Importing a submodule sets the package's attribute of its name to the module; here
    (as when the package imported them eagerly) the name keeps the function.
    """

    def __setattr__(self, name, value):
        if name in _LAZY and isinstance(value, ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
