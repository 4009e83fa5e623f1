"""The one error every policy engine raises: the caller fails closed on it."""

from __future__ import annotations


class PolicyError(RuntimeError):
    """The policy could not be loaded or evaluated. Messages never quote the input."""
