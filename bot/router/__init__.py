"""The router: handlers declare what they match; the first match in registration order answers.

A filter is a callable ``(inbound, ctx) -> bool | dict``, or an async one; a dict's values
become keyword arguments of the handler (aiogram's contract). Most filters are plain functions
of the message: they stay synchronous, so a message walking a dozen of them creates no
coroutines on the way. A handler returns a ``Reply``, or None to let the
next handler try. Routers nest with ``include``; order in ``handlers/__init__.py`` is priority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.context import Context
from bot.model import Inbound, Reply

Verdict = bool | dict[str, Any]


class Filter(Protocol):
    def __call__(self, msg: Inbound, ctx: Context) -> Verdict | Awaitable[Verdict]: ...


Handler = Callable[..., Awaitable[Reply | None]]


@dataclass(slots=True, frozen=True)
class Route:
    handler: Handler
    filters: tuple[Filter, ...]

    @property
    def name(self) -> str:
        return f"{self.handler.__module__.rsplit('.', 1)[-1]}.{self.handler.__name__}"


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self._routes: list[Route | Router] = []

    def on(self, *filters: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append(Route(handler, filters))
            return handler

        return register

    def include(self, router: Router) -> Router:
        self._routes.append(router)
        return router

    def routes(self) -> list[Route]:
        flat: list[Route] = []
        for item in self._routes:
            flat.extend(item.routes() if isinstance(item, Router) else [item])
        return flat

    async def dispatch(self, msg: Inbound, ctx: Context) -> tuple[str, Reply] | None:
        """Run the first matching handler; returns its route name and reply."""
        for item in self._routes:
            if isinstance(item, Router):
                found = await item.dispatch(msg, ctx)
                if found is not None:
                    return found
                continue
            kwargs: dict[str, Any] = {}
            for flt in item.filters:
                verdict = flt(msg, ctx)
                if not isinstance(verdict, bool | dict):
                    verdict = await verdict
                if not verdict:
                    break
                if isinstance(verdict, dict):
                    kwargs.update(verdict)
            else:
                reply = await item.handler(msg, ctx, **kwargs)
                if reply is not None:
                    return item.name, reply
        return None
