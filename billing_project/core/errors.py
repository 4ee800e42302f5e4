"""Domain errors raised by services. The API layer maps them to Lago's error bodies.

Services never raise DRF exceptions; views never decide error shapes themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400


class BadRequestFailure(DomainError):
    """The request is structurally wrong (400), e.g. a missing root key."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationFailure(DomainError):
    """Input was understood but refused (422 `validation_errors`).

    `details` maps a field name (or a batch index) to a list of codes, as Lago does:
    `{"external_id": ["value_is_mandatory"]}`.
    """

    status = 422

    def __init__(self, details: Mapping[str, object]):
        super().__init__(f"validation failed: {dict(details)}")
        self.details = dict(details)

    @classmethod
    def single(cls, field: str, *codes: str) -> ValidationFailure:
        return cls({field: list(codes)})


class NotFoundFailure(DomainError):
    """An unknown id, code or external id in this tenant (404 `<resource>_not_found`)."""

    status = 404

    def __init__(self, resource: str):
        super().__init__(f"{resource}_not_found")
        self.resource = resource

    @property
    def code(self) -> str:
        return f"{self.resource}_not_found"


class CodedFailure(DomainError):
    """An error answered with its status and a code (its message too)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class NotAllowedFailure(CodedFailure):
    """A state change the object's state forbids (405 with a code such as `not_voidable`)."""

    status = 405


class ForbiddenFailure(CodedFailure):
    """The key may not do this (403 with a code)."""

    status = 403


class ConflictFailure(CodedFailure):
    """A concurrent change won; the client may retry (409)."""

    status = 409


class ProviderFailure(DomainError):
    """A payment provider or integration refused (422 `provider_error`)."""

    status = 422

    def __init__(self, provider_code: str, details: Mapping[str, object] | None = None):
        super().__init__(provider_code)
        self.provider_code = provider_code
        self.details = dict(details or {})


class UnavailableFailure(CodedFailure):
    """A store the request needs did not answer in time; nothing was changed and the client may
    retry (503 with a code and `Retry-After`)."""

    status = 503

    def __init__(self, code: str, retry_after: int = 5):
        super().__init__(code)
        self.retry_after = retry_after


def merge_details(*parts: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Combine several error maps, keeping each code once per field."""
    merged: dict[str, list[str]] = {}
    for part in parts:
        for field, codes in part.items():
            bucket = merged.setdefault(field, [])
            for code in codes:
                if code not in bucket:
                    bucket.append(code)
    return merged
