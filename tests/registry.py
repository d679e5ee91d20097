"""A real registry on loopback for the tests: Debian's docker-registry (the
CNCF distribution registry), plain HTTP on 127.0.0.1, filesystem storage in
a temporary directory, no authentication. `Registry.start(workdir)` starts
it and waits for /v2/; `stop()` ends it. skopeo reaches it with
--tls-verify=false (which lets it fall back to HTTP)."""

import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from garage import free_port


@dataclass
class Registry:
    workdir: Path
    port: int
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path) -> "Registry":
        binary = shutil.which("docker-registry")
        assert binary, "docker-registry is missing: scripts/setup.sh installs it"
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(json.dumps({  # YAML is a superset of JSON
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(workdir / "data")},
                        "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }))
        log = open(workdir / "registry.log", "wb")
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL)
        registry = cls(workdir, port, process)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=2) as answer:
                    if answer.status == 200:
                        return registry
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                registry.stop()
                raise RuntimeError("docker-registry did not start: "
                                   + (workdir / "registry.log").read_text()[-2000:])
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
