"""One exception type for everything a user can get wrong.

The workflow's rule scripts catch it and print its message as a single line, so the
message must name the file, variable or code at fault and say what was expected.
"""


class CamsisError(Exception):
    """Bad input or configuration, explained in one line."""
