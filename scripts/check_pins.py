"""Checks that every package pinned (NAME==VERSION) in the given requirements files is installed
at that version in the running Python. Prints one line per package that is missing or at
another version; exits 0 when all pins hold, 1 otherwise, 2 when a file cannot be read or holds
a line that is not a pin.

    python scripts/check_pins.py scripts/requirements-test.txt scripts/requirements-models.txt

scripts/install-deps.sh runs it to decide whether pip has work to do: a package that is missing
or at another version makes tests skip or compare against another reference."""

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)$")


def normalized(name):
    """PEP 503 name normalization: case, '-', '_' and '.' do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path):
    """The (name, version) pins of one requirements file, in order."""
    found = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            m = PIN.match(text)
            if not m:
                raise ValueError("%s:%d: not a NAME==VERSION pin: %s" % (path, number, text))
            found.append((m.group(1), m.group(2)))
    return found


def unmet(requirements):
    """Lines describing each pin the running Python does not satisfy."""
    problems = []
    for name, want in requirements:
        try:
            have = metadata.version(normalized(name))
        except metadata.PackageNotFoundError:
            problems.append("%s==%s: not installed" % (name, want))
            continue
        if have != want:
            problems.append("%s==%s: version %s is installed" % (name, want, have))
    return problems


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    requirements = []
    try:
        for path in paths:
            requirements += pins(path)
    except (OSError, ValueError) as exc:
        print("check_pins: %s" % exc, file=sys.stderr)
        return 2
    problems = unmet(requirements)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
