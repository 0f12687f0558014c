"""Laptop settings: `make demo` and `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A fixed development key so encrypted demo data survives restarts; production must set its own.
CHORUS_FIELD_KEYS = env.list(
    "CHORUS_FIELD_KEYS", default=["mS0kQeCq5p0cM8XbF2w0mQkT8x7e9yq2E3YwQzgqD0s="]
)
