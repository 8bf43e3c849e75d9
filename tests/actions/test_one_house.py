"""The action rooms stand on their floors: the foundation of the write path and of the action views
imports no feature app, transfers never import handshakes (handshakes import transfers: a billing
transfer's handshake follows its transfer), and no project import hides inside a function to dodge
a cycle. Read from the source with `ast`, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("transfers", "handshakes", "policies", "approvals")
PROJECT = ("orgportal", "audit", *FEATURES)
FOUNDATION = (
    "orgportal/writepath.py",
    "orgportal/action_views.py",
    "orgportal/action_forms.py",
    "orgportal/roles.py",
    "orgportal/pages.py",
    "orgportal/listing.py",
)
# The sync engine and its areas are being split by their own change, and the gateway (aws.py)
# is being reworked by another: their imports are theirs.
NOT_HERE = ("sync.py", "tasks.py", "aws.py", "migrations", "management")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, inside a function?) for every import of `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    found.append((".".join([*base, child.module or ""]).strip("."), in_function))
                else:
                    found.append((child.module or "", in_function))
            visit(child, inside)

    visit(tree, False)
    return found


def _sources(*folders: str) -> list[Path]:
    return [
        path
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(part in NOT_HERE for part in path.relative_to(ROOT).parts)
    ]


def test_the_write_path_and_action_view_foundation_import_no_feature_app() -> None:
    for name in FOUNDATION:
        imported = [module for module, _ in _imports(ROOT / name)]
        assert not [m for m in imported if m.split(".")[0] in FEATURES], name


def test_transfers_never_import_handshakes() -> None:
    for path in _sources("transfers"):
        imported = [module for module, _ in _imports(path)]
        assert not [m for m in imported if m.split(".")[0] == "handshakes"], path


def test_no_project_import_hides_inside_a_function() -> None:
    # policies' lists and selectors join the house in their own change; their actions are here.
    for path in [*_sources("transfers", "handshakes", "orgportal"), ROOT / "policies" / "services.py"]:
        hidden = [module for module, inside in _imports(path) if inside and module.split(".")[0] in PROJECT]
        assert not hidden, f"{path}: {hidden}"
