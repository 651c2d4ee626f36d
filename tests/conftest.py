"""The suite's fixtures live in the test support package: tests/support/fixtures.py,
and tests/support/brokers.py for the RabbitMQ and NATS JetStream servers."""

pytest_plugins = ["tests.support.fixtures", "tests.support.brokers"]
