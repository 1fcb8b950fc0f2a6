"""The router: handlers declare what they match; the first match in registration order answers.

Routers nest, but dispatch walks the flattened list of routes that can answer the message's
kind (filters may declare ``kinds``); the order stays the registration order.

A filter is a callable ``(inbound, ctx) -> bool | dict``, or an async one; a dict's values
become keyword arguments of the handler (aiogram's contract). Most filters are plain functions
of the message: they stay synchronous, so a message walking a dozen of them creates no
coroutines on the way. A handler returns a ``Reply``, or None to let the
next handler try. Routers nest with ``include``; order in ``handlers/__init__.py`` is priority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.context import Context
from bot.model import Inbound, Kind, Reply

Verdict = bool | dict[str, Any]


class Filter(Protocol):
    def __call__(self, msg: Inbound, ctx: Context) -> Verdict | Awaitable[Verdict]: ...


Handler = Callable[..., Awaitable[Reply | None]]


@dataclass(slots=True, frozen=True)
class Route:
    handler: Handler
    filters: tuple[Filter, ...]
    name: str
    #: Runs before a waiting flow's own routes (crisis words are heard inside any flow).
    first: bool = False
    #: The flow states this route answers in: what its filters name as ``state`` (``InState``)
    #: or ``states`` (a filter for several); empty: any time. Read off the filters once.
    states: frozenset[str] = field(init=False)
    #: The message kinds this route can answer at all (None: any), from its filters' ``kinds``.
    kinds: frozenset[Kind] | None = field(init=False)

    def __post_init__(self) -> None:
        names: set[str] = set()
        allowed: frozenset[Kind] | None = None
        for flt in self.filters:
            one = getattr(flt, "state", None)
            many = getattr(flt, "states", ())
            names.update(s.name for s in ([one] if one is not None else []) + list(many))
            narrowed = getattr(flt, "kinds", None)
            if narrowed is not None:
                allowed = narrowed if allowed is None else allowed & narrowed
        object.__setattr__(self, "states", frozenset(names))
        object.__setattr__(self, "kinds", allowed)


class Router:
    def __init__(self, name: str, *, first: bool = False) -> None:
        """``first``: this router's routes come before a waiting flow's (see ``routes_for``)."""
        self.name = name
        self.first = first
        self._routes: list[Route | Router] = []
        #: Routes that can answer a kind (in a flow state), in priority order: a text message skips
        #: the CLICK and subscribe routes without asking their filters, and while a flow waits its
        #: own routes come first. Built on first dispatch.
        self._by_kind: dict[tuple[Kind, str | None], list[Route]] = {}
        #: Per (kind, state): the routes whose first filter is a ``Command`` left out, and one
        #: ``Command`` of all their words (see ``_candidates``).
        self._plans: dict[tuple[Kind, str | None], tuple[list[Route], Filter | None]] = {}

    def on(self, *filters: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            name = f"{handler.__module__.rsplit('.', 1)[-1]}.{handler.__name__}"
            self._routes.append(Route(handler, filters, name, self.first))
            self._by_kind.clear()
            self._plans.clear()
            return handler

        return register

    def include(self, router: Router) -> Router:
        self._routes.append(router)
        self._by_kind.clear()
        self._plans.clear()
        return router

    def routes(self) -> list[Route]:
        flat: list[Route] = []
        for item in self._routes:
            flat.extend(item.routes() if isinstance(item, Router) else [item])
        return flat

    def routes_for(self, kind: Kind, state: str | None = None) -> list[Route]:
        found = self._by_kind.get((kind, state))
        if found is None:
            able = [r for r in self.routes() if (k := r.kinds) is None or kind in k]
            if state is None:
                routes = [r for r in able if not r.states]
            else:
                # Routes marked first (crisis words), then the waiting flow's own, then the rest.
                first = [r for r in able if r.first and (not r.states or state in r.states)]
                flow = [r for r in able if not r.first and state in r.states]
                routes = first + flow + [r for r in able if not r.first and not r.states]
            found = self._by_kind[(kind, state)] = routes
        return found

    def _candidates(self, msg: Inbound, ctx: Context, state: str | None) -> list[Route]:
        """``routes_for``, without the routes that start with a ``Command`` when none of them can match.

        Most messages are no command word, yet walked past some thirty ``Command`` routes, each
        normalising the text again (about 40 µs a message). One ``Command`` holding all their
        words answers for them at once: a command matches when a form of the text is among its
        words, so if none is among all of them, each of those routes fails on its first filter.
        """
        key = (msg.kind, state)
        plan = self._plans.get(key)
        if plan is None:
            from bot.router.filters import Command  # filters import this module's neighbours, not it

            routes = self.routes_for(msg.kind, state)
            leading = [r for r in routes if r.filters and type(r.filters[0]) is Command]
            words = [w for r in leading for w in r.filters[0].words]  # type: ignore[attr-defined]
            skipped = {id(r) for r in leading}
            plan = ([r for r in routes if id(r) not in skipped], Command(words) if leading else None)
            self._plans[key] = plan
        without, union = plan
        if union is None or union(msg, ctx) is True:
            return self.routes_for(msg.kind, state)
        return without

    def flow_takes(self, msg: Inbound, ctx: Context) -> bool:
        """Whether the waiting flow has a command route of its own that takes ``msg`` (its own 「取消」)."""
        from bot.router.filters import Command  # filters import this module's neighbours, not it

        state = ctx.session.state
        for route in self.routes_for(msg.kind, state):
            if state not in route.states or not any(isinstance(f, Command) for f in route.filters):
                continue
            if all(f(msg, ctx) is True for f in route.filters):
                return True
        return False

    async def dispatch(self, msg: Inbound, ctx: Context, *, flow: bool = True) -> tuple[Route, Reply] | None:
        """Run the first matching handler; returns its route and reply.

        ``flow=False`` skips the routes of the flow the conversation waits in (help asked inside it).
        """
        for route in self._candidates(msg, ctx, ctx.session.state if flow else None):
            kwargs: dict[str, Any] | None = None
            for flt in route.filters:
                verdict = flt(msg, ctx)
                # Identity checks first: most verdicts are plain bools, and this loop runs for
                # every filter a message walks past.
                if verdict is False:
                    break
                if verdict is True:
                    continue
                if not isinstance(verdict, dict):
                    verdict = await verdict
                if not verdict:
                    break
                if isinstance(verdict, dict):
                    kwargs = {**kwargs, **verdict} if kwargs else verdict
            else:
                reply = await (route.handler(msg, ctx, **kwargs) if kwargs else route.handler(msg, ctx))
                if reply is not None:
                    return route, reply
        return None
