"""scripts/check_pins.py, which scripts/install-deps.sh uses to decide whether the venv needs
pip: every pinned package at its pinned version, or a line naming what is missing."""

import os
import subprocess
import sys
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "check_pins.py")


def check(*files):
    return subprocess.run([sys.executable, SCRIPT, *map(str, files)], capture_output=True, text=True)


def test_pins_that_hold_pass(tmp_path):
    req = tmp_path / "req.txt"
    # Spelled differently from the distribution's own name: names are compared normalized.
    req.write_text("# comment\n\nPyTest==%s   # trailing comment\n" % metadata.version("pytest"))
    result = check(req)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_a_different_version_and_a_missing_package_are_named(tmp_path):
    req = tmp_path / "req.txt"
    req.write_text("pytest==0.0.1\nno-such-package-for-olive==1.0\n")
    result = check(req)
    assert result.returncode == 1
    assert "pytest==0.0.1: version %s is installed" % metadata.version("pytest") in result.stdout
    assert "no-such-package-for-olive==1.0: not installed" in result.stdout


def test_a_line_that_is_not_a_pin_is_an_error(tmp_path):
    req = tmp_path / "req.txt"
    req.write_text("onnx>=1.0\n")
    result = check(req)
    assert result.returncode == 2
    assert "req.txt:1" in result.stderr


def test_every_pin_holds_in_the_python_running_the_tests():
    # The venv scripts/install-deps.sh prepared: a package missing here would make the suites
    # skip or compare against another reference.
    result = check(os.path.join(ROOT, "scripts", "requirements-test.txt"),
                   os.path.join(ROOT, "scripts", "requirements-models.txt"))
    assert result.returncode == 0, result.stdout + result.stderr
