"""Writes: transcripts (create, purge, read audit), imports (bulk upload), redaction (edits)."""
