"""Reads of the codebook, through the policy module. The codebook is study-wide: a member's site
or group scope limits transcripts and codings, not which codes exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts import policy
from accounts.policy import Perm
from analysis.coding.models import Code


def code_list(*, user: Any, study_id: int | str) -> QuerySet[Code]:
    study = policy.study_get_for_user(user=user, study_id=study_id, perm=Perm.CODEBOOK_VIEW)
    return Code.objects.filter(study=study).select_related("updated_by").order_by("position", "id")


def code_has_children(*, code: Code) -> bool:
    return Code.objects.filter(parent=code).exists()


def code_get(*, user: Any, study_id: int | str, code_id: Any) -> Code:
    try:
        pk = int(code_id)
    except (TypeError, ValueError):
        raise Http404("No such code.") from None
    code = code_list(user=user, study_id=study_id).filter(pk=pk).first() if policy.id_ok(pk) else None
    if code is None:
        raise Http404("No such code.")
    return code


@dataclass
class CodeNode:
    code: Code
    depth: int
    children: list[CodeNode] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    stats: Any = None  # retrieval.CodeStats, when the page shows the per-code counts


def code_tree(codes: list[Code]) -> list[CodeNode]:
    """Codes (already ordered by position) as a forest, parents before children."""
    nodes = {c.pk: CodeNode(code=c, depth=0) for c in codes}
    roots: list[CodeNode] = []
    for c in codes:
        node = nodes[c.pk]
        parent = nodes.get(c.parent_id) if c.parent_id else None
        (parent.children if parent else roots).append(node)

    def fill(node: CodeNode, depth: int, path: list[str]) -> None:
        node.depth, node.path = depth, [*path, node.code.name]
        for child in node.children:
            fill(child, depth + 1, node.path)

    for root in roots:
        fill(root, 0, [])
    return roots


def code_tree_flat(roots: list[CodeNode]) -> list[CodeNode]:
    """The forest depth first, as a list (for selects and exports)."""
    out: list[CodeNode] = []

    def walk(nodes: list[CodeNode]) -> None:
        for n in nodes:
            out.append(n)
            walk(n.children)

    walk(roots)
    return out
