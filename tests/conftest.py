"""Fixtures shared across test packages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo.server import DemoServer, start_demo_server


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoServer]:
    """The bundled demo sources on a free localhost port, for the whole session."""
    with start_demo_server("127.0.0.1", 0) as server:
        yield server
