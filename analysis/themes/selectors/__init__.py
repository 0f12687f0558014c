"""Reads of the themes app, by sub-domain: themes, quotes, comments, board, notifications."""
