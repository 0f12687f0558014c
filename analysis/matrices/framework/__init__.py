"""Framework charting (the framework method): participants × themes, each cell a summary the team
writes with the coded segments that support it beside it. Its own sub-package so the matrix engine's
files stay about matrices; the models are imported by ``analysis/matrices/models.py``."""
