"""Lesson 08 in real headless Chromium against a real Voila server: the two dashboards work as a
student uses them (a new episode redraws the embedding; the own task cannot be submitted incomplete)."""
from __future__ import annotations

import pytest

from tests.harness import VoilaServer
from tests.test_browser import click_button, finish, open_dashboard

pytestmark = pytest.mark.browser
LESSON = "08_metric_based_meta_learning.ipynb"


@pytest.fixture(scope="module")
def server():
    with VoilaServer() as running:
        yield running


def test_metric_lesson_new_episode_and_own_task(server, browser):
    """'New episode' must redraw the embedding map with a new status; in the own task, 'Check my
    answers' must stay disabled with one query unanswered and, once all are answered, show the
    student's score beside the three learners'."""
    page, watcher = open_dashboard(browser, server.url + f"voila/render/{LESSON}")
    first = page.locator(".mtlviz-status").first.inner_text()
    assert "query images nearest their own class's prototype" in first
    click_button(page, "New episode", f"t !== {first!r}")
    own = page.locator(".mtlviz-dashboard").nth(1)
    submit = own.get_by_role("button", name="Check my answers")
    selects = own.locator("select")
    assert selects.count() == 10 and submit.is_disabled()
    for i in range(9):
        selects.nth(i).select_option(label="ABCDE"[i % 5])
    page.wait_for_timeout(500)
    assert submit.is_disabled(), "an incomplete answer could be submitted"
    assert "1 of 10 query images still to answer" in own.locator(".mtlviz-status").inner_text()
    selects.nth(9).select_option(label="A")
    page.wait_for_function("() => !Array.from(document.querySelectorAll('button'))"
                           ".find(b => b.innerText.includes('Check my answers')).disabled", timeout=30_000)
    submit.click()
    page.wait_for_function("() => document.querySelectorAll('.mtlviz-status')[1].innerText.includes('the best model')",
                           timeout=60_000)
    board = own.inner_text()
    for name in ("you", "MAML", "ProtoNet", "pixel nearest neighbour"):
        assert name in board
    page.wait_for_timeout(1000)
    finish(page, watcher, "08_metric_based_meta_learning.png")
