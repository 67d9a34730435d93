"""Local (no-download) repository rule exposing the system Python headers."""

def _impl(rctx):
    p = rctx.attr.python
    python = rctx.path(p) if "/" in p else rctx.which(p)
    if not python or not python.exists:
        fail("%s not found" % p)
    res = rctx.execute([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
    if res.return_code != 0:
        fail("python3 failed: " + res.stderr)
    inc = res.stdout.strip()
    if not rctx.path(inc + "/Python.h").exists:
        fail("Python.h not found in %s (install python3-dev)" % inc)
    rctx.symlink(inc, "include")
    rctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])
cc_library(
    name = "python_headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
)
""")

python_configure = repository_rule(
    implementation = _impl,
    attrs = {"python": attr.string(default = "python3")},
    environ = ["PATH"],
    local = True,
)
