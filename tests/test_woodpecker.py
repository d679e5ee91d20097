"""The pipelines are checked with Woodpecker's own schema (offline), so a
broken pipeline fails here, not on the agent; and the tool image is built
the way a Woodpecker step needs it.

The schema comes with `check-jsonschema` (pinned in tests/requirements.txt):
`--builtin-schema vendor.woodpecker-ci` is Woodpecker's
pipeline/frontend/yaml/linter/schema/schema.json from its main branch,
vendored into the wheel with at most 10 values per matrix axis added. It is
stricter than a Woodpecker server in one way (the server only warns about
`environment` beside `settings`; the schema rejects it, and the plugin steps
here follow the schema) and blind to what Woodpecker's Go linter checks
beyond it; the two rules of that which matter here are checked below. Its
YAML parser (ruamel, YAML 1.2) refuses duplicate keys, as go-yaml does.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

PIPELINES = sorted((ROOT / ".woodpecker").glob("*.yml"))


def validator() -> list:
    """check-jsonschema from PATH, or as a module of this Python."""
    found = shutil.which("check-jsonschema")
    return [found] if found else [sys.executable, "-m", "check_jsonschema"]


def validate(*files):
    return subprocess.run(
        [*validator(), "--builtin-schema", "vendor.woodpecker-ci", *map(str, files)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_pipeline_is_valid(pipeline):
    run = validate(pipeline)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok -- validation done" in run.stdout


def test_there_are_pipelines():
    assert {p.name for p in PIPELINES} >= {"build-arm.yml", "ci.yml", "promote.yml"}


# Each pipeline below breaks one rule of Woodpecker 3.x, on top of a step that
# is valid on its own; the fragment is what the validator must say about it.
VALID_STEP = """\
  - name: build
    image: alpine:3.20
    commands: [make]
"""
PLUGIN_STEP = """\
  - name: publish
    image: registry.example.com/tools/publish-artifact:0.1.0
    settings:
      file: image.tar
"""
ON_PUSH = "when:\n  - event: push\n"

BROKEN = {
    # A plugin step takes its input from `settings:` only.
    "environment beside settings": (
        ON_PUSH + "steps:\n" + PLUGIN_STEP + "    environment:\n      S3_BUCKET: artifacts\n",
        "Additional properties are not allowed",
    ),
    "commands beside settings": (
        ON_PUSH + "steps:\n" + PLUGIN_STEP + "    commands: [publish-artifact]\n",
        "Additional properties are not allowed",
    ),
    # The 2.x list form of `environment` was removed in 3.0.
    "environment as a list": (
        ON_PUSH + "steps:\n" + VALID_STEP + "    environment:\n      - A=b\n",
        "is not of type 'object'",
    ),
    # So was the step key `secrets:`.
    "secrets key": (
        ON_PUSH + "steps:\n" + VALID_STEP + "    secrets: [s3_secret_key]\n",
        "'secrets' was unexpected",
    ),
    # Top-level `platform:` is an error since 3.0 (`labels: {platform: ...}`).
    "top-level platform": (
        "platform: linux/arm64\n" + ON_PUSH + "steps:\n" + VALID_STEP,
        "'platform' was unexpected",
    ),
    "top-level pipeline": (
        "pipeline:\n  build:\n    image: alpine:3.20\n    commands: [make]\n",
        "'pipeline' was unexpected",
    ),
    # `when` is a mapping or a list of mappings, not an event name.
    "when as a string": (
        "when: push\nsteps:\n" + VALID_STEP,
        "$.when: 'push' is not valid",
    ),
    "unknown event": (
        "when:\n  - event: merge\nsteps:\n" + VALID_STEP,
        "'merge' is not one of",
    ),
    "branches instead of branch": (
        "when:\n  - event: push\n    branches: [main]\nsteps:\n" + VALID_STEP,
        "'branches' was unexpected",
    ),
    "depends_on misspelt": (
        ON_PUSH + "steps:\n" + VALID_STEP + "    depend_on: [lint]\n",
        "'depend_on' was unexpected",
    ),
    # go-yaml refuses duplicate keys; PyYAML would silently keep the last.
    "duplicate key": (
        ON_PUSH + "steps:\n" + VALID_STEP + "    image: alpine:3.21\n",
        "duplicate key",
    ),
}


def test_the_valid_parts_of_the_broken_examples_are_valid(tmp_path):
    """So that each broken example below fails for its one broken rule."""
    for name, text in {"commands": VALID_STEP, "plugin": PLUGIN_STEP}.items():
        pipeline = tmp_path / f"{name}.yml"
        pipeline.write_text(ON_PUSH + "steps:\n" + text)
        run = validate(pipeline)
        assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("case", BROKEN, ids=str)
def test_the_validator_rejects_broken_pipelines(case, tmp_path):
    """So that an OK above means something."""
    text, says = BROKEN[case]
    pipeline = tmp_path / "broken.yml"
    pipeline.write_text(text)
    run = validate(pipeline)
    assert run.returncode != 0, f"{case} passed:\n{text}"
    assert says in run.stdout + run.stderr, run.stdout + run.stderr


# What the schema cannot see, Woodpecker's Go linter checks (pipeline/frontend/
# yaml/linter/linter.go); the two rules of it these pipelines could break are
# checked here: every `depends_on` names a step, and step names are unique.
def linter_findings(doc: dict) -> list:
    steps = doc.get("steps") or []
    if isinstance(steps, dict):
        steps = [{"name": name, **step} for name, step in steps.items()]
    names = [step.get("name") for step in steps]
    findings = [f"step {name} twice" for name in sorted(set(names)) if names.count(name) > 1]
    findings += [
        f"{step.get('name')} depends on unknown {dep_name}"
        for step in steps
        for dep in step.get("depends_on") or []
        for dep_name in [dep.get("name") if isinstance(dep, dict) else dep]
        if dep_name not in names
    ]
    return findings


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_the_pipelines_pass_the_linter_rules_the_schema_misses(pipeline):
    assert linter_findings(yaml.safe_load(pipeline.read_text())) == []


@pytest.mark.parametrize("extra, finding", [
    ("    depends_on: [shared-contract]\n", "build depends on unknown shared-contract"),
    ("    depends_on: []\n" + VALID_STEP, "step build twice"),
])
def test_the_linter_rules_catch_what_the_schema_passes(tmp_path, extra, finding):
    text = ON_PUSH + "steps:\n" + VALID_STEP + extra
    pipeline = tmp_path / "linter-only.yml"
    pipeline.write_text(text)
    assert validate(pipeline).returncode == 0, "the schema now checks this: drop the extra rule"
    assert finding in linter_findings(yaml.safe_load(text))


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
        elif not result:
            continue  # a global ARG, before the first stage
        result[-1].append((instruction.upper(), args.strip()))
    return result


def test_tool_image_is_small_and_unprivileged():
    final = stages(ROOT / "Dockerfile")[-1]
    text = " ".join(args for _, args in final)
    assert len(stages(ROOT / "Dockerfile")) >= 2, "multi-stage"
    # Nothing but the root scripts/image-root.sh lays (tests/test_image.py
    # checks the built image's every file).
    assert final[0] == ("FROM", "scratch")
    assert not any(instruction in ("RUN", "ADD") for instruction, _ in final)
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


# promote.yml: what docs/promotion.md and the promote spec rely on.
def pipeline(name: str) -> dict:
    return yaml.safe_load((ROOT / ".woodpecker" / name).read_text())


# `promote`'s flags as plugin settings (PLUGIN_<NAME>), and the variables it reads.
PROMOTE_FLAGS = {"resource_name", "architecture", "version", "from", "to", "stages",
                 "require_vsa_for", "commit", "builder_id", "repository", "replace", "dry_run",
                 "json"}
PROMOTE_VARIABLES = {"s3_endpoint", "s3_access_key", "s3_secret_key", "s3_bucket", "s3_region",
                     "admin_api_url", "admin_api_token", "admin_api_publish_path",
                     "cdn_public_base_url", "attestation_public_key", "promotion_signing_key",
                     "vsa_public_key", "promotion_private_key"}
PROMOTE_SECRETS = {"s3_access_key", "s3_secret_key", "admin_api_token", "promotion_signing_key",
                   "promotion_private_key"}


def deploy_filter_runs(expression: str, target: str) -> bool:
    """The `evaluate` expression, for one deploy target. Woodpecker evaluates
    it with expr-lang; this expression (a variable `in` a list of string
    literals) means the same in Python, which is evaluated here with nothing
    else in scope."""
    return eval(expression, {"__builtins__": {}}, {"CI_PIPELINE_DEPLOY_TARGET": target})


def test_promote_runs_only_on_deployments_to_stage_and_main():
    promote = pipeline("promote.yml")
    [rule] = promote["when"]
    assert set(rule) == {"event", "evaluate"}
    assert rule["event"] in ("deployment", ["deployment"])
    assert [t for t in ("dev", "stage", "main", "production", "") if
            deploy_filter_runs(rule["evaluate"], t)] == ["stage", "main"]
    assert promote["skip_clone"] is True
    assert promote["concurrency"] in (1, {"limit": 1})
    # And the build never runs on a deployment: it stays on push.
    assert [r["event"] for r in pipeline("build-arm.yml")["when"]] == ["push"]


def test_promote_is_a_plugin_step_with_the_parents_version_and_secret_keys():
    [step] = pipeline("promote.yml")["steps"]
    assert "commands" not in step and "environment" not in step
    settings = step["settings"]
    assert settings["command"] == "promote"
    # build-arm.yml's version, for the pipeline the deployment was started for.
    [build_version] = pipeline("build-arm.yml")["steps"][0]["settings"]["tags"]
    assert settings["version"] == build_version.replace("CI_PIPELINE_NUMBER", "CI_PIPELINE_PARENT")
    assert settings["to"] == "${CI_PIPELINE_DEPLOY_TARGET}"
    assert settings["commit"] == "${CI_COMMIT_SHA}"
    secret = {name for name, value in settings.items() if isinstance(value, dict)}
    for name in secret:
        assert settings[name] == {"from_secret": name}, name
    assert set(settings) - secret - {"command"} <= PROMOTE_FLAGS
    assert secret <= PROMOTE_VARIABLES
    assert PROMOTE_SECRETS <= secret, "a key or credential written into the pipeline"
    # The build's signing key is not the promotion's: the step never gets it.
    assert "attestation_signing_key" not in settings


def test_the_build_wraps_keys_for_promotion():
    publish = {step["name"]: step for step in pipeline("build-arm.yml")["steps"]}["publish"]
    assert publish["environment"]["PROMOTION_PUBLIC_KEY"] == {"from_secret": "promotion_public_key"}
