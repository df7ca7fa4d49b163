"""The waiting room (mtlviz.serve.waiting_room): its queue alone, then a real server handing out places."""
from __future__ import annotations

import asyncio
import concurrent.futures
import html
import json
import re
import time

import pytest

from mtlviz.serve.waiting_room import WaitingRoom
from tests.harness import VoilaServer, write_notebook
from tests.test_serve import fetch

PLACE = re.compile(r'data-status-url="([^"]+)" data-open-url="([^"]+)"')


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def room_of(open_at_once=2):
    clock = Clock()
    room = WaitingRoom(open_at_once, clock=clock, left_after_s=10, claim_within_s=30, holds_at_most_s=60)
    return room, clock


def test_students_past_the_limit_wait_in_the_order_they_came():
    """If this fails, a student who came first could wait longer than one who came later, or more
    dashboards could start at once than the teacher allowed."""
    room, _ = room_of(open_at_once=2)
    assert room.may_open_now()
    pages = [room.page_started(), room.page_started()]  # two dashboards being served: the third student waits
    assert not room.may_open_now()
    first, second, third = (room.join("03.ipynb") for _ in range(3))
    assert [room.status(t) for t in (first, second, third)] == [
        {"ahead": 0, "go": False}, {"ahead": 1, "go": False}, {"ahead": 2, "go": False}]
    room.page_done(pages[0])  # one dashboard finished: exactly one place opens, for the first in line
    assert [room.status(t)["go"] for t in (first, second, third)] == [True, False, False]
    assert room.status(third) == {"ahead": 1, "go": False}
    assert not room.may_open_now(), "a newcomer took a place while others were waiting"


def test_a_place_is_used_once_and_only_for_its_lesson():
    """If this fails, one ticket could open many dashboards, or a ticket that is not yet due could
    jump the line."""
    room, _ = room_of(open_at_once=1)
    page = room.page_started()
    ticket = room.join("03.ipynb")
    assert not room.claim(ticket, "03.ipynb"), "a ticket opened a dashboard before its turn"
    room.page_done(page)
    assert not room.claim(ticket, "05.ipynb"), "a ticket for lesson 03 opened lesson 05"
    assert room.holds(ticket, "03.ipynb") and not room.holds(ticket, "05.ipynb")
    assert room.claim(ticket, "03.ipynb")
    assert not room.claim(ticket, "03.ipynb"), "a ticket opened a second dashboard"
    assert room.status(ticket) is None
    assert not room.claim(None, "03.ipynb") and not room.claim("made-up", "03.ipynb")


def test_a_closed_waiting_page_gives_its_place_to_the_next():
    """If this fails, a student who closed the waiting tab keeps a place: everyone behind waits for
    a page that will never come."""
    room, clock = room_of(open_at_once=1)
    page = room.page_started()
    gone, staying = room.join("03.ipynb"), room.join("03.ipynb")
    room.poll_opened(staying)  # this page is asking; the first one never asks again
    clock.now += 11
    room.page_done(page)
    assert room.status(gone) is None
    assert room.status(staying) == {"ahead": 0, "go": True}


def test_a_turn_not_taken_within_the_claim_time_goes_to_the_next():
    """If this fails, a browser that vanished just as its turn came holds a dashboard's place for
    good, and the class behind it stalls."""
    room, clock = room_of(open_at_once=1)
    page = room.page_started()
    late, next_one = room.join("03.ipynb"), room.join("03.ipynb")
    room.poll_opened(next_one)
    room.page_done(page)
    assert room.status(late)["go"] and not room.status(next_one)["go"]
    clock.now += 31
    room.poll_opened(late)  # a poll still open does not keep an unclaimed turn
    assert room.status(late) is None
    assert room.status(next_one) == {"ahead": 0, "go": True}


def test_a_page_stuck_in_its_lesson_stops_holding_a_place():
    """If this fails, one lesson stuck in a cell (its page never finishes) holds up every student
    behind it for good, where without the waiting room it held up only its own student."""
    room, clock = room_of(open_at_once=1)
    room.page_started()  # never done
    waiting = room.join("03.ipynb")
    room.poll_opened(waiting)
    clock.now += 59
    assert room.status(waiting) == {"ahead": 0, "go": False}
    clock.now += 2
    assert room.status(waiting) == {"ahead": 0, "go": True}


def test_a_waiting_page_is_woken_when_the_line_moves():
    """If this fails, a waiting page learns of its turn only when its long poll times out (15 s)."""
    room, _ = room_of(open_at_once=1)
    page = room.page_started()
    ticket = room.join("03.ipynb")

    async def scenario():
        waiting = asyncio.ensure_future(room.changed(10.0))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        began = time.monotonic()
        room.page_done(page)
        await waiting
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 1.0
    assert room.status(ticket)["go"]


def test_open_at_once_below_one_is_refused():
    with pytest.raises(ValueError, match="open_at_once must be at least 1; got 0"):
        WaitingRoom(0)


@pytest.mark.parametrize("value", ["-1", "10001"])
def test_bad_open_at_once_is_refused(value, capsys):
    """A typo must be named with the allowed range, not turned into a server that queues everyone."""
    from mtlviz.serve import main

    with pytest.raises(SystemExit):
        main([f"--open-at-once={value}"])
    assert f"--open-at-once must be in [0, 10000] (0: no waiting room); got {value}" in capsys.readouterr().err


@pytest.mark.server
def test_a_student_past_the_limit_gets_a_finished_page_then_the_dashboard_in_turn(tmp_path):
    """With one dashboard opening at a time, a second student must get at once a small page
    (no kernel started for them yet), whose poll says 'go' only after the first page is served,
    and whose address (kept on a reload) then opens the dashboard with the student's own query
    kept. If this fails, the students of a busy class either all stream a loading page for
    minutes again (the browser CPU the waiting room saves) or never get their lesson."""
    write_notebook(tmp_path / "10_slow.ipynb", "import time\ntime.sleep(4)\nprint('the lesson ran')")
    with VoilaServer(notebook_dir=tmp_path, extra_args=["--open-at-once=1"]) as server:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(server.open_dashboard, "voila/render/10_slow.ipynb")
            deadline = time.monotonic() + 60
            while not server.started_kernel_ids() and time.monotonic() < deadline:
                time.sleep(0.1)
            began = time.monotonic()
            status, body, _ = fetch(server.url + "voila/render/10_slow.ipynb?theme=light")
            answered_s = time.monotonic() - began
            assert status == 200 and 'id="mtlviz-waiting-room"' in body, body[-500:]
            assert "You are next." in body and '"kernelId"' not in body
            assert len(server.started_kernel_ids()) == 1, "a kernel started for a student who waits"
            assert answered_s < 3.0, f"the waiting page took {answered_s:.1f} s: it waited for the first lesson"
            status_url, open_url = (html.unescape(part) for part in PLACE.search(body).groups())
            assert "theme=light" in open_url and "mtlviz_ticket=" in open_url
            # a reload (the page puts the ticket in its address) keeps the place
            reloaded = PLACE.search(fetch(server.url + open_url.lstrip("/"))[1])
            assert reloaded and html.unescape(reloaded.group(1)) == status_url, "a reload lost the student's place"

            # a third student queues behind the second
            third = PLACE.search(fetch(server.url + "voila/render/10_slow.ipynb")[1]).group(1)
            code, reply, _ = fetch(server.url.rstrip("/") + html.unescape(third) + "?ahead=")
            assert (code, json.loads(reply)) == (200, {"ahead": 1, "go": False})

            code, reply, _ = fetch(server.url.rstrip("/") + status_url + "?ahead=0")  # a long poll
            assert (code, json.loads(reply)) == (200, {"ahead": 0, "go": True})
            first = first.result(timeout=60)
        assert "the lesson ran" in first.html
        second = server.open_dashboard(open_url.lstrip("/"))
        assert "the lesson ran" in second.html and second.kernel_id != first.kernel_id
        code, reply, _ = fetch(server.url.rstrip("/") + status_url)
        assert code == 404 and "no longer held" in reply, "a used ticket is still held"
        for page in (first, second):
            server.close_dashboard(page)
