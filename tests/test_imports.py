"""The package's import structure: no cycles, and the inference side never pulls in training code
or TensorFlow before it needs it (`abpn-tool upscale --help`, eval and bench-host start fast, and a
change in train.py cannot break upscaling)."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "abpn"
TRAINING = ("abpn.model.train", "abpn.model.quantize")
# Modules that run models or read results: none may import training code, and none needs
# TensorFlow until a model is loaded.
INFERENCE = ["abpn.model.inference", "abpn.model.upscale", "abpn.model.evaluate", "abpn.model.modelfile",
             "abpn.cli", "abpn.errors",
             *sorted(f"abpn.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py") if p.stem != "__init__"),
             *sorted(f"abpn.bench.{p.stem}" for p in (PACKAGE / "bench").glob("*.py") if p.stem != "__init__")]


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree, name, modules, *, inside_functions):
    """Modules of the package that `name` imports: when it is imported, or, with `inside_functions`, at
    any level (also in function bodies, which run later but are still a dependency)."""
    found = set()
    package = name if (PACKAGE.parent / Path(*name.split(".")) / "__init__.py").exists() else name.rpartition(".")[0]

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not inside_functions:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            visit(ast.iter_child_nodes(node))  # a class body runs at import time

    visit(tree.body)
    return {m for m in found if m in modules and m != name}


def import_graph(*, inside_functions=False):
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(ast.parse(path.read_text()), name, paths, inside_functions=inside_functions)
            for name, path in paths.items()}


def reachable(graph, start):
    """Every module `start` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def find_cycle(graph):
    """One import cycle as a list of module names, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "abpn.model.inference" in graph and graph["abpn.model.train"] >= {"abpn.model.inference"}
    assert find_cycle(graph) is None


def test_the_graph_sees_imports_inside_functions():
    # cli imports every command's module inside the command: the full graph must see them, the top-level
    # graph must not (else the checks below would test nothing new).
    assert "abpn.model.train" not in import_graph()["abpn.cli"]
    assert "abpn.model.train" in import_graph(inside_functions=True)["abpn.cli"]


def test_no_import_cycle_even_through_function_level_imports():
    assert find_cycle(import_graph(inside_functions=True)) is None


def _package_modules(graph, prefix):
    return [name for name in graph if name == prefix or name.startswith(prefix + ".")]


@pytest.mark.parametrize("layer, forbidden", [
    # The benchmark side hands records to a sink it is given; it never reaches into the collector.
    ("abpn.bench", ("abpn.collector",)),
    # The record contract is shared by both sides and depends on neither.
    ("abpn.record", ("abpn.bench", "abpn.collector", "abpn.model", "abpn.cli")),
    # Plain helpers below everything.
    ("abpn.core", ("abpn.bench", "abpn.collector", "abpn.model", "abpn.record", "abpn.cli", "abpn.options")),
])
def test_layers_never_import_upwards_at_any_level(layer, forbidden):
    graph = import_graph(inside_functions=True)
    modules = _package_modules(graph, layer)
    assert modules
    wrong = {(name, target) for name in modules for target in reachable(graph, name)
             if target.startswith(forbidden)}
    assert not wrong, f"{layer} reaches {sorted(wrong)}"


def test_inference_modules_never_import_training_at_any_level():
    graph = import_graph(inside_functions=True)
    for name in INFERENCE:
        if name == "abpn.cli":
            continue  # the CLI runs train and quantize as commands
        assert not reachable(graph, name) & set(TRAINING), name


def _loaded_after(code):
    """The abpn and TensorFlow modules loaded after running `code` in a fresh interpreter."""
    probe = code + (
        "\nimport json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('abpn', 'tensorflow', 'tf_keras'))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.strip().splitlines()[-1]))


def test_inference_modules_import_neither_training_nor_tensorflow():
    loaded = _loaded_after("\n".join(f"import {name}" for name in INFERENCE))
    assert set(INFERENCE) <= loaded
    assert not loaded & set(TRAINING), "inference imports training code"
    assert "tensorflow" not in loaded and "tf_keras" not in loaded, "TensorFlow imported before a model is loaded"


def test_the_probe_sees_training_when_it_is_imported():
    # the check above would pass vacuously if the probe could not see imports at all
    assert set(TRAINING) <= _loaded_after("import abpn.model.quantize")


@pytest.mark.parametrize("model", ["abpn_x3_float.keras", "abpn_x3_int8_dynamic.tflite"])
def test_upscaling_with_a_model_never_imports_training(model):
    path = PACKAGE.parents[1] / "models" / model
    loaded = _loaded_after(
        "import numpy as np\n"
        "from abpn.model.inference import load_upscaler\n"
        f"assert load_upscaler({str(path)!r})(np.zeros((20, 24, 3), np.uint8)).shape == (60, 72, 3)\n"
    )
    assert "tensorflow" in loaded
    assert not loaded & set(TRAINING)
