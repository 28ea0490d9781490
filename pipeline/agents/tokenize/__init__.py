"""Tokenizers for the agent transcription: the interfaces and the `basic` defaults."""

from pipeline.agents.tokenize import basic
from pipeline.agents.tokenize.tokenizer import PUNCTUATION, SentenceTokenizer, WordTokenizer

__all__ = ["PUNCTUATION", "SentenceTokenizer", "WordTokenizer", "basic"]
