#!/usr/bin/env python3
"""Counts passed/failed/skipped test cases of a `bazel test` run or of one JUnit XML file.

Usage: count_tests.py BAZEL_LOG TESTLOGS_DIR -> prints "PASSED FAILED SKIPPED".
       count_tests.py --junit FILE.xml       -> the same for one JUnit XML (e.g. pytest's).

Rules (each red means a real defect, each green a checked behaviour):
- Test cases are counted one by one from each target's test.xml: a case with a <failure> or
  <error> failed; a case that was skipped (GTEST_SKIP, pytest.skip) or disabled (DISABLED_,
  status="notrun") is skipped, never passed.
- A target Bazel reports as FAILED/TIMEOUT/NO STATUS/FAILED TO BUILD whose XML is missing,
  unreadable or shows no failing case counts as one failure (crash, timeout, build error).
- A log that shows a Bazel loading or analysis error ("ERROR:" lines before any test ran) counts
  as one failure, so the closing line can never say "0 failed" for a run that did not happen.
Problems are explained on stderr; the counts go to stdout.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

STATUS = re.compile(
    r"^(//\S+)\s+(?:\(cached\)\s+)?(PASSED|FAILED|TIMEOUT|NO STATUS|FLAKY|FAILED TO BUILD|SKIPPED)\b")


def case_counts(root) -> tuple:
    """(passed, failed, skipped) over every <testcase> below `root`."""
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif (case.find("skipped") is not None or case.get("status") == "notrun"
              or case.get("result") in ("skipped", "suppressed")):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def parse(xml: str):
    """(passed, failed, skipped) of one JUnit XML, or None when it is missing or unreadable."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"[count] {xml}: unreadable ({e})", file=sys.stderr)
        return None
    counts = case_counts(root)
    if sum(counts) == 0:
        # Bazel writes a case-less XML for a target that crashed before any case ran; its
        # suite-level failure count (if any) says so.
        fails = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                    for s in ([root] if root.tag == "testsuite" else root.iter("testsuite")))
        if fails:
            return 0, fails, 0
        return None
    return counts


def junit_main(xml: str) -> None:
    counts = parse(xml)
    if counts is None:
        print(f"[count] {xml}: no test case ran: counted as 1 failure", file=sys.stderr)
        counts = (0, 1, 0)
    print(*counts)


def bazel_main(log_path: str, testlogs: str) -> None:
    passed = failed = skipped = 0
    targets = 0
    analysis_errors = []
    try:
        log = open(log_path, errors="replace")
    except OSError as e:
        print(f"[count] {log_path}: unreadable ({e}): counted as 1 failure", file=sys.stderr)
        print(0, 1, 0)
        return
    with log:
        for raw in log:
            line = raw.strip()
            if line.startswith("ERROR:") and targets == 0:
                analysis_errors.append(line)
            m = STATUS.match(line)
            if not m:
                continue
            targets += 1
            target, status = m.groups()
            pkg, _, name = target[2:].partition(":")
            counts = None
            if status != "FAILED TO BUILD":
                counts = parse(os.path.join(testlogs, pkg, name, "test.xml"))
            if counts is None:
                if status == "PASSED":
                    # A target without cases (e.g. a shell test) that passed is one check.
                    passed += 1
                elif status == "SKIPPED":
                    skipped += 1
                else:
                    print(f"[count] {target}: {status} with no readable result: counted as 1 "
                          "failure", file=sys.stderr)
                    failed += 1
                continue
            p, f, s = counts
            if status not in ("PASSED", "FLAKY") and f == 0:
                print(f"[count] {target}: {status} outside any test case: counted as 1 failure",
                      file=sys.stderr)
                f = 1
            passed += p
            failed += f
            skipped += s
    if analysis_errors and targets == 0:
        for e in analysis_errors[:5]:
            print(f"[count] {e}", file=sys.stderr)
        failed += 1
    elif targets == 0:
        print(f"[count] {log_path}: no test target reported a status: counted as 1 failure",
              file=sys.stderr)
        failed += 1
    print(passed, failed, skipped)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--junit":
        junit_main(sys.argv[2])
    elif len(sys.argv) == 3:
        bazel_main(sys.argv[1], sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
