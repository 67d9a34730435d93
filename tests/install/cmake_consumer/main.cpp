// Runs a service through the installed C++ library: cpp_consumer <service-dir> <input-json>
#include <ignite/ignite.hpp>
#include <ignite/json.hpp>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cpp_consumer DIR JSON\n";
    return 2;
  }
  Ignite::Engine engine;
  try {  // Ignite::Error is catchable across the shared-library boundary
    engine.load("/nonexistent/ignite-install-test");
    return 3;
  } catch (const Ignite::Error& e) {
    if (e.code() != Ignite::ErrorCode::Service) return 4;
  }
  Ignite::ExecuteOptions opt;
  opt.input = argv[2];
  const Ignite::ExecutionResult r = engine.execute(engine.load(argv[1]), opt);
  const nlohmann::json j = r;
  std::cout << r.stdout_text << "outcome: " << j.at("outcome").get<std::string>() << "\n"
            << "ignite " << Ignite::version() << "\n";
  return r.outcome == Ignite::Outcome::Success ? 0 : 1;
}
