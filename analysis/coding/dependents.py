"""Rows elsewhere that point at codes (codings today; later perhaps theme members, memos).

The codebook services do not import those models. Instead each owning app registers a
:class:`CodeDependent` once, in its ``AppConfig.ready()``::

    from analysis.coding.dependents import CodeDependent, code_dependent_register

    code_dependent_register(CodeDependent(
        key="codings", label="coding",
        count=lambda code_ids: Coding.objects.filter(code_id__in=code_ids).count(),
        merge=coding_move_for_merge,        # (source_id, target_id) -> rows moved
    ))

* ``count(code_ids)`` says how many rows a delete of those codes would remove (the delete page and
  the API's ``impact`` show it before the user confirms).
* ``merge(source_id, target_id)`` moves the rows of ``source`` onto ``target`` and collapses
  duplicates (for codings: the same coder, transcript and span already coded with the target is
  dropped rather than doubled). It runs inside :func:`analysis.coding.services.codebook.code_merge`'s transaction,
  before the source code is deleted, and returns how many rows it moved.
* ``delete(code_ids)`` (optional) removes the rows before the codes go, for a dependent whose foreign
  key PROTECTs the code; one with ``on_delete=CASCADE`` needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CodeDependent:
    key: str
    label: str
    count: Callable[[list[int]], int]
    merge: Callable[[int, int], int]
    delete: Callable[[list[int]], int] | None = None


_REGISTRY: dict[str, CodeDependent] = {}


def code_dependent_register(dependent: CodeDependent) -> None:
    """Register (or replace, so a reloaded app does not double up) a dependent by its key."""
    _REGISTRY[dependent.key] = dependent


def code_dependent_unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def code_dependents() -> Iterable[CodeDependent]:
    return list(_REGISTRY.values())


# Panels of a code's page that another app fills (the themes app: the team's comments on the code).
# A panel is ``(request, study_id, code) -> (template name, context)``, or None when the member may not
# see it; the code's page includes each template with its context, in the order they registered.
CodePanel = Callable[[Any, int, Any], "tuple[str, dict[str, Any]] | None"]
_PANELS: dict[str, CodePanel] = {}


def code_panel_register(key: str, panel: CodePanel) -> None:
    _PANELS[key] = panel


def code_panels() -> list[CodePanel]:
    return list(_PANELS.values())
