"""The closing report of scripts/test.sh over one or more meson build folders:

    python scripts/test_report.py --allowlist tests/skip_allowlist.txt \\
        [--require build:python-integration ...] build build-asan ...

Counts meson's tests (meson-logs/testlog.json), pytest's own test cases (the junit XML files
meson-logs/pytest-*.xml that tests/meson.build has pytest write) and the Rust tests that
skipped ("SKIP rust <test>: <reason>" lines of bindings/rust/run-tests.sh). Prints every skip
reason with its count, then one closing line. Exits 1 when a test failed, when a skip's reason
matches no pattern of the allow-list, or when a required test (BUILD:NAME) did not run or
was skipped as a whole; 0 otherwise.

The allow-list holds one entry a line: a Python regular expression, " :: ", and why such a skip
is acceptable. The expression is searched in "WHERE: REASON", where WHERE names the build
folder and the suite ("build-asan python-integration", "build rust-binding", "build meson"),
so an entry can allow a skip in one build only. '#' starts a comment line."""

import argparse
import collections
import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

RUST_SKIP = re.compile(r"^SKIP rust (\S+): (.*)$", re.M)


def load_allowlist(path):
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            pattern, sep, why = text.partition(" :: ")
            if not sep or not why.strip():
                raise ValueError("%s:%d: expected 'PATTERN :: why it is acceptable'" % (path, number))
            try:
                entries.append((re.compile(pattern.strip()), why.strip()))
            except re.error as exc:
                raise ValueError("%s:%d: bad pattern: %s" % (path, number, exc)) from exc
    return entries


def meson_results(build):
    """(name, result, stdout) of each test in BUILD's last meson test run."""
    path = os.path.join(build, "meson-logs", "testlog.json")
    results = []
    if not os.path.exists(path):
        return results
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                # meson names tests "<project> / <test>"
                name = entry.get("name", "?").split(" / ")[-1]
                results.append((name, entry.get("result"), entry.get("stdout") or ""))
    return results


def pytest_cases(build):
    """(suite, outcome, reason) of each pytest case in BUILD's junit files; outcome is
    passed, failed or skipped."""
    cases = []
    for path in sorted(glob.glob(os.path.join(build, "meson-logs", "pytest-*.xml"))):
        suite = os.path.basename(path)[len("pytest-"):-len(".xml")]
        for case in ET.parse(path).getroot().iter("testcase"):
            outcome, reason = "passed", ""
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
                    reason = child.get("message") or (child.text or "").strip()
                    if child.get("type") == "pytest.xfail":
                        reason = "xfail: " + reason
            cases.append((suite, outcome, reason))
    return cases


def reason_key(reason):
    """pytest prefixes some skip messages with the file and line; they do not matter here."""
    return re.sub(r"^Skipped: ", "", reason.strip())


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allowlist", required=True)
    parser.add_argument("--require", action="append", default=[], metavar="BUILD:TEST")
    parser.add_argument("builds", nargs="+")
    args = parser.parse_args(argv)
    try:
        allowlist = load_allowlist(args.allowlist)
    except (OSError, ValueError) as exc:
        print("test_report: %s" % exc, file=sys.stderr)
        return 2

    problems = []
    meson = collections.Counter()
    pytest = collections.Counter()
    skips = collections.Counter()  # (where, reason) -> count
    ran = {}
    for path in args.builds:
        build = os.path.basename(os.path.normpath(path))  # the label in reports and --require
        for name, result, stdout in meson_results(path):
            ran[(build, name)] = result
            if result in ("OK", "EXPECTEDFAIL"):
                meson["passed"] += 1
            elif result == "SKIP":
                meson["skipped"] += 1
                skips[(build + " meson", "%s: skipped as a whole (exit 77)" % name)] += 1
            else:
                meson["failed"] += 1
                problems.append("%s: meson test %s: %s" % (build, name, result))
            for test, reason in RUST_SKIP.findall(stdout):
                skips[("%s %s" % (build, name), "%s: %s" % (test, reason_key(reason)))] += 1
                meson["rust skipped"] += 1
        for suite, outcome, reason in pytest_cases(path):
            pytest[outcome] += 1
            if outcome == "skipped":
                skips[("%s %s" % (build, suite), reason_key(reason))] += 1
    for required in args.require:
        build, _, name = required.partition(":")
        result = ran.get((build, name))
        if result is None:
            problems.append("%s: the required test %s did not run (not registered: a tool is missing?)"
                            % (build, name))
        elif result == "SKIP":
            problems.append("%s: the required test %s was skipped as a whole" % (build, name))

    if skips:
        print("skipped, by reason:")
    for (where, reason), count in sorted(skips.items()):
        key = "%s: %s" % (where, reason)
        why = next((why for pattern, why in allowlist if pattern.search(key)), None)
        mark = "allowed" if why else "NOT ALLOWED"
        print("  %4d  %-11s %s: %s" % (count, mark, where, reason[:160]))
        if not why:
            problems.append("%d skip(s) in %s with a reason not on %s: %s"
                            % (count, where, args.allowlist, reason))
    for line in problems:
        print("FAIL: " + line)
    print("meson: %d passed, %d failed, %d skipped | pytest: %d passed, %d failed, %d skipped | "
          "rust: %d skipped"
          % (meson["passed"], meson["failed"], meson["skipped"], pytest["passed"], pytest["failed"],
             pytest["skipped"], meson["rust skipped"]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
