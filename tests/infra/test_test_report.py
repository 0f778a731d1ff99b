"""scripts/test_report.py, the closing report of scripts/test.sh: pytest's and Rust's own
counts next to meson's, and a failure for a skip whose reason is not allowed or a required
suite that did not run."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "test_report.py")

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="t" name="a"/>
<testcase classname="t" name="b"><skipped type="pytest.skip" message="no tensor test data">x</skipped></testcase>
<testcase classname="t" name="c"><skipped type="pytest.skip" message="gguf is not installed">x</skipped></testcase>
<testcase classname="t" name="d"><failure message="boom">x</failure></testcase>
</testsuite></testsuites>
"""


def make_build(tmp_path, tests, junit=None):
    build = tmp_path / "build"
    logs = build / "meson-logs"
    logs.mkdir(parents=True)
    with open(logs / "testlog.json", "w") as f:
        for name, result, stdout in tests:
            f.write(json.dumps({"name": "libolive / " + name, "result": result, "stdout": stdout}) + "\n")
    if junit:
        (logs / "pytest-python-integration.xml").write_text(junit)
    return build


def report(tmp_path, build, allow, *extra):
    allowlist = tmp_path / "allow.txt"
    allowlist.write_text(allow)
    return subprocess.run([sys.executable, SCRIPT, "--allowlist", str(allowlist), *extra, str(build)],
                          capture_output=True, text=True, cwd=tmp_path)


def test_counts_pytest_cases_and_fails_on_a_skip_that_is_not_allowed(tmp_path):
    build = make_build(tmp_path, [("python-integration", "FAIL", ""), ("unit", "OK", "")], JUNIT)
    result = report(tmp_path, build, "^build python-integration: no tensor test data$ :: why\n")
    lines = result.stdout.splitlines()
    assert lines[-1] == ("meson: 1 passed, 1 failed, 0 skipped | pytest: 1 passed, 1 failed, "
                         "2 skipped | rust: 0 skipped"), result.stdout
    assert "allowed     build python-integration: no tensor test data" in result.stdout
    assert any(line.startswith("FAIL:") and "gguf is not installed" in line for line in lines)
    assert result.returncode == 1


def test_all_allowed_and_passing_is_success(tmp_path):
    junit = JUNIT.replace('<testcase classname="t" name="d"><failure message="boom">x</failure></testcase>', "")
    build = make_build(tmp_path, [("python-integration", "OK", "")], junit)
    result = report(tmp_path, build, "python-integration: (no tensor test data|gguf is not installed)$ :: why\n",
                    "--require", "build:python-integration")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("meson: 1 passed, 0 failed, 0 skipped | pytest: 1 passed")


def test_rust_skips_are_counted_and_checked(tmp_path):
    stdout = ("test result: ok. 2 passed\nSKIP rust engine_reference: no Python with onnx at /x\n"
              "SKIP rust workflow_reference: no Python with onnx at /x\n")
    build = make_build(tmp_path, [("rust-binding", "OK", stdout)])
    result = report(tmp_path, build, "# nothing allowed\n")
    assert result.returncode == 1
    assert "build rust-binding: engine_reference: no Python with onnx at /x" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("rust: 2 skipped")


def test_a_required_suite_that_did_not_run_or_skipped_fails(tmp_path):
    build = make_build(tmp_path, [("rust-binding", "SKIP", "")])
    result = report(tmp_path, build, "build meson: rust-binding: skipped as a whole :: allowed here\n",
                    "--require", "build:rust-binding", "--require", "build:python-binding")
    assert result.returncode == 1
    assert "the required test rust-binding was skipped as a whole" in result.stdout
    assert "the required test python-binding did not run" in result.stdout


def test_an_allowlist_entry_without_a_reason_is_refused(tmp_path):
    build = make_build(tmp_path, [])
    result = report(tmp_path, build, "no tensor test data\n")
    assert result.returncode == 2
    assert "PATTERN :: why" in result.stderr
