"""Plugin mode: a Woodpecker plugin step's `settings:` arrive as PLUGIN_*
variables; the tool reads each flag (and each contract variable) from them,
flags winning."""

import json

from conftest import publish_args, published

KEY = "dev/loader-arm64-2026-04-15.enc"


def as_plugin_settings(env: dict) -> dict:
    return {f"PLUGIN_{name}": value for name, value in env.items()}


def test_plugin_settings_alone_publish_like_flags(cli, tmp_path, garage, admin_api, publish_env):
    src = tmp_path / "image.tar"
    src.write_bytes(b"a saved image" * 1000)

    by_flags = cli(*publish_args(src), env=publish_env)
    assert by_flags.returncode == 0, by_flags.stderr
    flags_row = admin_api.requests[-1].json()
    garage.clear()

    settings = {
        "FILE": str(src), "RESOURCE_NAME": "loader", "DEV_STAGE": "dev",
        "ARCHITECTURE": "arm64", "VERSION": "2026-04-15", "JSON": "true",
        **publish_env,
    }
    by_plugin = cli(env=as_plugin_settings(settings))
    assert by_plugin.returncode == 0, by_plugin.stderr
    assert garage.keys() == published(KEY)
    plugin_row = admin_api.requests[-1].json()
    same = ["resource_name", "dev_stage", "architecture", "version", "cdn_url"]
    assert {k: plugin_row[k] for k in same} == {k: flags_row[k] for k in same}
    assert json.loads(by_plugin.stdout)["object_key"] == KEY
    assert admin_api.requests[-1].headers["authorization"] == f"Bearer {publish_env['ADMIN_API_TOKEN']}"


def test_flags_win_over_plugin_settings(cli, tmp_path, garage, admin_api, publish_env):
    src = tmp_path / "image.tar"
    src.write_bytes(b"image")
    env = {**publish_env, "PLUGIN_RESOURCE_NAME": "from-settings", "PLUGIN_VERSION": "0"}
    run = cli(*publish_args(src, name="from-flags", version="9"), env=env)
    assert run.returncode == 0, run.stderr
    assert garage.keys() == published("dev/from-flags-arm64-9.enc")


def test_the_command_setting_picks_the_subcommand_only_without_arguments(cli, tmp_path, garage,
                                                                         admin_api, publish_env):
    # A plugin runs the image's entrypoint with no arguments: `command: <name>` picks the
    # subcommand then (promote.yml uses `command: promote`; test_promote runs that step).
    unknown = cli(env={**publish_env, "PLUGIN_COMMAND": "no-such-command"})
    assert unknown.returncode == 2, unknown.output
    assert "no-such-command" in unknown.stderr
    assert garage.keys() == [] and admin_api.requests == []
    # Arguments win: a command line is never redirected by a stray setting.
    src = tmp_path / "image.tar"
    src.write_bytes(b"image")
    run = cli(*publish_args(src), env={**publish_env, "PLUGIN_COMMAND": "promote"})
    assert run.returncode == 0, run.output
    assert garage.keys() == published(KEY)
