"""structlog set-up shared by the services."""

from __future__ import annotations

import structlog

from shared.logging import configure_logging, debug_enabled


def test_debug_lines_are_off_at_info() -> None:
    configure_logging(service="test", level="INFO", json=True)
    try:
        assert debug_enabled() is False
    finally:
        structlog.reset_defaults()


def test_debug_lines_are_on_at_debug() -> None:
    configure_logging(service="test", level="DEBUG", json=True)
    try:
        assert debug_enabled() is True
    finally:
        structlog.reset_defaults()
