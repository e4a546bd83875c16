"""The exception tree of swell: one root, every error a user can see.

    SwellError
    ├── InvalidJob              bad input at enqueue time (nothing was written)
    │   ├── PayloadTooLarge
    │   └── ArgsValidationError     args failed the type's pydantic model
    ├── InvalidTransition       a state change the job model forbids
    ├── JobNotFound
    ├── UnknownJobType          no handler registered for a job type
    ├── StoreError              the backend failed
    │   ├── StoreUnavailable        cannot reach Redis (nothing half-written)
    │   │   ├── StoreAuthError          Redis refused the credentials (password / ACL user)
    │   │   └── StoreTLSError           TLS handshake failed or TLS/plain mismatch
    │   └── CorruptJob              a stored record could not be decoded
    ├── Retry                   raised BY a handler: run again after `delay`
    ├── PermanentError          raised BY a handler: fail now, no retry
    └── TenantNotResolved       the tenant resolver could not resolve a job's tenant
"""

from __future__ import annotations


class SwellError(Exception):
    """Root of every error swell raises."""


class InvalidJob(SwellError, ValueError):
    """A job was rejected before anything was stored."""


class PayloadTooLarge(InvalidJob):
    """The encoded job exceeds the configured payload limit."""


class ArgsValidationError(InvalidJob):
    """The args do not match the pydantic model registered for the job type."""


class InvalidTransition(SwellError):
    """A job cannot move from its current status to the requested one."""


class JobNotFound(SwellError, LookupError):
    """No job with that id exists (or it was purged by retention)."""


class UnknownJobType(SwellError, LookupError):
    """No handler is registered for a job type."""


class StoreError(SwellError):
    """The storage backend failed."""


class StoreUnavailable(StoreError, ConnectionError):
    """The backend cannot be reached; the operation had no effect."""


class StoreAuthError(StoreUnavailable):
    """Redis refused the credentials (wrong password, unknown ACL user, missing permission)."""


class StoreTLSError(StoreUnavailable):
    """TLS failed: bad certificate, or TLS spoken to a plain port (or the reverse)."""


class CorruptJob(StoreError):
    """A stored job record could not be decoded."""


class Retry(SwellError):
    """Raise from a handler to ask for another attempt after `delay` seconds.

    `delay=None` uses the job's retry policy. The attempt still counts against
    `max_retries`.
    """

    def __init__(self, delay: float | None = None, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class PermanentError(SwellError):
    """Raise from a handler to fail the job at once, skipping remaining retries."""


class TenantNotResolved(SwellError):
    """The tenant resolver could not produce a context for the job's tenant."""
