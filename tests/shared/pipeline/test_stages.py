"""The stage registry: one declaration per service, and what is derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.pipeline import stages
from shared.settings import Settings

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"


def test_service_names_are_unique() -> None:
    names = stages.names(stages.SERVICES)
    assert len(set(names)) == len(names)


def test_every_declared_service_has_a_main_module() -> None:
    for name in stages.names(stages.SERVICES):
        assert (SERVICES_DIR / name / "main.py").is_file(), name


def test_every_service_package_with_a_main_module_is_declared() -> None:
    programs = {p.parent.name for p in SERVICES_DIR.glob("*/main.py")} - {"cli"}
    assert programs == set(stages.names(stages.SERVICES))


def test_workers_are_the_services_on_the_pipeline_runtime() -> None:
    assert stages.API not in stages.WORKERS
    assert set(stages.WORKERS) == set(stages.SERVICES) - {stages.API}


def test_stages_are_the_workers_that_read_a_stream() -> None:
    assert stages.POLLER not in stages.STAGES
    assert all(isinstance(stage, stages.Worker) for stage in stages.STAGES)


def test_each_stage_reads_through_a_consumer_group_of_its_own() -> None:
    readers = [(stage.input.name, stage.group) for stage in stages.STAGES]
    assert len(set(readers)) == len(readers)


def test_every_stage_input_is_written_by_some_worker() -> None:
    written = {output.name for worker in stages.WORKERS for output in worker.outputs}
    for stage in stages.STAGES:
        assert stage.input.name in written, stage.name


def test_workers_default_to_distinct_metrics_ports() -> None:
    ports = [worker.metrics_port for worker in stages.WORKERS]
    assert len(set(ports)) == len(ports)


def test_a_worker_serves_on_its_own_port_when_none_is_configured() -> None:
    assert stages.INDEXER.port(Settings(metrics_port=None)) == stages.INDEXER.metrics_port


def test_a_configured_metrics_port_overrides_the_default() -> None:
    assert stages.INDEXER.port(Settings(metrics_port=9100)) == 9100


def test_parser_reads_its_own_batch_size_when_set() -> None:
    assert stages.PARSER.batch_size(Settings(batch_size=200, parser_batch_size=10)) == 10


def test_parser_batch_size_none_means_the_common_one() -> None:
    assert stages.PARSER.batch_size(Settings(batch_size=150, parser_batch_size=None)) == 150


def test_parser_batch_size_is_read_from_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDPIPE_PARSER_BATCH_SIZE", "7")
    assert stages.PARSER.batch_size(Settings()) == 7


def test_other_stages_read_the_common_batch_size() -> None:
    settings = Settings(batch_size=150, parser_batch_size=10)
    assert stages.DEDUPLICATOR.batch_size(settings) == 150
    assert stages.INDEXER.batch_size(settings) == 150


def test_poller_claims_the_common_batch_size_by_default() -> None:
    assert stages.POLLER.batch_size(Settings(batch_size=150)) == 150


def test_poller_claims_its_own_batch_size_when_set() -> None:
    assert stages.POLLER.batch_size(Settings(batch_size=150, poll_batch_size=40)) == 40


def test_fetched_stream_keeps_fewer_entries_than_article_streams() -> None:
    settings = Settings(stream_maxlen=100_000, fetched_maxlen=500)
    assert stages.PARSER.input.keep(settings) == 500
    assert stages.INDEXER.input.keep(settings) == 100_000


def test_named_finds_a_declaration_by_name() -> None:
    assert stages.named(stages.STAGES, "deduplicator") is stages.DEDUPLICATOR


def test_named_lists_the_choices_for_an_unknown_name() -> None:
    with pytest.raises(LookupError, match="unknown stage 'poller'; choose one of parser,"):
        stages.named(stages.STAGES, "poller", kind="stage")
