/* Loads libignite.so (path in argv[1]) at run time, as an FFI would: the C API resolves, the
 * C++ core does not. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "ignite.h"

int main(int argc, char **argv) {
  void *lib;
  const char *(*version)(void);
  int (*version_number)(void);
  const char *(*error_str)(ignite_status);
  ignite_status (*engine_new)(ignite_engine **, const ignite_engine_options *);
  void (*engine_free)(ignite_engine *);
  ignite_engine *engine = NULL;
  int failed = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: dlopen_test path/to/libignite.so\n");
    return 2;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  *(void **)&version = dlsym(lib, "ignite_version");
  *(void **)&version_number = dlsym(lib, "ignite_version_number");
  *(void **)&error_str = dlsym(lib, "ignite_error_str");
  *(void **)&engine_new = dlsym(lib, "ignite_engine_new");
  *(void **)&engine_free = dlsym(lib, "ignite_engine_free");
  if (!version || !version_number || !error_str || !engine_new || !engine_free) {
    fprintf(stderr, "dlsym: an ignite_* symbol is missing\n");
    return 1;
  }
  if (strcmp(version(), IGNITE_C_VERSION) != 0 || version_number() != IGNITE_C_VERSION_NUMBER) {
    fprintf(stderr, "version mismatch: library %s, header %s\n", version(), IGNITE_C_VERSION);
    failed = 1;
  }
  if (strcmp(error_str(IGNITE_EINVALID), "invalid argument") != 0) failed = 1;
  if (engine_new(&engine, NULL) != IGNITE_OK || !engine) failed = 1;
  engine_free(engine);
  /* The C++ core is hidden: Ignite::version() and Ignite::Error are not resolvable. */
  if (dlsym(lib, "_ZN6Ignite7versionEv") || dlsym(lib, "_ZTIN6Ignite5ErrorE")) {
    fprintf(stderr, "a C++ symbol of the core is exported\n");
    failed = 1;
  }
  if (dlclose(lib) != 0) failed = 1;
  printf("libignite.so %s via dlopen: %s\n", IGNITE_C_VERSION, failed ? "FAILED" : "ok");
  return failed;
}
