"""The basic tokenizers: sentence rules, word splitting, and syllable counts."""

from __future__ import annotations

import pytest

from pipeline.agents.tokenize import SentenceTokenizer, WordTokenizer, basic

# Common words with their dictionary syllable counts (words whose count varies by
# speaker, like "family" or "every", are left out).
SYLLABLES = {
    "hello": 2, "world": 1, "water": 2, "computer": 3, "beautiful": 3, "important": 3,
    "information": 4, "example": 3, "people": 2, "little": 2, "table": 2, "banana": 3,
    "tomorrow": 3, "yesterday": 3, "weather": 2, "morning": 2, "afternoon": 3, "tonight": 2,
    "question": 2, "answer": 2, "problem": 2, "music": 2, "city": 2, "country": 2,
    "minute": 2, "thousand": 2, "hundred": 2, "seven": 2, "eleven": 3, "number": 2,
    "reservation": 4, "appointment": 3, "available": 4, "calendar": 3, "weekend": 2,
    "friday": 2, "january": 4, "telephone": 3, "education": 4, "understand": 3,
    "together": 3, "another": 3, "because": 2, "something": 2, "nothing": 2, "everyone": 3,
    "happy": 2, "quickly": 2, "make": 1, "time": 1, "the": 1, "through": 1, "strength": 1,
    "knowledge": 2, "idea": 3, "radio": 3, "video": 3, "piano": 3, "create": 2, "going": 2,
    "usually": 4, "situation": 4, "wanted": 2, "played": 1, "boxes": 2, "makes": 1,
    "changes": 2, "lovely": 2, "careful": 2, "quiet": 2, "science": 2, "friend": 1,
    "believe": 2, "language": 2, "player": 2, "system": 2, "social": 2, "delicious": 3,
    "various": 3, "coffee": 2, "movie": 2, "should": 1, "yes": 1, "beyond": 2, "area": 3,
    "special": 2, "national": 3, "fuel": 2, "poem": 2, "different": 3, "chocolate": 3,
}


def test_syllable_counts_are_at_least_85_percent_exact() -> None:
    misses = {
        word: (expected, basic.hyphenate_word(word))
        for word, expected in SYLLABLES.items()
        if len(basic.hyphenate_word(word)) != expected
    }
    accuracy = 1 - len(misses) / len(SYLLABLES)
    print(f"{accuracy:.1%} exact on {len(SYLLABLES)} words; misses: {misses}")
    assert len(SYLLABLES) >= 50
    assert accuracy >= 0.85


@pytest.mark.parametrize(
    ("word", "pieces"),
    [
        ("hello", ["hel", "lo"]),
        ("table", ["ta", "ble"]),
        ("basket", ["bas", "ket"]),
        ("mother", ["mo", "ther"]),
        ("radio", ["ra", "di", "o"]),
        ("something", ["some", "thing"]),
        ("cat", ["cat"]),
        ("Hello,", ["Hel", "lo,"]),
        ('"Beautiful!"', ['"Beau', "ti", 'ful!"']),
        ("well-known", ["well-", "known"]),
        ("42", ["42"]),
        ("...", ["..."]),
        ("", []),
    ],
)
def test_hyphenate_word_pieces(word: str, pieces: list[str]) -> None:
    assert basic.hyphenate_word(word) == pieces


def test_hyphenate_word_pieces_rebuild_the_word() -> None:
    for word in [*SYLLABLES, "Don't!", "(re-enter)", "ÉCOLE", "x"]:
        assert "".join(basic.hyphenate_word(word)) == word


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Hello there, how are you? I met Mr. Smith and Dr. Jones today.",
            ["Hello there, how are you?", "I met Mr. Smith and Dr. Jones today."],
        ),
        (
            "It costs 3.5 dollars, e.g. a coffee. That is cheap enough for me!",
            ["It costs 3.5 dollars, e.g. a coffee.", "That is cheap enough for me!"],
        ),
        (
            "Well... maybe we could go tomorrow. I think... No, I am sure now.",
            ["Well... maybe we could go tomorrow.", "I think...", "No, I am sure now."],
        ),
        (
            "Really?! That is wonderful. She said \"Go home now.\" Then left.",
            ["Really?!", "That is wonderful.", 'She said "Go home now."', "Then left."],
        ),
        (
            "J. K. Rowling wrote it. We moved to the U.S. last year, etc. and so on.",
            ["J. K. Rowling wrote it.", "We moved to the U.S. last year, etc. and so on."],
        ),
        ("  spaced\n out   text  ", ["spaced out text"]),
        ("", []),
    ],
)
def test_sentence_rules(text: str, sentences: list[str]) -> None:
    assert basic.SentenceTokenizer(min_sentence_len=0).tokenize(text) == sentences


def test_short_sentences_merge_until_min_length() -> None:
    tokenizer = basic.SentenceTokenizer()  # min_sentence_len=20
    text = "Hi. Okay. This one is long enough. Fine."
    assert tokenizer.tokenize(text) == ["Hi. Okay. This one is long enough.", "Fine."]
    with pytest.raises(ValueError, match="min_sentence_len"):
        basic.SentenceTokenizer(min_sentence_len=-1)


def test_word_tokenizer_punctuation() -> None:
    text = "Hello, world! — don't \"stop\" ... 3.5"
    assert basic.WordTokenizer().tokenize(text) == ["Hello", "world", "don't", "stop", "3.5"]
    keep = basic.WordTokenizer(ignore_punctuation=False)
    assert keep.tokenize(text) == ["Hello,", "world!", "—", "don't", '"stop"', "...", "3.5"]
    assert keep.format_words(["a", "b."]) == "a b."


def test_basic_tokenizers_implement_the_interfaces() -> None:
    assert isinstance(basic.SentenceTokenizer(), SentenceTokenizer)
    assert isinstance(basic.WordTokenizer(), WordTokenizer)
    with pytest.raises(TypeError):
        SentenceTokenizer()  # type: ignore[abstract]
