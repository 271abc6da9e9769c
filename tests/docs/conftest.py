"""The documentation tests drive the built site in the same headless Chromium as the demo's."""

from tests.demo.conftest import browser, chromium

__all__ = ["browser", "chromium"]
