"""The handler registry: which function runs each job type, with its defaults and args model.

A handler is ``fn(args)`` or ``fn(args, ctx)`` (``ctx`` is a ``swell.context.JobContext``),
``async def`` or plain ``def`` (plain functions run in the worker's thread pool). With a pydantic
model the args are validated at enqueue time and parsed into the model before the call.

A handler returns its result (stored with the job) or raises: ``Retry(delay=...)`` asks for
another attempt, ``PermanentError`` fails at once, anything else is retried per the job's policy.
The ``{"success": bool, "result": ..., "error": ...}`` shape of older job systems is accepted
too: ``success`` false counts as a failed attempt with that error.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from swell.errors import ArgsValidationError, InvalidJob, UnknownJobType
from swell.job import DEFAULT_MAX_RETRIES, DEFAULT_QUEUE, Priority
from swell.retry import DEFAULT_RETRY_POLICY, RetryPolicy

F = TypeVar("F", bound=Callable[..., Any])

# Keys of the legacy result shape; a dict with other keys is an ordinary result.
_SHAPE_KEYS = frozenset({"success", "success?", "result", "error"})


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered job type: the function and the defaults of jobs of this type."""

    name: str
    fn: Callable[..., Any]
    model: type[BaseModel] | None = None
    queue: str = DEFAULT_QUEUE
    priority: Priority = Priority.NORMAL
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    timeout: float | None = None
    is_async: bool = False
    arity: int = 1  # 0: fn(), 1: fn(args), 2: fn(args, ctx)

    @property
    def direct(self) -> bool:
        """The worker may simply ``await fn(args)`` (async, no model, no context, no timeout)."""
        return self.is_async and self.arity == 1 and self.model is None and self.timeout is None

    @property
    def takes_context(self) -> bool:
        return self.arity >= 2

    def validate(self, args: Any) -> Any:
        """Args as they will be stored: checked against the model (JSON-ready), or as given."""
        if isinstance(args, BaseModel):
            args = args.model_dump(mode="json")
        if self.model is None:
            return args
        try:
            return self.model.model_validate({} if args is None else args).model_dump(mode="json")
        except ValidationError as exc:
            raise ArgsValidationError(
                f"args of job {self.name!r} are invalid: {describe_validation_error(exc)}"
            ) from exc

    def parse(self, args: Any) -> Any:
        """Args as the handler receives them: an instance of the model, or the stored value."""
        if self.model is None:
            return args
        return self.model.model_validate(args)


def describe_validation_error(exc: ValidationError) -> str:
    """``to: field required; count: input should be a valid integer`` (pydantic's wording)."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "args"
        msg = str(err.get("msg", "invalid"))
        parts.append(f"{loc}: {msg[:1].lower()}{msg[1:]}")
    return "; ".join(parts)


def handler_arity(fn: Callable[..., Any]) -> int:
    """How many positional arguments to pass: 0, 1 (args) or 2 (args, ctx)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    positional = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return 2
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    if positional > 2:
        raise InvalidJob(f"handler {getattr(fn, '__name__', fn)!r} takes {positional} arguments: "
                         "use fn(args) or fn(args, ctx)")
    return positional


def is_async_callable(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def model_from_annotation(fn: Callable[..., Any]) -> type[BaseModel] | None:
    """The pydantic model a handler's first parameter is annotated with, if any."""
    try:
        hints = typing.get_type_hints(fn)
        first = next(iter(inspect.signature(fn).parameters.values()), None)
    except Exception:  # unresolvable forward references: no model, not an error
        return None
    if first is None:
        return None
    hint = hints.get(first.name)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint
    return None


def interpret_result(value: Any) -> tuple[bool, Any, Any]:
    """(ok, result, error) for a handler's return value, understanding the legacy shape."""
    if isinstance(value, Mapping) and value and _SHAPE_KEYS.issuperset(value.keys()):
        flag = value.get("success", value.get("success?"))
        if isinstance(flag, bool):
            if flag:
                return True, value.get("result"), None
            return False, None, value.get("error")
    return True, value, None


class Registry:
    """Job type name -> Handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        queue: str = DEFAULT_QUEUE,
        priority: Priority | str | int = Priority.NORMAL,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        model: type[BaseModel] | None = None,
    ) -> Handler:
        """Register (or replace) the handler of job type ``name``."""
        if not isinstance(name, str) or not name:
            raise InvalidJob("job type must be a non-empty string")
        if not callable(fn):
            raise InvalidJob(f"handler of job {name!r} is not callable")
        if max_retries < 0:
            raise InvalidJob(f"max_retries must be >= 0, got {max_retries}")
        if timeout is not None and timeout <= 0:
            raise InvalidJob(f"timeout must be > 0 seconds, got {timeout}")
        if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise InvalidJob(f"model of job {name!r} must be a pydantic BaseModel subclass")
        handler = Handler(
            name=name,
            fn=fn,
            model=model if model is not None else model_from_annotation(fn),
            queue=queue,
            priority=Priority.parse(priority),
            max_retries=max_retries,
            retry_policy=retry_policy or DEFAULT_RETRY_POLICY,
            timeout=timeout,
            is_async=is_async_callable(fn),
            arity=handler_arity(fn),
        )
        self._handlers[name] = handler
        return handler

    def job(
        self,
        name: str | None = None,
        *,
        queue: str = DEFAULT_QUEUE,
        priority: Priority | str | int = Priority.NORMAL,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        model: type[BaseModel] | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of ``register``; the name defaults to the function's name."""

        def decorate(fn: F) -> F:
            self.register(name or fn.__name__, fn, queue=queue, priority=priority,
                          max_retries=max_retries, retry_policy=retry_policy, timeout=timeout,
                          model=model)
            return fn

        return decorate

    def unregister(self, name: str) -> None:
        """Forget a job type; UnknownJobType if it was not registered."""
        try:
            del self._handlers[name]
        except KeyError:
            raise UnknownJobType(f"no handler registered for job type {name!r}") from None

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __getitem__(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownJobType(f"no handler registered for job type {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)

    def handlers(self) -> dict[str, Handler]:
        """A snapshot: name -> Handler."""
        return dict(self._handlers)

    def queues(self) -> list[str]:
        """The queues of the registered handlers, in registration order, without duplicates."""
        return list(dict.fromkeys(h.queue for h in self._handlers.values()))
