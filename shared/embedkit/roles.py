"""Small shared type aliases."""

from __future__ import annotations

from typing import Literal

Role = Literal["query", "document"]
ROLES: tuple[Role, ...] = ("query", "document")
