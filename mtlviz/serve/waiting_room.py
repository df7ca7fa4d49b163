"""A waiting room: in a busy class, a student's dashboard opens in turn, from a small finished page.

Voila streams a dashboard's page while its kernel starts and runs the lesson, so in a class of 30
on two cores most pages spend a minute or two *loading*. A loading document costs Chromium about
0.04 of a core whatever it shows (measured 2026-12-04: five never-ending pages used 1.9-2.3
CPU-s per 10 s, the same pages finished 0.05-0.15), and with the browsers on the same machine
that is CPU the lessons need. With a waiting room, once ``open_at_once`` dashboards are being
served, the next student gets at once a small page that is finished ("2 students ahead of
you"); it asks the server (a long poll) until its turn comes, then opens the dashboard itself.

This module holds the queue only (no Voila, no tornado): :class:`mtlviz.serve.app.ClassroomHandler`
asks :meth:`WaitingRoom.may_open_now` and hands out tickets, and the status handler answers
:meth:`WaitingRoom.status` and :meth:`WaitingRoom.changed`.
"""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Optional

__all__ = ["WaitingRoom", "Ticket", "LEFT_AFTER_S", "CLAIM_WITHIN_S", "LONG_POLL_S", "HOLDS_AT_MOST_S"]

#: A waiting page that has not asked for this long (no poll open) was closed: its place is freed.
LEFT_AFTER_S = 10.0
#: A student whose turn came must open the dashboard within this long, or the place goes on.
CLAIM_WITHIN_S = 30.0
#: The server answers a waiting page's poll at the latest after this long, news or not.
LONG_POLL_S = 15.0
#: A dashboard page still being served after this long no longer holds a place, so that a lesson
#: stuck in a cell cannot hold up the class (lesson 05, the slowest to open, took 6-9 s a page in
#: a class of 30 on 2 cores, two at a time).
HOLDS_AT_MOST_S = 60.0


@dataclass
class Ticket:
    path: str
    last_seen: float
    polls_open: int = 0
    granted_at: Optional[float] = None


class WaitingRoom:
    """Dashboards open at most ``open_at_once`` at a time; later students queue, first come first served.

    The server calls :meth:`page_started` and :meth:`page_done` around each dashboard page it
    serves (a page streams while its lesson starts and runs); such a page holds a place for at
    most :data:`HOLDS_AT_MOST_S`. A ticket whose turn has come holds a place until it is claimed
    (its page asks for the dashboard) or :data:`CLAIM_WITHIN_S` passes.
    """

    def __init__(self, open_at_once: int, *, clock: Callable[[], float] = time.monotonic,
                 left_after_s: float = LEFT_AFTER_S, claim_within_s: float = CLAIM_WITHIN_S,
                 holds_at_most_s: float = HOLDS_AT_MOST_S):
        if open_at_once < 1:
            raise ValueError(f"open_at_once must be at least 1; got {open_at_once}")
        self.open_at_once, self.clock = open_at_once, clock
        self.left_after_s, self.claim_within_s, self.holds_at_most_s = left_after_s, claim_within_s, holds_at_most_s
        self.tickets: "OrderedDict[str, Ticket]" = OrderedDict()
        self.serving: Dict[int, float] = {}  # page number -> when it began
        self._pages = itertools.count()
        self._changed: Optional[asyncio.Future] = None

    def opening(self) -> int:
        """Dashboard pages being served that still hold a place."""
        now = self.clock()
        return sum(now - began < self.holds_at_most_s for began in self.serving.values())

    def page_started(self) -> int:
        """Call as a dashboard page begins (before the next await); returns its number for :meth:`page_done`."""
        page = next(self._pages)
        self.serving[page] = self.clock()
        return page

    def page_done(self, page: int) -> None:
        """Call when a dashboard page has finished (or failed): its place goes to the next in line."""
        self.serving.pop(page, None)
        self._refresh()

    # -- the queue --------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Drop tickets of pages that left, and give free places to the first in line."""
        now, before = self.clock(), self._state()
        for key, ticket in list(self.tickets.items()):
            if ticket.granted_at is not None:
                if now - ticket.granted_at > self.claim_within_s:
                    del self.tickets[key]
            elif ticket.polls_open == 0 and now - ticket.last_seen > self.left_after_s:
                del self.tickets[key]
        free = self.open_at_once - self.opening() - self.granted()
        for ticket in self.tickets.values():
            if free <= 0:
                break
            if ticket.granted_at is None:
                ticket.granted_at, free = now, free - 1
        if self._state() != before:
            self._wake()

    def _state(self):
        return tuple((key, ticket.granted_at is not None) for key, ticket in self.tickets.items())

    def granted(self) -> int:
        return sum(ticket.granted_at is not None for ticket in self.tickets.values())

    def may_open_now(self) -> bool:
        """True if a student without a ticket may open a dashboard at once: a place is still free
        once the students in line have had theirs (so a newcomer never jumps the line)."""
        self._refresh()
        return self.opening() + self.granted() < self.open_at_once

    def join(self, path: str) -> str:
        """A new place at the end of the line for a dashboard of ``path``; returns its ticket."""
        key = secrets.token_urlsafe(12)
        self.tickets[key] = Ticket(path=path, last_seen=self.clock())
        self._refresh()
        return key

    def claim(self, key: Optional[str], path: str) -> bool:
        """True (and the ticket is used up) if ``key``'s turn has come for ``path``; the caller must
        then call :meth:`page_started` before it next awaits."""
        self._refresh()
        ticket = self.tickets.get(key) if key else None
        if ticket is None or ticket.granted_at is None or ticket.path != path:
            return False
        del self.tickets[key]
        return True

    def holds(self, key: Optional[str], path: str) -> bool:
        """True if ``key`` is a place in this room for a dashboard of ``path``."""
        ticket = self.tickets.get(key) if key else None
        return ticket is not None and ticket.path == path

    def status(self, key: str) -> Optional[Dict]:
        """What a waiting page shows: ``{"ahead": students before it, "go": its turn has come}``;
        None for a ticket the room does not hold (it left, or its turn passed unclaimed)."""
        self._refresh()
        ticket = self.tickets.get(key)
        if ticket is None:
            return None
        ticket.last_seen = self.clock()
        ahead = 0
        for other_key, other in self.tickets.items():
            if other_key == key:
                break
            ahead += other.granted_at is None
        return {"ahead": ahead, "go": ticket.granted_at is not None}

    # -- waking the long polls -----------------------------------------------------------------------
    def _wake(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    async def changed(self, timeout_s: float) -> None:
        """Wait until the line moves (a ticket is granted or leaves), at most ``timeout_s``."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._changed), timeout_s)
        except asyncio.TimeoutError:
            pass

    def poll_opened(self, key: str) -> None:
        ticket = self.tickets.get(key)
        if ticket is not None:
            ticket.polls_open += 1

    def poll_closed(self, key: str) -> None:
        ticket = self.tickets.get(key)
        if ticket is not None:
            ticket.polls_open = max(0, ticket.polls_open - 1)
            ticket.last_seen = self.clock()
