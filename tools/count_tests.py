#!/usr/bin/env python3
"""Counts passed/failed test cases of a `bazel test` run.

Usage: count_tests.py BAZEL_LOG TESTLOGS_DIR -> prints "PASSED FAILED".
       count_tests.py --junit FILE.xml       -> the same for one JUnit XML (e.g. pytest's).
Targets Bazel reports as PASSED/FAILED are counted per test case from their test.xml; a target
whose XML is missing or unreadable (build failure, crash, timeout) counts as one failure.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

STATUS = re.compile(r"^(//\S+)\s+(PASSED|FAILED|TIMEOUT|NO STATUS|FLAKY|FAILED TO BUILD)\b")


def junit_counts(xml: str) -> tuple:
    """(passed, failed) of one JUnit XML file; a missing or broken file is one failure."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return 0, 1
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = fails = skipped = 0
    for s in suites:
        tests += int(s.get("tests", 0))
        fails += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    if tests == 0:
        return 0, 1
    return tests - fails - skipped, fails


def main() -> None:
    if sys.argv[1] == "--junit":
        print(*junit_counts(sys.argv[2]))
        return
    log_path, testlogs = sys.argv[1], sys.argv[2]
    passed = failed = 0
    with open(log_path, errors="replace") as log:
        for line in log:
            m = STATUS.match(line.strip())
            if not m:
                continue
            target, status = m.groups()
            pkg, _, name = target[2:].partition(":")
            xml = os.path.join(testlogs, pkg, name, "test.xml")
            cases = fails = None
            if status in ("PASSED", "FAILED", "FLAKY") and os.path.exists(xml):
                try:
                    root = ET.parse(xml).getroot()
                    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
                    cases = fails = 0
                    for s in suites:
                        cases += int(s.get("tests", 0))
                        fails += int(s.get("failures", 0)) + int(s.get("errors", 0))
                except (ET.ParseError, ValueError):
                    cases = None
            if cases is None or cases == 0:
                if status == "PASSED":
                    passed += 1
                else:
                    failed += 1
                continue
            if status != "PASSED" and fails == 0:
                fails = 1  # the target failed outside any test case
            passed += cases - fails
            failed += fails
    print(passed, failed)


if __name__ == "__main__":
    main()
