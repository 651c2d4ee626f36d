from services.parser.language import choose_language, detect_language, normalize_language


def test_declared_tag_is_reduced_to_primary_subtag():
    assert normalize_language("en-US") == "en"
    assert normalize_language("FR_fr") == "fr"
    assert normalize_language("not a tag") is None


def test_detects_french():
    text = "Le gouvernement a présenté mercredi un projet de loi sur la transition énergétique."
    assert detect_language(text) == "fr"


def test_detects_english():
    text = "The government presented a bill on the energy transition on Wednesday afternoon."
    assert detect_language(text) == "en"


def test_too_short_text_is_not_guessed():
    assert detect_language("Hello") is None


def test_declared_language_wins_over_detection():
    text = "The government presented a bill on the energy transition on Wednesday afternoon."
    assert choose_language(None, "de", text=text) == "de"


def test_detection_when_nothing_declared():
    text = "Le gouvernement a présenté mercredi un projet de loi sur la transition énergétique."
    assert choose_language(None, None, text=text) == "fr"


def test_all_capitals_text_is_still_recognised():
    text = "LE GOUVERNEMENT A PRÉSENTÉ MERCREDI UN PROJET DE LOI SUR LA TRANSITION ÉNERGÉTIQUE."
    assert detect_language(text) == "fr"


def test_text_over_several_lines_is_classified_as_a_whole():
    text = "Breaking news\nLe gouvernement a présenté mercredi un projet de loi\nsur l'énergie."
    assert detect_language(text) == "fr"
