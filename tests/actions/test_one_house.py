"""The house stands on its floors, read from the source with `ast` (nothing imported):

- the foundation (orgportal minus its top-floor modules, and audit) imports no feature app: what a
  feature hands the foundation (its sync area, what follows a sync, its beat entries, its gate) it
  registers in its `AppConfig.ready()`;
- the feature apps import each other downhill only: handshakes -> transfers, policies ->
  handshakes, approvals -> (handshakes, transfers, policies), notifications -> all of those;
- nothing below the top imports the top (root urls, the inbox, the billing map, run.py);
- no project import hides inside a function, except the few allowed below, each with its reason;
- nothing calls the Django user an "Account" (the AWS account is `orgportal.models.Account`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Downhill order: a feature app may import only the ones before it.
FEATURES = ("transfers", "handshakes", "policies", "approvals", "notifications")
# The top floor: it may import everything, and nothing but the top imports it.
TOP = (
    "front/",
    "orgportal/run.py",
    "orgportal/tasks.py",  # drives a whole connection's sync and what follows it
    "orgportal/management/",
)
TOP_PAGES = ("front", "orgportal.run")
APPLICATION = ("front", "orgportal", "audit", "orgsim", *FEATURES)

# (file, function) -> why a project import may stand inside it.
ALLOWED_INSIDE = {
    ("*/apps.py", "ready"): "Django loads apps.py before any model: an app registers in ready(), once models are in",
}


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module imported, enclosing function or None) for every import of `path`, relative ones
    resolved; imports under `if TYPE_CHECKING:` are left out (they never run)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inside = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Import):
                found.extend((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = parts[: len(parts) - child.level + 1]
                    module = ".".join([*base, child.module or ""]).strip(".")
                    names = [f"{module}.{alias.name}" for alias in child.names]
                    # `from . import registry` imports a module of the package.
                    found.extend((name, function) for name in names)
                    found.append((module, function))
                else:
                    found.append((child.module or "", function))
                    found.extend((f"{child.module}.{alias.name}", function) for alias in child.names)
            visit(child, inside)

    visit(tree, None)
    return found


def _sources(*folders: str) -> list[Path]:
    return [
        path
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _foundation() -> list[Path]:
    return [
        path
        for path in _sources("orgportal", "audit")
        if not any(_name(path) == top or (top.endswith("/") and _name(path).startswith(top)) for top in TOP)
    ]


def _app(module: str) -> str:
    return module.split(".")[0]


def test_the_floors_are_what_the_test_says() -> None:
    # A guard on the guard: every top module exists, and the foundation is most of orgportal.
    for top in TOP:
        assert (ROOT / top).exists(), top
    names = {_name(path) for path in _foundation()}
    assert {"orgportal/sync.py", "orgportal/registry.py", "orgportal/writepath.py", "audit/events.py"} <= names
    assert "front/urls.py" not in names and "orgportal/tasks.py" not in names


def test_the_foundation_imports_no_feature_app() -> None:
    wrong = {_name(path): sorted({m for m, _ in _imports(path) if _app(m) in FEATURES}) for path in _foundation()}
    assert {name: modules for name, modules in wrong.items() if modules} == {}


def test_the_sync_engine_and_the_registry_import_no_feature_app_even_indirectly() -> None:
    # The old circle: the engine imported the feature syncs back from inside sync_connection.
    for name in ("orgportal/sync.py", "orgportal/registry.py", "orgportal/tasks.py"):
        assert not [m for m, _ in _imports(ROOT / name) if _app(m) in FEATURES], name


def test_feature_apps_import_each_other_downhill_only() -> None:
    wrong: dict[str, list[str]] = {}
    for rank, feature in enumerate(FEATURES):
        uphill = set(FEATURES[rank + 1 :])
        for path in _sources(feature):
            found = sorted({m for m, _ in _imports(path) if _app(m) in uphill})
            if found:
                wrong[_name(path)] = found
    assert wrong == {}


def test_transfers_never_import_handshakes() -> None:
    for path in _sources("transfers"):
        assert not [m for m, _ in _imports(path) if _app(m) == "handshakes"], path


def test_nothing_below_the_top_imports_the_top_pages() -> None:
    below = [*_foundation(), *_sources(*FEATURES)]
    wrong = {
        _name(path): found
        for path in below
        if (
            found := sorted(
                {m for m, _ in _imports(path) if _app(m) == "front" or m in TOP_PAGES or m.startswith("orgportal.run.")}
            )
        )
    }
    assert wrong == {}


def test_no_project_import_hides_inside_a_function_but_the_allowed_ones() -> None:
    hidden: dict[str, list[str]] = {}
    for path in _sources(*APPLICATION):
        for module, function in _imports(path):
            if function is None or _app(module) not in APPLICATION:
                continue
            allowed = (f"*/{path.name}", function) in ALLOWED_INSIDE or (_name(path), function) in ALLOWED_INSIDE
            if not allowed:
                hidden.setdefault(_name(path), []).append(f"{function}: {module}")
    assert hidden == {}


def test_no_import_of_any_kind_hides_inside_a_function_outside_apps_ready() -> None:
    # Third-party ones too: a lazy import that once dodged a cycle must say why or go.
    found = {
        _name(path): sorted({f"{function}: {module}" for module, function in _imports(path) if function})
        for path in _sources(*APPLICATION)
        if path.name != "apps.py"
    }
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_nothing_calls_the_django_user_an_account() -> None:
    # `Account` is the AWS account (orgportal.models.Account); the person signed in is a user.
    pattern = re.compile(r"\bAccount\b\s*=\s*(AbstractBaseUser|User|get_user_model|settings\.AUTH_USER_MODEL)")
    aliases = re.compile(r"import\s+(User|AbstractBaseUser|AbstractUser)\s+as\s+Account\b")
    for path in _sources(*APPLICATION):
        text = path.read_text()
        assert not pattern.search(text) and not aliases.search(text), _name(path)


def test_every_module_says_what_room_it_is() -> None:
    missing = [
        _name(path)
        for path in _sources(*APPLICATION)
        if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []
