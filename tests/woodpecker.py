"""What Woodpecker does to a step before it runs, for tests that run a
pipeline's steps here: the parse-time substitution of ${VAR} and
${VAR:offset:length}, and a plugin step's `settings:` turned into the
PLUGIN_* variables the plugin reads (docs: usage/environment, usage/secrets,
usage/plugins)."""

import json
import re


def substitute(text: str, variables: dict) -> str:
    """${VAR} and ${VAR:offset:length}; $VAR is left to the shell."""
    def value(match):
        found = variables[match.group(1)]
        if match.group(2):
            start, length = int(match.group(2)), int(match.group(3))
            found = found[start:start + length]
        return found
    return re.sub(r"\$\{(\w+)(?::(\d+):(\d+))?\}", value, text)


def plugin_env(settings: dict, variables: dict, secrets: dict) -> dict:
    """PLUGIN_<NAME> for each setting: `from_secret` resolved from `secrets`,
    strings substituted, booleans and numbers as text, lists comma-joined,
    other mappings as JSON."""
    env = {}
    for name, value in settings.items():
        if isinstance(value, dict) and set(value) == {"from_secret"}:
            value = secrets[value["from_secret"]]
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif isinstance(value, list):
            value = ",".join(substitute(str(item), variables) for item in value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        else:
            value = substitute(value, variables)
        env[f"PLUGIN_{name.upper()}"] = value
    return env
