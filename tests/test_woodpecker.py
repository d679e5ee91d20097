"""The pipelines are checked with Woodpecker's own schema (offline), so a
broken pipeline fails here, not on the agent; and the tool image is built
the way a Woodpecker step needs it."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

VALIDATOR = ROOT.parent / "shared" / "woodpecker" / "validate.py"
PIPELINES = sorted((ROOT / ".woodpecker").glob("*.yml"))


def validate(*files):
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: the shared contract repo sits beside this one"
    return subprocess.run([sys.executable, str(VALIDATOR), *map(str, files)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_pipeline_is_valid(pipeline):
    run = validate(pipeline)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{pipeline}: OK" in run.stdout


def test_the_validator_rejects_broken_pipelines():
    """So that an OK above means something."""
    broken = sorted((VALIDATOR.parent / "examples").glob("broken-*.yml"))
    assert broken
    for pipeline in broken:
        assert validate(pipeline).returncode != 0, pipeline


def test_there_are_pipelines():
    assert {p.name for p in PIPELINES} >= {"build-arm.yml", "ci.yml"}


def stages(dockerfile: Path):
    """FROM-separated stages, each a list of (instruction, arguments)."""
    result, lines = [], dockerfile.read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            result.append([])
        result[-1].append((instruction.upper(), args.strip()))
    return result


def test_tool_image_is_small_and_unprivileged():
    final = stages(ROOT / "Dockerfile")[-1]
    text = " ".join(args for _, args in final)
    assert len(stages(ROOT / "Dockerfile")) >= 2, "multi-stage"
    assert not any(word in text for word in ("cargo ", "rustc", "rustup", "gcc", "build-essential"))
    users = [args for instruction, args in final if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(instruction == "ENTRYPOINT" and "publish-artifact" in args
               for instruction, args in final)
    assert any("ca-certificates" in args for _, args in final)


def test_the_readme_plugin_step_is_valid(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    pipeline = tmp_path / "readme-step.yml"
    pipeline.write_text("when:\n  - event: push\nsteps:\n" + block)
    run = validate(pipeline)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "settings" in block and "from_secret" in block
