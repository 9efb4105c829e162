"""The apps depend in one direction (DESIGN.md): bookings -> billing -> members -> spaces, and
community -> members, spaces (bookings and the community meet only in coworking, which wires them). An import
against it, anywhere in an app's code (models, views, admin, tasks, templatetags...), fails here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each app may import among ours.
ALLOWED = {
    "spaces": set(),
    "members": {"spaces"},
    "billing": {"members", "spaces"},
    "bookings": {"billing", "members", "spaces"},
    "community": {"members", "spaces"},
}


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(ALLOWED)


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        bad = imported_apps(path) - ALLOWED[app] - {app}
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}
