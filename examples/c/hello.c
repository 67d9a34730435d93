/* Runs a service through libignite: hello <service-dir> [input-json] */
#include <ignite.h>
#include <stdio.h>

int main(int argc, char **argv) {
  ignite_engine *engine = NULL;
  ignite_service *svc = NULL;
  ignite_result *res = NULL;
  ignite_execute_options opts = IGNITE_EXECUTE_OPTIONS_INIT;
  ignite_outcome outcome = IGNITE_OUTCOME_ERROR;
  const char *out = NULL;
  size_t len = 0;
  opts.input_json = argc > 2 ? argv[2] : "{\"name\":\"C\"}";
  if (argc < 2 || ignite_engine_new(&engine, NULL) != IGNITE_OK ||
      ignite_service_load(&svc, engine, argv[1]) != IGNITE_OK ||
      ignite_execute(&res, engine, svc, &opts) != IGNITE_OK ||
      ignite_result_stdout(&out, &len, res) != IGNITE_OK ||
      ignite_result_outcome(&outcome, res) != IGNITE_OK) {
    fprintf(stderr, "hello: %s\n",
            argc < 2 ? "usage: hello DIR [JSON]" : ignite_error_last()->message);
  } else {
    fwrite(out, 1, len, stdout);
    printf("outcome: %s\n", ignite_outcome_str(outcome));
  }
  ignite_result_free(res);
  ignite_service_free(svc);
  ignite_engine_free(engine);
  return outcome == IGNITE_OUTCOME_SUCCESS ? 0 : 1;
}
