"""The tenant resolver hook: turn a job's tenant id into the context its handler runs with.

Multi-tenant jobs fail loudly: when a job names a tenant and the resolver raises or returns
None, the job is dead-lettered with ``TenantNotResolved`` instead of running without its tenant
(no silent fallback to a default tenant). Jobs without a tenant never call the resolver; with no
resolver installed a tenant is only a label (stats, filtering) and the context is None.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from swell.errors import TenantNotResolved

TenantResolver = Callable[[str], Any] | Callable[[str], Awaitable[Any]]
"""tenant id -> context object (sync or async). Sync resolvers run in a thread."""


async def resolve_tenant(resolver: TenantResolver | None, tenant: str | None) -> Any:
    """The context for ``tenant``; TenantNotResolved when the resolver fails or finds nothing."""
    if tenant is None or resolver is None:
        return None
    try:
        if inspect.iscoroutinefunction(resolver):
            context = await resolver(tenant)
        else:
            context = await asyncio.to_thread(resolver, tenant)
            if inspect.isawaitable(context):
                context = await context
    except TenantNotResolved:
        raise
    except Exception as exc:
        raise TenantNotResolved(
            f"tenant {tenant!r} could not be resolved: {type(exc).__name__}: {exc}"
        ) from exc
    if context is None:
        raise TenantNotResolved(f"tenant {tenant!r} could not be resolved: the resolver returned None")
    return context
