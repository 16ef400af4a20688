from pathlib import Path

from scripts.gen_catalogue import catalogue, render

ROOT = Path(__file__).resolve().parents[1]


def test_readme_catalogue_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert render(readme) == readme, "README's node catalogue is stale: run .venv/bin/python scripts/gen_catalogue.py"


def test_quick_start_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick


def test_catalogue_lists_node_types():
    assert "node types" in catalogue()
