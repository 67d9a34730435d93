#!/usr/bin/env python3
"""Runs the code blocks of README.md and docs/*.md against the real daemon, so a page cannot go
stale: a changed flag, field or function that breaks an example breaks the suite.

How a page marks its fenced blocks (the info string after the opening fence):

  ```sh                 run with bash -euo pipefail in the page's scratch directory (the
                        repository's layout: a copy of examples/services/, a tools/ignite that
                        runs the built CLI, `ignite` on PATH); blocks of one page share it and
                        run in order
  ```sh server          the same, with `ignite serve` running for the page; localhost:3000 in
                        the block is rewritten to that server's address
  ```python             run with python3 (ignite_sandbox importable) in the scratch directory
  ```c / ```cpp         compiled against the installed library (pkg-config ignite / ignite-cpp)
                        and run in the scratch directory
  ```yaml file=PATH     written to PATH in the scratch directory (also js, ts, json), for the
                        blocks after it; ```json alone is checked to parse
  ```text output        what the block before it prints: each line must appear, in order, as
                        part of an output line ("..." inside a line matches anything)
  ```LANG norun         not run; the line just before the block must say so visibly
                        ("not run by the doc tests", with the reason)
  ```text / ```         plain text, not code

Any other language without `norun` is an error (nothing is silently skipped). Each runnable
block is one test case in the JUnit XML Bazel collects ($XML_OUTPUT_FILE).
"""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

RUN = {"sh", "bash", "shell", "python", "c", "cpp"}
FILES = {"yaml", "yml", "js", "ts", "json", "javascript", "typescript"}
PLAIN = {"", "text", "txt", "plain", "output"}
NORUN_NOTE = "not run by the doc tests"
TIMEOUT = 180


def runfiles_root() -> str:
    srcdir = os.environ.get("TEST_SRCDIR")
    if srcdir:
        return os.path.join(srcdir, os.environ.get("TEST_WORKSPACE", "ignite"))
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


ROOT = runfiles_root()
# The interpreter python blocks (and `python3` in sh blocks) run with: the system Python the
# extension module is built for (docs/python.md), which also has pytest; else this one.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


class Block:
    def __init__(self, page, line, lang, attrs, text, before):
        self.page, self.line, self.lang, self.attrs, self.text, self.before = (
            page, line, lang, attrs, text, before)

    def attr(self, name):
        for a in self.attrs:
            if a == name:
                return True
            if a.startswith(name + "="):
                return a.split("=", 1)[1]
        return None

    @property
    def where(self):
        return f"{self.page}:{self.line}"


def parse_blocks(page: str, text: str):
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+|~~~+)\s*(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        words = info.split()
        lang = words[0].lower() if words else ""
        attrs = words[1:]
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        before = [l for l in lines[max(0, i - 3):i] if l.strip()]
        blocks.append(Block(page, i + 1, lang, attrs, "\n".join(body) + "\n", before))
        i = j + 1
    return blocks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """The scratch directory and environment one page's blocks share."""

    def __init__(self, name, prefix, cli):
        self.dir = tempfile.mkdtemp(prefix="doc-" + re.sub(r"\W", "_", name) + "-")
        # A copy, not a link: runfiles are symlinks into the source tree, which Ignite rightly
        # refuses as entries (they resolve outside the service directory) and which would
        # dangle in the container's /app; and blocks may write into a service (ignite.lock).
        shutil.copytree(os.path.join(ROOT, "examples", "services"),
                        os.path.join(self.dir, "examples", "services"), symlinks=False,
                        ignore=shutil.ignore_patterns("BUILD.bazel"))
        os.makedirs(os.path.join(self.dir, "tools"))
        shim = os.path.join(self.dir, "tools", "ignite")
        with open(shim, "w") as f:
            f.write(f'#!/bin/sh\nexec "{cli}" "$@"\n')
        os.chmod(shim, 0o755)
        bindir = os.path.join(self.dir, ".bin")
        os.makedirs(bindir)
        os.symlink(cli, os.path.join(bindir, "ignite"))
        os.symlink(PYTHON, os.path.join(bindir, "python3"))
        self.env = dict(os.environ)
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.env["PKG_CONFIG_PATH"] = os.path.join(prefix, "lib", "pkgconfig")
        self.env["LD_LIBRARY_PATH"] = os.path.join(prefix, "lib")
        self.env.pop("PYTHONSAFEPATH", None)
        self.cli = cli
        self.server = None
        self.port = None

    def start_server(self):
        if self.server:
            return
        self.port = free_port()
        self.server = subprocess.Popen(
            [self.cli, "serve", "--port", str(self.port), "--host", "127.0.0.1",
             "--services", os.path.join(self.dir, "examples", "services")],
            cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.server.poll() is not None:
                    raise RuntimeError("ignite serve exited: " + self.server.stderr.read().decode())
                time.sleep(0.1)
        raise RuntimeError("ignite serve did not listen within 60 s")

    def close(self):
        if self.server:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_block(b: Block, page: Page) -> str:
    """Runs a runnable block; returns its output; raises AssertionError with the reason."""
    if b.lang in ("sh", "bash", "shell"):
        script = b.text
        if b.attr("server"):
            page.start_server()
            script = script.replace("localhost:3000", f"127.0.0.1:{page.port}")
        cmd = ["bash", "-euo", "pipefail", "-c", script]
    elif b.lang == "python":
        cmd = [PYTHON, "-c", b.text]
    elif b.lang in ("c", "cpp"):
        src = os.path.join(page.dir, f"block{b.line}.{b.lang}")
        exe = os.path.join(page.dir, f"block{b.line}")
        with open(src, "w") as f:
            f.write(b.text)
        if b.lang == "c":
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ignite"], env=page.env,
                                   capture_output=True, text=True, check=True).stdout.split()
            build = ["gcc", "-std=c11", "-Wall", "-Werror", src, "-o", exe] + flags
        else:
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ignite-cpp"], env=page.env,
                                   capture_output=True, text=True, check=True).stdout.split()
            build = ["g++", "-std=c++20", "-Wall", "-Werror", src, "-o", exe] + flags
        c = subprocess.run(build, env=page.env, capture_output=True, text=True, timeout=TIMEOUT)
        if c.returncode != 0:
            raise AssertionError(f"does not compile:\n{c.stdout}{c.stderr}")
        cmd = [exe]
    else:
        raise AssertionError(f"cannot run a {b.lang} block")
    # One stream, as a terminal shows it: output blocks check stdout and stderr lines in the
    # order they were written.
    p = subprocess.run(cmd, cwd=page.dir, env=page.env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    out = p.stdout
    if p.returncode != 0:
        raise AssertionError(f"exited {p.returncode}:\n{out[-4000:]}")
    return out


def check_output(expected: str, actual: str):
    lines = actual.splitlines()
    pos = 0
    for want in (l.strip() for l in expected.splitlines()):
        if not want:
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        while pos < len(lines) and not pattern.search(lines[pos]):
            pos += 1
        if pos == len(lines):
            raise AssertionError(f"output has no line matching {want!r} (in order):\n{actual[-4000:]}")
        pos += 1


def pages():
    found = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return [p for p in found if os.path.exists(p)]


def install_prefix() -> str:
    prefix = tempfile.mkdtemp(prefix="doc-prefix-")
    subprocess.run([os.path.join(ROOT, "tools", "installer", "install.sh"), "--prefix", prefix,
                    "--from-bazel-bin", ROOT, "--source-dir", ROOT],
                   check=True, stdout=subprocess.DEVNULL)
    return prefix


def main() -> int:
    cli = os.path.join(ROOT, "examples", "cli", "ignite")
    prefix = install_prefix()
    cases, failures, total = [], 0, 0
    started = time.time()
    try:
        for path in pages():
            name = os.path.relpath(path, ROOT)
            with open(path) as f:
                blocks = parse_blocks(name, f.read())
            page = Page(name, prefix, cli)
            try:
                last_output, last_case = None, None
                for b in blocks:
                    if b.attr("norun"):
                        if not any(NORUN_NOTE in l.lower() for l in b.before):
                            cases.append((b, f"a norun block needs a visible note just before it "
                                             f"(\"{NORUN_NOTE}: <reason>\")"))
                        else:
                            print(f"[doc] {b.where}: not run (marked)")
                        continue
                    if b.attr("output"):
                        if last_output is None:
                            cases.append((b, "an output block must follow a runnable block"))
                            continue
                        try:
                            check_output(b.text, last_output)
                            cases.append((b, None))
                        except AssertionError as e:
                            cases.append((b, str(e)))
                        continue
                    if b.attr("file"):
                        target = os.path.join(page.dir, b.attr("file"))
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with open(target, "w") as f:
                            f.write(b.text)
                        continue
                    if b.lang in PLAIN:
                        continue
                    if b.lang in FILES:
                        if b.lang == "json":
                            try:
                                import json
                                json.loads(b.text)
                                cases.append((b, None))
                            except ValueError as e:
                                cases.append((b, f"not valid JSON: {e}"))
                        else:
                            cases.append((b, f"a {b.lang} block needs file=PATH (or norun)"))
                        continue
                    if b.lang not in RUN:
                        cases.append((b, f"unknown block language {b.lang!r}: use one the doc "
                                         f"tests run, or mark it norun with a visible note"))
                        continue
                    t0 = time.time()
                    try:
                        last_output = run_block(b, page)
                        cases.append((b, None))
                    except (AssertionError, subprocess.TimeoutExpired, RuntimeError) as e:
                        last_output = None
                        cases.append((b, str(e)))
                    print(f"[doc] {b.where}: {b.lang} block ran in {time.time() - t0:.1f}s")
            finally:
                page.close()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)

    suite = ET.Element("testsuite", name="doc_blocks", tests=str(len(cases)))
    for b, error in cases:
        total += 1
        case = ET.SubElement(suite, "testcase", name=f"{b.where} ({b.lang} {' '.join(b.attrs)})".strip(),
                             classname="docs")
        if error:
            failures += 1
            ET.SubElement(case, "failure", message=error.splitlines()[0][:200]).text = error
            print(f"[doc] FAILED {b.where}: {error}", file=sys.stderr)
    suite.set("failures", str(failures))
    xml_out = os.environ.get("XML_OUTPUT_FILE")
    if xml_out:
        root = ET.Element("testsuites")
        root.append(suite)
        ET.ElementTree(root).write(xml_out)
    print(f"[doc] {total} blocks checked, {failures} failed, in {time.time() - started:.1f}s")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
