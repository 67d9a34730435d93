// The audit channel without Docker: the stderr demultiplexer under every way the stream can be
// cut into frames, record validation, the bootstrap command lines and the nonce.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "ignite/src/audit.hpp"

using Ignite::detail::audit_argv;
using Ignite::detail::AuditDemux;
using Ignite::detail::AuditRecord;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

const std::string kNonce = "0123456789abcdef0123456789abcdef";
const std::string kMarker = "\x1eIGNITE-AUDIT " + kNonce + " ";

std::string record(const std::string& target) {
  return kMarker + R"({"type":"filesystem","action":"write","target":")" + target +
         R"(","time":1767225600000,"details":"fs.writeFileSync"})" + "\n";
}

struct Collected {
  std::string stderr_text;
  std::vector<std::string> targets;
  std::size_t malformed = 0;
};

// Feeds `stream` cut at the given offsets.
Collected demux(const std::string& stream, const std::vector<std::size_t>& cuts) {
  Collected c;
  AuditDemux d(
      kNonce, [&](std::string_view s) { c.stderr_text.append(s); },
      [&](AuditRecord&& r) { c.targets.push_back(r.target); });
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    d.feed(std::string_view(stream).substr(at, cut - at));
    at = cut;
  }
  d.feed(std::string_view(stream).substr(at));
  d.finish();
  c.malformed = d.malformed();
  return c;
}

}  // namespace

TEST(AuditDemux, SeparatesRecordsFromServiceOutputAtEveryCut) {
  const std::string fake = "\x1eIGNITE-AUDIT fake {\"type\":\"network\",\"action\":\"connect\"}\n";
  const std::string wrong_nonce =
      "\x1eIGNITE-AUDIT ffffffffffffffffffffffffffffffff {\"type\":\"process\"}\n";
  const std::string stream = "line one\n" + record("/etc/a") + "partial" + record("/app/b") +
                             " rest\n" + fake + wrong_nonce + "\x1e stray\n" + record("/etc/c") +
                             "tail \x1eIGNITE-AU";
  const std::string service = "line one\npartial rest\n" + fake + wrong_nonce +
                              "\x1e stray\ntail \x1eIGNITE-AU";
  const std::vector<std::string> targets = {"/etc/a", "/app/b", "/etc/c"};
  // Whole, and cut once at every offset.
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    const auto c = demux(stream, {i});
    ASSERT_EQ(c.stderr_text, service) << "cut at " << i;
    ASSERT_EQ(c.targets, targets) << "cut at " << i;
    ASSERT_EQ(c.malformed, 0u);
  }
  // Byte by byte, and random frame sizes.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
  EXPECT_EQ(demux(stream, every).stderr_text, service);
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0;;) {
      at += 1 + rng() % 40;
      if (at >= stream.size()) break;
      cuts.push_back(at);
    }
    const auto c = demux(stream, cuts);
    ASSERT_EQ(c.stderr_text, service);
    ASSERT_EQ(c.targets, targets);
  }
}

TEST(AuditDemux, ServiceOutputPassesThroughUnchanged) {
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>(i % 256);
  EXPECT_EQ(demux(binary, {100, 1000, 1001}).stderr_text, binary);
  EXPECT_EQ(demux("", {}).stderr_text, "");
  // A marker prefix that turns out to be something else is released as it is.
  EXPECT_EQ(demux("\x1eIGNITE-AUDIT 0123\n", {3}).stderr_text, "\x1eIGNITE-AUDIT 0123\n");
}

TEST(AuditDemux, MalformedAndOverlongRecordsAreDroppedWithBoundedMemory) {
  const std::string overlong = kMarker + std::string(AuditDemux::kMaxRecord + 10, 'x') + "\n";
  const std::string stream = "a\n" + kMarker + "not json\n" + overlong + record("/etc/ok") +
                             kMarker + R"({"type":"weird","action":"x","target":"t"})" + "\n" +
                             "b\n" + kMarker + "{\"type\":\"net";  // cut off by the end of stream
  const auto c = demux(stream, {5, 20, 300, 8500});
  EXPECT_EQ(c.stderr_text, "a\nb\n");
  EXPECT_EQ(c.targets, std::vector<std::string>{"/etc/ok"});
  EXPECT_EQ(c.malformed, 4u);
}

TEST(AuditRecord, Validation) {
  using Ignite::detail::parse_audit_record;
  const auto ok = parse_audit_record(
      R"({"type":"process","action":"spawn","target":"/bin/ls","time":1767225600123,"details":"d","program":"ls"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->type, "process");
  EXPECT_EQ(ok->program, "ls");
  EXPECT_EQ(ok->time_ms, 1767225600123);
  EXPECT_FALSE(parse_audit_record(R"({"type":"resource","action":"oom-kill","target":"m"})"));
  EXPECT_FALSE(parse_audit_record(R"({"type":"network","action":"Connect!","target":"h:1"})"));
  EXPECT_FALSE(parse_audit_record(R"({"type":"network","action":"connect","target":5})"));
  EXPECT_FALSE(parse_audit_record(R"(["network"])"));
  // A nonsense clock is dropped (the engine stamps the event itself), not rejected.
  const auto no_time = parse_audit_record(R"({"type":"network","action":"dns","target":"h","time":-1})");
  ASSERT_TRUE(no_time);
  EXPECT_FALSE(no_time->time_ms);
}

TEST(AuditArgv, BootstrapBeforeTheEntryForEachRuntime) {
  using V = std::vector<std::string>;
  EXPECT_EQ(*audit_argv({"node", "/app/index.js"}),
            (V{"node", "--require", "/opt/ignite/audit-node.cjs", "/app/index.js"}));
  EXPECT_EQ(*audit_argv({"bun", "/app/index.ts"}),
            (V{"bun", "--preload", "/opt/ignite/audit-bun.js", "/app/index.ts"}));
  EXPECT_EQ(*audit_argv({"deno", "run", "--no-prompt", "--allow-read=/app", "/app/index.ts"}),
            (V{"deno", "run", "--preload", "/opt/ignite/audit-deno.js", "--no-prompt",
               "--allow-read=/app", "/app/index.ts"}));
  EXPECT_EQ(*audit_argv({"qjs", "--std", "-m", "/app/index.mjs"}),
            (V{"qjs", "--std", "-m", "-I", "/opt/ignite/audit-qjs.js", "/app/index.mjs"}));
  EXPECT_FALSE(audit_argv({"qjs", "/app/index.js"}));  // no std/os globals
  EXPECT_FALSE(audit_argv({"python3", "/app/main.py"}));
  EXPECT_FALSE(audit_argv({"deno", "/app/index.ts"}));
  EXPECT_FALSE(audit_argv({"node"}));
}

TEST(AuditScripts, EveryBootstrapIsShipped) {
  std::set<std::string> names;
  for (const auto& s : Ignite::detail::audit_scripts()) {
    names.insert(std::string(s.name));
    EXPECT_THAT(std::string(s.content), HasSubstr("IGNITE-AUDIT ")) << s.name;
  }
  EXPECT_EQ(names, (std::set<std::string>{"audit-node.cjs", "audit-bun.js", "audit-deno.js",
                                          "audit-qjs.js"}));
}

TEST(AuditNonce, RandomHex) {
  const std::string a = Ignite::detail::audit_nonce();
  const std::string b = Ignite::detail::audit_nonce();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}
