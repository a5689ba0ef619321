"""API errors, rendered as the `Status` objects a real API server answers with."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the API refuses; `status()` is the body a real server sends."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    @classmethod
    def not_found(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        details = {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
        return cls(404, "NotFound", f'{qualified} "{name}" not found', details)

    @classmethod
    def already_exists(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        details = {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
        return cls(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)

    @classmethod
    def conflict(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        details = {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
        return cls(409, "Conflict",
                   f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
                   "modified; please apply your changes to the latest version and try again",
                   details)

    @classmethod
    def invalid(cls, kind: str, group: str, name: str,
                causes: list[tuple[str, str, str]]) -> ApiError:
        """`causes`: (field, reason such as FieldValueRequired, message)."""
        qualified = f"{kind}.{group}" if group else kind
        text = "; ".join(f"{field}: {msg}" for field, _, msg in causes)
        details: dict[str, Any] = {
            "name": name, "kind": kind,
            "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes],
        }
        if group:
            details["group"] = group
        if len(causes) > 1:
            text = f"[{', '.join(f'{field}: {msg}' for field, _, msg in causes)}]"
        return cls(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)
