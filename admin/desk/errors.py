"""The one error of the desk: a request an operator cannot make, said in their language."""

from __future__ import annotations

from core.texts import Refusal

__all__ = ["DeskError"]


class DeskError(Refusal):
    """An operator's request that cannot be done; `text(language)` says why.

    Every failure an operator can cause is one of these, carrying a text key, so each
    transport (the web console, the admin bot) says it in the operator's language."""
