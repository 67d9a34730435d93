#!/usr/bin/env python3
"""The public headers are the API reference: every public type and function in
ignite/include/ignite/*.hpp and capi/include/ignite.h has a comment, and every header says what
its thread-safety is.

A comment documents the declarations directly below it, up to the next blank line (a group of
overloads or of related members shares one comment); a comment at the end of the declaration's
line documents it too. Data members, enumerators and macros are not required to have one.
Bodies of inline functions and of enums are not looked into. One test case per header.
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET


def root() -> str:
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        return os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "ignite"))
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


TYPE = re.compile(r"^(template\s*<.*>\s*)?(struct|class|enum(\s+class)?|union)\s+(IGNITE_\w+\s+)?(\w+)[^;]*$")
ALIAS = re.compile(r"^(using\s+\w+\s*=|typedef\s)")
SKIP = re.compile(r"^(public:|private:|protected:|namespace\b|}|#|extern\s+\"C\"|friend\b|static_assert\b|"
                  r"IGNITE_BEGIN_DECL|IGNITE_END_DECL|template\s*<[^>]*>\s*$)")


def strip_strings(line: str) -> str:
    return re.sub(r'"(\\.|[^"\\])*"', '""', re.sub(r"'(\\.|[^'\\])'", "''", line))


def undocumented(path: str):
    """(line number, text) of public declarations without a comment."""
    with open(path) as f:
        lines = f.read().splitlines()
    missing = []
    # Scope stack: 'ns' (namespace / extern "C" / file), 'class', 'skip' (function or enum body,
    # initialiser).
    stack = ["ns"]
    commented = False  # a comment since the last blank line at this scope
    in_block_comment = False
    continuation = False  # this line continues the previous declaration or macro
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        was_continuation = continuation
        continuation = line.endswith("\\")
        if was_continuation:
            if line.startswith("#") or raw.rstrip().endswith("\\"):
                continue
        if in_block_comment:
            commented = True
            if "*/" in line:
                in_block_comment = False
            continue
        if line.startswith("/*"):
            commented = True
            if "*/" not in line:
                in_block_comment = True
            continue
        if line.startswith("//"):
            commented = True
            continue
        if not line:
            commented = False
            continue
        code = strip_strings(line.split("//")[0]).strip()
        trailing = "//" in strip_strings(line) or "/*" in line
        scope = stack[-1]
        # A declaration over several lines is judged by its first.
        continuation = continuation or (bool(code) and not code.startswith("#") and
                                        not code.endswith((";", "{", "}", ":", ",")))
        if scope != "skip" and not was_continuation and not SKIP.match(code):
            is_type = bool(TYPE.match(code)) and not code.endswith(";")
            is_alias = bool(ALIAS.match(code))
            head = code.split("=")[0]
            is_function = "(" in head and not code.startswith(("return", "static_cast"))
            # A data member with a default (`int x = f(1);`) is not a function.
            if "=" in code and code.index("=") < code.find("(") if "(" in code else False:
                is_function = False
            if (is_type or is_alias or is_function) and not commented and not trailing:
                missing.append((no, line))
        # Scope tracking by braces.
        opens, closes = code.count("{"), code.count("}")
        if opens > closes:
            if scope == "skip":
                kind = "skip"
            elif re.match(r"^(namespace\b|extern\s+\"C\")", code):
                kind = "ns"
            elif TYPE.match(code) and not re.match(r"^enum", code):
                kind = "class"
            else:
                kind = "skip"  # a function body, an enum, an initialiser
            for _ in range(opens - closes):
                stack.append(kind)
            commented = False
        elif closes > opens:
            for _ in range(closes - opens):
                if len(stack) > 1:
                    stack.pop()
            commented = False
    return missing


def main() -> int:
    r = root()
    headers = sorted(glob.glob(os.path.join(r, "ignite", "include", "ignite", "*.hpp")))
    headers.append(os.path.join(r, "capi", "include", "ignite.h"))
    suite = ET.Element("testsuite", name="header_comments", tests=str(len(headers)))
    failures = 0
    total_missing = 0
    for h in headers:
        name = os.path.relpath(h, r)
        case = ET.SubElement(suite, "testcase", name=name, classname="headers")
        problems = [f"{name}:{no}: no comment for: {text}" for no, text in undocumented(h)]
        with open(h) as f:
            if "thread" not in f.read().lower():
                problems.append(f"{name}: says nothing about thread-safety")
        total_missing += len(problems)
        if problems:
            failures += 1
            ET.SubElement(case, "failure", message=problems[0]).text = "\n".join(problems)
            print("\n".join(problems), file=sys.stderr)
    suite.set("failures", str(failures))
    xml_out = os.environ.get("XML_OUTPUT_FILE")
    if xml_out:
        top = ET.Element("testsuites")
        top.append(suite)
        ET.ElementTree(top).write(xml_out)
    print(f"[headers] {len(headers)} headers, {total_missing} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
