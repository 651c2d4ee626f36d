"""docs/BENCHMARKS.md is the assembly of docs/benchmarks/*.md, never edited apart."""

from benchmarks.assemble_docs import DOCS, build


def test_benchmarks_doc_is_up_to_date() -> None:
    assert (DOCS / "BENCHMARKS.md").read_text() == build(), (
        "run: uv run python -m benchmarks.assemble_docs"
    )


def test_every_area_file_is_included() -> None:
    text = build()
    for path in (DOCS / "benchmarks").glob("*.md"):
        if not path.name.startswith("_"):
            assert f"docs/benchmarks/{path.name}" in text
