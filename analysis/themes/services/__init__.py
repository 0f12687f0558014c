"""Writes of the themes app, by sub-domain: themes, quotes, comments, board, reports (see ``common``)."""
