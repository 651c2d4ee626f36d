"""`feedpipe search` renders the API's HTML snippets as terminal text."""

from services.cli.main import _plain_snippet


def test_snippet_entities_are_unescaped_and_marks_highlighted() -> None:
    rendered = _plain_snippet("Tom &amp; Jerry <mark>caf&eacute;</mark> [x]")
    assert rendered == "Tom & Jerry [reverse]café[/reverse] \\[x]"
