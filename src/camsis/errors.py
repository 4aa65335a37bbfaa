"""One exception type for everything a user can get wrong.

The workflow's rule scripts catch it and print its message as a single line, so the
message must name the file, variable or code at fault and say what was expected.
"""

import sys


class CamsisError(Exception):
    """Bad input or configuration, explained in one line."""


def shown(value) -> str:
    """A value as a message shows it: 68.24, 1111, 'nurse' (numpy's repr would say np.float64(68.24))."""
    numpy = sys.modules.get("numpy")  # a numpy scalar implies numpy is loaded: import camsis stays free of it
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
