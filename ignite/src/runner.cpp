// The runner scripts (runner.hpp). Like the audit scripts they are part of every per-service
// image's content hash, so a change here rebuilds the images.
#include "ignite/src/runner.hpp"

#include <nlohmann/json.hpp>

namespace Ignite::detail {
namespace {

// Node.js and Bun.
constexpr std::string_view kNodeRunner = R"IGNITEJS(// Ignite runner for Node.js and Bun (pooled containers, see runner.hpp in the Ignite sources).
'use strict';
(function igniteRunner() {
  if (process.env.IGNITE_RUNNER !== '1') return;
  try {
    if (!require('worker_threads').isMainThread) return;
  } catch (e) { /* no worker_threads: the main thread */ }
  delete process.env.IGNITE_RUNNER;
  const fs = require('fs');
  // Child runtimes started with process.execArgv must not wait for a job of their own.
  const flag = typeof Bun !== 'undefined' ? '--preload' : '--require';
  for (let i = 0; i + 1 < process.execArgv.length; i++) {
    if (process.execArgv[i] === flag && process.execArgv[i + 1] === '/opt/ignite/runner-node.cjs') {
      try { process.execArgv.splice(i, 2); } catch (e) { /* read-only: leave it */ }
      break;
    }
  }
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const read = (buf, off, len) => {
    for (;;) {
      try {
        return fs.readSync(0, buf, off, len, null);
      } catch (e) {
        if (e && e.code === 'EAGAIN') { Atomics.wait(cell, 0, 0, 1); continue; }
        throw e;
      }
    }
  };
  // Node creates the standard output streams, and loads the stream machinery services read
  // stdin with, on first use: let the boot pay for that, not the job (3-10 ms of it). stdin
  // itself stays untouched: creating it would make fd 0 non-blocking under the reads below.
  void process.stdout;
  void process.stderr;
  try {
    require('net');
    const { Readable } = require('stream');
    new Readable({ read() {} })[Symbol.asyncIterator]();
  } catch (e) { /* a runtime without them: nothing to warm */ }
  fs.writeSync(2, '\x1eIGNITE-READY\n');
  let line = '';
  const one = Buffer.alloc(1);
  while (line.length < 20) {
    if (read(one, 0, 1) !== 1) process.exit(0);  // no job: the pool is draining
    if (one[0] === 10) break;
    line += String.fromCharCode(one[0]);
  }
  const size = Number(line);
  const body = Buffer.alloc(size);
  for (let got = 0; got < size;) {
    const n = read(body, got, size - got);
    if (n <= 0) process.exit(0);
    got += n;
  }
  const env = JSON.parse(body.toString('utf8'));
  for (const key of Object.keys(env)) process.env[key] = String(env[key]);
})();
)IGNITEJS";

constexpr std::string_view kDenoRunner = R"IGNITEJS(// Ignite runner for Deno (pooled containers, see runner.hpp in the Ignite sources).
await (async () => {
  const D = globalThis.Deno;
  if (!D || !D.stdin || !D.stderr) return;
  if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) return;
  if (D.env.get('IGNITE_RUNNER') !== '1') return;
  D.env.delete('IGNITE_RUNNER');
  // Deno loads the web streams and fetch body machinery on first use, which services reading
  // stdin with `new Response(Deno.stdin.readable)` would otherwise pay per job (~15 ms).
  try {
    await new Response(new Blob(['']).stream()).text();
  } catch (_e) { /* nothing to warm */ }
  D.stderr.writeSync(new TextEncoder().encode('\x1eIGNITE-READY\n'));
  let line = '';
  const one = new Uint8Array(1);
  while (line.length < 20) {
    if (D.stdin.readSync(one) !== 1) D.exit(0);
    if (one[0] === 10) break;
    line += String.fromCharCode(one[0]);
  }
  const size = Number(line);
  const body = new Uint8Array(size);
  for (let got = 0; got < size;) {
    const n = D.stdin.readSync(body.subarray(got));
    if (n === null || n <= 0) D.exit(0);
    got += n;
  }
  const env = JSON.parse(new TextDecoder().decode(body));
  for (const key of Object.keys(env)) D.env.set(key, String(env[key]));
})();
)IGNITEJS";

constexpr std::string_view kQuickJsRunner = R"IGNITEJS(// Ignite runner for QuickJS (pooled containers, see runner.hpp in the Ignite sources).
(function igniteRunner() {
  var S = globalThis.std, O = globalThis.os;
  if (!S || !O || S.getenv('IGNITE_RUNNER') !== '1') return;
  S.unsetenv('IGNITE_RUNNER');
  S.err.puts('\x1eIGNITE-READY\n');
  S.err.flush();
  var one = new ArrayBuffer(1), view = new Uint8Array(one), line = '';
  while (line.length < 20) {
    if (O.read(0, one, 0, 1) !== 1) S.exit(0);
    if (view[0] === 10) break;
    line += String.fromCharCode(view[0]);
  }
  var size = Number(line);
  var body = new ArrayBuffer(size);
  for (var got = 0; got < size;) {
    var n = O.read(0, body, got, size - got);
    if (n <= 0) S.exit(0);
    got += n;
  }
  // JSON text from the engine is ASCII (non-ASCII is \u-escaped), so bytes are characters.
  var bytes = new Uint8Array(body), text = '';
  for (var i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(i + 8192, bytes.length)));
  }
  var env = JSON.parse(text);
  for (var key in env) S.setenv(key, String(env[key]));
})();
)IGNITEJS";

constexpr AuditScript kScripts[] = {
    {"runner-node.cjs", kNodeRunner},
    {"runner-deno.js", kDenoRunner},
    {"runner-qjs.js", kQuickJsRunner},
};

}  // namespace

std::span<const AuditScript> runner_scripts() { return kScripts; }

std::optional<std::vector<std::string>> runner_argv(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string_view program = program_of(argv);
  const std::string dir(kAuditDir);
  std::vector<std::string> out = argv;
  if (program == "node") {
    out.insert(out.begin() + 1, {"--require", dir + "/runner-node.cjs"});
  } else if (program == "bun") {
    out.insert(out.begin() + 1, {"--preload", dir + "/runner-node.cjs"});
  } else if (program == "deno") {
    if (argv[1] != "run") return std::nullopt;
    out.insert(out.begin() + 2, {"--preload", dir + "/runner-deno.js"});
  } else if (program == "qjs") {
    if (!has_option(argv, "--std")) return std::nullopt;
    // Ahead of any other include (the audit bootstrap reads stdin after the job header).
    auto at = out.end() - 1;
    for (auto it = out.begin() + 1; it != out.end() - 1; ++it) {
      if (*it == "-I") {
        at = it;
        break;
      }
    }
    out.insert(at, {"-I", dir + "/runner-qjs.js"});
  } else {
    return std::nullopt;
  }
  return out;
}

std::string runner_header(const std::vector<std::pair<std::string, std::string>>& env) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : env) j[k] = v;
  // ensure_ascii: the QuickJS runner turns bytes into characters one to one.
  const std::string body = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return std::to_string(body.size()) + "\n" + body;
}

std::string supervisor_key_line(const std::string& key) { return "IGNITE-KEY " + key + "\n"; }

}  // namespace Ignite::detail
