"""Waiting in tests: one helper that polls until something holds, or fails saying what."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``check`` until it returns something true and return it.

    Fails with an AssertionError naming ``what`` once ``timeout`` seconds have passed. The
    timeout only bounds a test that would otherwise hang: nothing here asserts a speed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(every)
