"""`just demo` runs `scripts/demo.py`; this runs the very same script."""

import os
import subprocess
import sys

from conftest import ROOT, binary_path


def test_demo_runs_the_whole_loop(cli):
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(binary_path().parent.parent)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "byte-identical" in done.stdout
    assert "stopped Garage" in done.stdout
