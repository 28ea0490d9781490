"""Tokenizers for the agent transcription: the interfaces and the `basic` defaults."""

from pipeline.tokenize import basic
from pipeline.tokenize.tokenizer import PUNCTUATION, SentenceTokenizer, WordTokenizer

__all__ = ["PUNCTUATION", "SentenceTokenizer", "WordTokenizer", "basic"]
