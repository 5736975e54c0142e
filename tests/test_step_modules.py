"""Order lives only in release/pipeline.py, and steps never import each other: what two steps
share lives in a module of its own (release/dist.py, release/release_commit.py, release/plan.py).
Read from the source's syntax tree, so a function-level import counts as much as a top one."""

from __future__ import annotations

import ast
from pathlib import Path

STEPS = Path(__file__).resolve().parents[1] / "release" / "steps"


def defines_a_step(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "Step" for base in node.bases)
        for node in tree.body
    )


def step_modules() -> dict[str, ast.Module]:
    """release.steps.NAME -> its syntax tree, for each module that defines a Step."""
    trees = {path.stem: ast.parse(path.read_text(), str(path)) for path in STEPS.glob("*.py")}
    return {f"release.steps.{name}": tree for name, tree in trees.items() if defines_a_step(tree)}


def imported_modules(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from release.steps import build` names a module too
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_step_modules_are_found() -> None:
    """The check below reads the real step modules (it would pass vacuously on none)."""
    names = set(step_modules())
    assert {"release.steps.prepare", "release.steps.tag", "release.steps.build"} <= names
    assert "release.steps.checks" not in names  # shared checks, no step of their own


def test_no_step_module_imports_another() -> None:
    modules = step_modules()
    crossings = {
        name: sorted(imported_modules(tree) & (set(modules) - {name}))
        for name, tree in modules.items()
    }
    assert {name: found for name, found in crossings.items() if found} == {}


def test_the_check_sees_an_import_of_another_step() -> None:
    tree = ast.parse("def f():\n    from release.steps.build import BuildImages\n")
    assert "release.steps.build" in imported_modules(tree)


def test_what_a_step_needs_an_earlier_stage_makes() -> None:
    """Every declared need names a fact that a stage before it in PIPELINE makes: the runner
    then asks reality for it only when no earlier step of the slice makes it."""
    from release.pipeline import PIPELINE, steps

    made: set[str] = set()
    for step in steps(PIPELINE):
        unmet = [need.fact for need in step.needs() if need.fact not in made]
        assert unmet == [], f"{step.name} needs {unmet}, which no earlier stage makes"
        made |= step.makes
    assert made, "no stage declares what it makes"


def test_no_step_asks_which_other_steps_run() -> None:
    """Checks declare needs instead of testing other steps' names in plan.stages."""
    steps = Path(__file__).parent.parent / "release" / "steps"
    asking = [p.name for p in steps.glob("*.py") if "plan.stages" in p.read_text()]
    assert asking == []


def test_each_stage_names_its_step() -> None:
    """A stage of PIPELINE or ROLLBACK holds its step's name and where its class is; the two
    agree, and no stage appears twice, so slicing by name takes exactly the steps meant."""
    from release.pipeline import PIPELINE, ROLLBACK

    for order in (PIPELINE, ROLLBACK):
        assert [stage.step().name for stage in order] == [stage.name for stage in order]
        assert len({stage.name for stage in order}) == len(order)
        assert len({stage.step_class for stage in order}) == len(order)


def test_every_step_class_has_a_stage() -> None:
    """No step is defined and left out of the order (it would never run): each class with a
    step name, in the step modules and the rollback, is a stage's."""
    import importlib
    import inspect

    from release.pipeline import PIPELINE, ROLLBACK
    from release.steps import Step

    modules = [importlib.import_module(name) for name in [*step_modules(), "release.rollback"]]
    defined = {
        f"{module.__name__.removeprefix('release.')}:{name}"
        for module in modules
        for name, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, Step) and value.name and value.__module__ == module.__name__
    }
    assert defined == {stage.step_class for stage in (*PIPELINE, *ROLLBACK)}
