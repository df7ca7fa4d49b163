"""Shared pytest fixtures.

Each section belongs to one group of tests; add new fixtures under their own heading.
"""
from __future__ import annotations

import pytest
import torch


# -- Unit tests of the maths and estimators (test_functional, test_estimators, test_validation,
#    test_exercises) ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_one_thread():
    """Run a module's tiny-tensor tests on one intra-op thread, then restore the thread count.

    The unit tests use networks of a few thousand weights, where extra threads buy nothing; on a
    2-core machine that is busy with anything else (a training job, the notebook kernels), the
    threads spin-wait on each other and the same steps run tens of times slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- Real-browser tests (test_browser, test_jupyterlab) ------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from tests.harness import chromium_path, launch_chromium

    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed (scripts/test installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
