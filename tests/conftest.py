"""The suite's fixtures live in the test support package (tests/support/fixtures.py)."""

pytest_plugins = ["tests.support.fixtures"]
