"""Rules for tools/install: the public headers of a cc_library, and its objects as one archive."""

def _public_headers_impl(ctx):
    files = []
    for dep in ctx.attr.deps:
        for h in dep[CcInfo].compilation_context.headers.to_list():
            if "/include/" + ctx.attr.include_prefix + "/" in "/" + h.short_path:
                files.append(h)
    return [DefaultInfo(files = depset(files))]

# The headers under include/<include_prefix>/ of the given libraries (the installable API).
public_headers = rule(
    implementation = _public_headers_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "include_prefix": attr.string(mandatory = True),
    },
)

def _static_archives_impl(ctx):
    files = []
    for dep in ctx.attr.deps:
        for linker_input in dep[CcInfo].linking_context.linker_inputs.to_list():
            for lib in linker_input.libraries:
                archive = lib.pic_static_library or lib.static_library
                if archive:
                    files.append(archive)
    return [DefaultInfo(files = depset(files))]

# The static archives of the given libraries and of every cc_library they depend on.
static_archives = rule(
    implementation = _static_archives_impl,
    attrs = {"deps": attr.label_list(providers = [CcInfo])},
)
