"""Transcript sets: named, saved selections of a study's transcripts, shared by the team, used to limit a
matrix (issue 14). Models are ``analysis.transcripts.models.TranscriptSet`` and ``TranscriptSetMember``."""
