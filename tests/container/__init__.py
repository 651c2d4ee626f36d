"""The container test: the real Dockerfile and docker-compose.yml on a real
Docker engine (`./dev container-test`, run by .ci/run after the test suite,
never by pytest itself: it takes minutes). tests/container/run.py is the entry
point; the pure parts live in plan.py and are unit-tested."""
