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
from bot.text import command_forms

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
    #: How many of its filters, from the first, judge by the message's kind and text alone
    #: (``by_text``): a refusal among them holds for the same text again (see ``dispatch``).
    text_prefix: int = field(init=False)

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
        prefix = 0
        while prefix < len(self.filters) and getattr(self.filters[prefix], "by_text", False) is True:
            prefix += 1
        object.__setattr__(self, "text_prefix", prefix)


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
        #: Per (kind, state): which of those routes a command word keeps (see ``_candidates``).
        self._plans: dict[tuple[Kind, str | None], _CommandPlan] = {}

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
        """``routes_for``, without the routes that start with a ``Command`` that cannot match.

        Most messages are no command word, yet walked past some thirty ``Command`` routes, each
        normalising the text again (about 40 us a message), and a command word walked past all
        the others. A ``Command`` matches when one of the text's forms (``command_forms``) is
        among its words; an index from each word to the routes whose first filter holds it gives,
        from the forms, exactly the command routes whose first filter passes. The others would
        fail on it, so they are left out; the order stays the routes' own.
        """
        plan = self._plan(msg.kind, state)
        return plan.candidates(msg)

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

        A route refused by a filter that judges by the text alone (``by_text``, and every filter
        before it too) is refused again by the same text: the routes such a text walks are kept
        per text (``_CommandPlan.walks``), so 「帮助」 the second time asks only the filters that
        look at more than the text. People send the same words again and again: menu words,
        the texts buttons send, a campaign's 「报名」.
        """
        plan = self._plan(msg.kind, ctx.session.state if flow else None)
        walk = plan.walks.get(msg.text)
        refused: list[int] | None = None
        if walk is None:
            walk, refused = plan.candidates(msg), []
        try:
            for at, route in enumerate(walk):
                kwargs: dict[str, Any] | None = None
                for flt in route.filters:
                    verdict = flt(msg, ctx)
                    # Identity checks first: most verdicts are plain bools, and this loop runs for
                    # every filter a message walks past.
                    if verdict is False:
                        if refused is not None and route.filters.index(flt) < route.text_prefix:
                            refused.append(at)
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
        finally:
            if refused is not None:
                plan.remember(msg.text, walk, refused)

    def _plan(self, kind: Kind, state: str | None) -> _CommandPlan:
        plan = self._plans.get((kind, state))
        if plan is None:
            plan = self._plans[(kind, state)] = _CommandPlan(self.routes_for(kind, state))
        return plan


#: The kinds a ``Command`` can take (``Command.kinds``).
_WORDED = frozenset({Kind.TEXT, Kind.VOICE})


class _CommandPlan:
    """The routes for one (kind, state): which of them a message's command forms keep, and per
    text met, those left once its text alone refused some (``Router.dispatch``)."""

    __slots__ = ("_leading", "by_word", "choices", "routes", "walks", "without")

    def __init__(self, routes: list[Route]) -> None:
        from bot.router.filters import Command  # filters import this module's neighbours, not it

        self.routes = routes
        #: Each command word: the positions of the routes whose first filter is a Command holding it.
        self.by_word: dict[str, frozenset[int]] = {}
        words: dict[str, set[int]] = {}
        leading = set()
        for at, route in enumerate(routes):
            first = route.filters[0] if route.filters else None
            if type(first) is Command:
                leading.add(at)
                for word in first.words:
                    words.setdefault(word, set()).add(at)
        self.by_word = {w: frozenset(ats) for w, ats in words.items()}
        self.without = [r for at, r in enumerate(routes) if at not in leading]
        #: The candidate list for each set of matching command routes met so far (a few dozen).
        self.choices: dict[frozenset[int], list[Route]] = {}
        self._leading = frozenset(leading)
        #: Per text met: the candidates left once those its text refused are taken out.
        self.walks: dict[str, list[Route]] = {}

    def candidates(self, msg: Inbound) -> list[Route]:
        if not self.by_word or msg.kind not in _WORDED or not msg.text:
            return self.without if self.by_word else self.routes
        hits: frozenset[int] = frozenset()
        for form in command_forms(msg.text):
            found = self.by_word.get(form)
            if found is not None:
                hits = hits | found
        if not hits:
            return self.without
        chosen = self.choices.get(hits)
        if chosen is None:
            leading = self._leading
            chosen = [r for at, r in enumerate(self.routes) if at not in leading or at in hits]
            if len(self.choices) < 1024:
                self.choices[hits] = chosen
        return chosen

    def remember(self, text: str, walk: list[Route], refused: list[int]) -> None:
        """Keep, for ``text``, the routes of ``walk`` but those it refused by its text alone."""
        if len(self.walks) >= MAX_TEXTS:
            self.walks.clear()  # a flood of distinct texts: start again rather than grow
        gone = set(refused)
        self.walks[text] = [r for at, r in enumerate(walk) if at not in gone] if gone else walk


#: Texts whose walks a plan keeps (a few kilobytes each at most).
MAX_TEXTS = 4096
