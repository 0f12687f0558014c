"""Transcripts, codes, codings, memos, themes and matrices live here as their issues land."""
