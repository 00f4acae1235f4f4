"""Packaging: environment.yml mirrors pyproject.toml; the console script and CI entry exist."""

from __future__ import annotations

import re
import subprocess
import sys

import tomllib
import yaml

from tests.conftest import ROOT

#: PyPI name -> conda-forge name where they differ; extras map to extra conda packages.
CONDA_NAME = {"simpleitk": "simpleitk", "pyyaml": "pyyaml"}
EXTRA_PACKAGES = {("napari", "pyqt6"): "pyqt", ("dask", "distributed"): "distributed"}


def _split(req: str) -> tuple[str, set[str], str]:
    m = re.match(r"^([A-Za-z0-9_.-]+)(\[([^\]]+)\])?\s*(.*)$", req.strip())
    assert m, req
    extras = set(m.group(3).split(",")) if m.group(3) else set()
    return m.group(1).lower(), extras, m.group(4).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    conda = {}
    pip_lines = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines += dep["pip"]
            continue
        name, _, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[\w-]+=\d", dep) else dep)
        conda[name] = spec
    for req in project["dependencies"]:
        name, extras, spec = _split(req)
        conda_name = CONDA_NAME.get(name, name)
        assert conda_name in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[conda_name] == spec, f"{name}: pyproject {spec} vs environment.yml " \
                                          f"{conda[conda_name]}"
        for extra in extras:
            assert EXTRA_PACKAGES[(name, extra)] in conda
    declared = {CONDA_NAME.get(_split(r)[0], _split(r)[0]) for r in project["dependencies"]}
    extra_conda = {"python", "pip", *EXTRA_PACKAGES.values()}
    assert set(conda) - declared - extra_conda == set(), "environment.yml has extra packages"
    assert pip_lines == ['-e ".[dev]"']
    assert conda["python"] == "==3.11"


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "nethelpers", "--help"], capture_output=True,
                         text=True, check=True)
    assert "demo" in out.stdout and "report" in out.stdout
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["nethelpers"] == "nethelpers.cli:main"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make report" in readme
