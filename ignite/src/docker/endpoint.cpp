#include "ignite/src/docker/endpoint.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ignite/error.hpp"
#include "ignite/src/docker/tls.hpp"

namespace Ignite::docker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view kDefaultSocketUrl = "unix:///var/run/docker.sock";

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

Error config(std::string_view source, std::string_view value, const std::string& what) {
  return Error(ErrorCode::Config, std::string(source) + "=" + std::string(value) + ": " + what);
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw Error(ErrorCode::Internal, "EVP_Digest(sha256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0F];
  }
  return out;
}

// The docker CLI's configuration directory: $DOCKER_CONFIG, else ~/.docker.
fs::path config_dir() {
  if (std::string dir = env("DOCKER_CONFIG"); !dir.empty()) return dir;
  std::string home = env("HOME");
  return fs::path(home.empty() ? "/root" : home) / ".docker";
}

std::optional<json> read_json(const fs::path& file, std::string_view what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  json value = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    throw Error(ErrorCode::Config,
                file.string() + ": " + std::string(what) + " is not a JSON object");
  }
  return value;
}

int parse_port(std::string_view text, std::string_view source, std::string_view url) {
  int port = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || ptr != text.data() + text.size() || port < 1 || port > 65535) {
    throw config(source, url, "\"" + std::string(text) + "\" is not a port (1-65535)");
  }
  return port;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host (no brackets), port text ("" when absent).
std::pair<std::string, std::string> split_host_port(std::string_view authority,
                                                    std::string_view source, std::string_view url) {
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw config(source, url, "unclosed '[' in the address");
    std::string host(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (rest.empty()) return {host, ""};
    if (rest.front() != ':') throw config(source, url, "unexpected text after ']'");
    return {host, std::string(rest.substr(1))};
  }
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return {std::string(authority), ""};
  if (authority.find(':') != colon) {
    throw config(source, url, "an IPv6 address must be in brackets: tcp://[::1]:2376");
  }
  return {std::string(authority.substr(0, colon)), std::string(authority.substr(colon + 1))};
}

struct ContextEndpoint {
  std::string host;
  bool skip_tls_verify = false;
  fs::path tls_dir;  // <config>/contexts/tls/<sha256>/docker
};

ContextEndpoint load_context(const std::string& name, std::string_view named_by) {
  const fs::path root = config_dir() / "contexts";
  const std::string digest = sha256_hex(name);
  const fs::path meta_file = root / "meta" / digest / "meta.json";
  const auto meta = read_json(meta_file, "docker context metadata");
  if (!meta) {
    throw Error(ErrorCode::Config, std::string(named_by) + ": docker context \"" + name +
                                       "\" does not exist (no " + meta_file.string() +
                                       "; see `docker context ls`)");
  }
  const json endpoints = meta->value("Endpoints", json::object());
  const json docker = endpoints.is_object() ? endpoints.value("docker", json()) : json();
  if (!docker.is_object() || !docker.contains("Host") || !docker["Host"].is_string()) {
    throw Error(ErrorCode::Config, meta_file.string() + ": docker context \"" + name +
                                       "\" has no Endpoints.docker.Host");
  }
  ContextEndpoint out;
  out.host = docker["Host"].get<std::string>();
  out.skip_tls_verify = docker.value("SkipTLSVerify", false);
  out.tls_dir = root / "tls" / digest / "docker";
  return out;
}

// The context named by the configuration file, "" when none.
std::string current_context(fs::path* file) {
  *file = config_dir() / "config.json";
  const auto cfg = read_json(*file, "docker configuration");
  if (!cfg) return {};
  const auto it = cfg->find("currentContext");
  return it != cfg->end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

}  // namespace

std::string Endpoint::describe() const {
  if (kind == Kind::Tcp) {
    if (!tls) return url + " (plain TCP)";
    return url + (tls->verify ? " (TLS)" : " (TLS, daemon not verified)");
  }
  return url;
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "ip6-localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

Endpoint parse_host(std::string_view url, std::string_view source) {
  Endpoint ep;
  ep.source = std::string(source);
  if (url.empty()) throw config(source, url, "empty Docker host");
  if (url.front() == '/') {
    ep.kind = Endpoint::Kind::Unix;
    ep.socket_path = std::string(url);
    ep.url = "unix://" + ep.socket_path;
    return ep;
  }
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    throw config(source, url, "expected unix:///path, tcp://host:port or ssh://[user@]host[:port]");
  }
  const std::string_view scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  if (scheme == "unix") {
    if (rest.empty() || rest.front() != '/') {
      throw config(source, url, "no socket path after unix:// (expected unix:///path)");
    }
    ep.kind = Endpoint::Kind::Unix;
    ep.socket_path = std::string(rest);
    ep.url = std::string(url);
    return ep;
  }
  if (scheme == "tcp") {
    ep.kind = Endpoint::Kind::Tcp;
    const std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos && rest.substr(slash) != "/") {
      throw config(source, url, "a tcp:// host takes no path");
    }
    auto [host, port] = split_host_port(rest.substr(0, slash), source, url);
    ep.host = host.empty() ? "localhost" : host;
    if (!port.empty()) ep.port = parse_port(port, source, url);
    return ep;  // url is completed by resolve_endpoint once TLS (the default port) is known
  }
  if (scheme == "ssh") {
    ep.kind = Endpoint::Kind::Ssh;
    if (rest.find_first_of("?#") != std::string_view::npos) {
      throw config(source, url, "an ssh:// host takes no query or fragment");
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos && rest.substr(slash) != "/") {
      ep.ssh_socket = std::string(rest.substr(slash));
    }
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
      const std::string_view user = authority.substr(0, at);
      if (user.find(':') != std::string_view::npos) {
        throw config(source, url, "passwords in ssh:// URLs are not supported (use ssh keys)");
      }
      ep.ssh_user = std::string(user);
      authority = authority.substr(at + 1);
    }
    auto [host, port] = split_host_port(authority, source, url);
    if (host.empty()) throw config(source, url, "no host name after ssh://");
    if (host.front() == '-') throw config(source, url, "a host name cannot start with '-'");
    ep.host = host;
    if (!port.empty()) ep.port = parse_port(port, source, url);
    ep.url = std::string(url);
    return ep;
  }
  throw config(
      source, url,
      "unsupported scheme \"" + std::string(scheme) + "://\" (expected unix://, tcp:// or ssh://)");
}

Endpoint resolve_endpoint(const EndpointSettings& settings) {
  std::string host = settings.host;
  std::string host_source = "docker_host";
  // An explicit host wins over an explicit context.
  std::string context = settings.host.empty() ? settings.context : std::string();
  std::string context_source = "docker_context";
  if (host.empty() && context.empty()) {
    if (std::string value = env("DOCKER_HOST"); !value.empty()) {
      host = value;
      host_source = "DOCKER_HOST";
    } else if (std::string name = env("DOCKER_CONTEXT"); !name.empty()) {
      context = name;
      context_source = "DOCKER_CONTEXT";
    } else {
      fs::path file;
      context = current_context(&file);
      context_source = file.string() + " (currentContext)";
    }
  }
  // "default" is the environment's endpoint, as for the docker CLI.
  if (!context.empty() && context == "default") {
    context.clear();
    if (host.empty()) {
      host = env("DOCKER_HOST");
      host_source = "DOCKER_HOST";
    }
  }

  Endpoint ep;
  std::optional<TlsFiles> tls;
  std::string tls_setting;
  if (!context.empty()) {
    const std::string named_by = context_source + "=" + context;
    const ContextEndpoint ctx = load_context(context, named_by);
    ep = parse_host(ctx.host, "docker context \"" + context + "\"");
    const bool has_tls_files =
        file_exists(ctx.tls_dir / "ca.pem") || file_exists(ctx.tls_dir / "cert.pem");
    if (ep.kind == Endpoint::Kind::Tcp && (has_tls_files || ctx.skip_tls_verify)) {
      TlsFiles files;
      files.verify = !ctx.skip_tls_verify;
      if (file_exists(ctx.tls_dir / "ca.pem")) files.ca = ctx.tls_dir / "ca.pem";
      if (file_exists(ctx.tls_dir / "cert.pem")) files.cert = ctx.tls_dir / "cert.pem";
      if (file_exists(ctx.tls_dir / "key.pem")) files.key = ctx.tls_dir / "key.pem";
      tls = files;
      tls_setting = "docker context \"" + context + "\" TLS files";
    }
  } else {
    ep = host.empty() ? parse_host(kDefaultSocketUrl, "default") : parse_host(host, host_source);
    const bool verify = settings.tls_verify.value_or(!env("DOCKER_TLS_VERIFY").empty());
    const bool use_tls = verify || (!settings.tls_verify && !env("DOCKER_TLS").empty());
    if (ep.kind == Endpoint::Kind::Tcp && use_tls) {
      fs::path dir = settings.cert_path;
      tls_setting = "docker_cert_path=" + dir.string();
      if (dir.empty()) {
        dir = env("DOCKER_CERT_PATH");
        tls_setting = "DOCKER_CERT_PATH=" + dir.string();
      }
      if (dir.empty()) {
        dir = config_dir();
        tls_setting = "the docker config directory " + dir.string() + " (DOCKER_CERT_PATH unset)";
      }
      TlsFiles files;
      files.verify = verify;
      files.ca = dir / "ca.pem";
      // As the docker CLI: a missing client certificate means none is presented.
      if (file_exists(dir / "cert.pem") || file_exists(dir / "key.pem")) {
        files.cert = file_exists(dir / "cert.pem") ? dir / "cert.pem" : fs::path();
        files.key = file_exists(dir / "key.pem") ? dir / "key.pem" : fs::path();
      }
      if (!verify && !file_exists(files.ca)) files.ca.clear();
      tls = files;
    }
  }

  if (ep.kind == Endpoint::Kind::Tcp) {
    ep.tls = tls;
    if (ep.port == 0) ep.port = tls ? 2376 : 2375;
    const std::string bracketed =
        ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
    ep.url = "tcp://" + bracketed + ":" + std::to_string(ep.port);
    const bool verified = tls && tls->verify;
    if (!verified && !is_loopback(ep.host) && !settings.allow_plain_tcp) {
      throw Error(
          ErrorCode::Config,
          ep.source + "=" + ep.url + ": " +
              (tls ? "TLS without verifying the daemon's certificate" : "plain TCP (no TLS)") +
              " to a non-loopback address: anyone on the path can read the services' input and "
              "output, and anyone who reaches the port can run containers as root there. Set "
              "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), use "
              "ssh://, or opt in explicitly (EngineOptions::allow_plain_tcp, --allow-plain-tcp)");
    }
    if (tls) check_tls_files(*tls, ep.url, tls_setting);
  }
  if (ep.kind == Endpoint::Kind::Ssh) ep.ssh_options = settings.ssh_options;
  return ep;
}

}  // namespace Ignite::docker
