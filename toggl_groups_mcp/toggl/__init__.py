"""The only code that speaks HTTP to Toggl."""

from .client import TogglClient
from .errors import TogglError

__all__ = ["TogglClient", "TogglError"]
