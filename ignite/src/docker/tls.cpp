#include "ignite/src/docker/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ignite/error.hpp"

namespace Ignite::docker {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The queued OpenSSL errors as one line (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string asn1_time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(std::max(len, 0L)));
  BIO_free(bio);
  return text;
}

Error config_error(std::string_view setting, const std::filesystem::path& file,
                   std::string_view endpoint_url, const std::string& what) {
  return Error(ErrorCode::Config, std::string(setting) + ": " + file.string() + " (for " +
                                      std::string(endpoint_url) + "): " + what);
}

std::unique_ptr<std::FILE, FileCloser> open_file(std::string_view setting,
                                                 const std::filesystem::path& file,
                                                 std::string_view endpoint_url) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
  if (!f) throw config_error(setting, file, endpoint_url, std::strerror(errno));
  return f;
}

std::unique_ptr<X509, X509Free> read_cert(std::string_view setting,
                                          const std::filesystem::path& file,
                                          std::string_view endpoint_url) {
  auto f = open_file(setting, file, endpoint_url);
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    throw config_error(setting, file, endpoint_url,
                       "not a PEM certificate (" + openssl_errors() + ")");
  }
  return cert;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

void check_tls_files(const TlsFiles& files, std::string_view endpoint_url,
                     std::string_view setting) {
  if (files.verify) {
    if (files.ca.empty()) {
      throw Error(ErrorCode::Config, std::string(setting) + ": no CA file to verify " +
                                         std::string(endpoint_url) + " with (ca.pem)");
    }
    read_cert(setting, files.ca, endpoint_url);
  }
  if (files.cert.empty() != files.key.empty()) {
    const auto& present = files.cert.empty() ? files.key : files.cert;
    throw config_error(setting, present, endpoint_url,
                       std::string("a client ") + (files.cert.empty() ? "key" : "certificate") +
                           " without its " +
                           (files.cert.empty() ? "certificate (cert.pem)" : "key (key.pem)"));
  }
  if (files.cert.empty()) return;
  const auto cert = read_cert(setting, files.cert, endpoint_url);
  // Checked here, not left to the daemon: its refusal names no reason, this names the date.
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    throw config_error(setting, files.cert, endpoint_url,
                       "the client certificate expired on " +
                           asn1_time_text(X509_get0_notAfter(cert.get())) +
                           " (the daemon refuses it): issue a new one");
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
    throw config_error(setting, files.cert, endpoint_url,
                       "the client certificate is not valid before " +
                           asn1_time_text(X509_get0_notBefore(cert.get())) +
                           " (check this machine's clock)");
  }
  auto f = open_file(setting, files.key, endpoint_url);
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!key) {
    throw config_error(setting, files.key, endpoint_url,
                       "not an unencrypted PEM private key (" + openssl_errors() + ")");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw config_error(setting, files.key, endpoint_url,
                       "this key does not belong to the client certificate " + files.cert.string());
  }
}

bool is_tls_failure(std::string_view detail) {
  const std::string d = lower(detail);
  for (const char* marker : {"ssl", "tls", "certificate", "alert", "wrong version number",
                             "packet length too long", "handshake"}) {
    if (contains(d, marker)) return true;
  }
  return false;
}

std::string explain_tls_failure(std::string_view detail, const Endpoint& endpoint) {
  const std::string d = lower(detail);
  std::string problem;
  const TlsFiles files = endpoint.tls.value_or(TlsFiles{});
  if (contains(d, "wrong version number") || contains(d, "packet length too long") ||
      contains(d, "unknown protocol") || contains(d, "record layer failure")) {
    problem =
        "it does not speak TLS on this port (a plain-HTTP daemon? then it must be loopback "
        "and TLS off, or use its TLS port)";
  } else if (contains(d, "certificate required") ||
             (files.cert.empty() &&
              (contains(d, "alert bad certificate") || contains(d, "handshake failure")))) {
    problem =
        "the daemon requires a client certificate and none was presented (put cert.pem and "
        "key.pem next to ca.pem in DOCKER_CERT_PATH)";
  } else if (contains(d, "alert bad certificate") || contains(d, "alert unknown ca") ||
             contains(d, "certificate expired") || contains(d, "certificate unknown") ||
             contains(d, "certificate revoked") || contains(d, "alert decrypt error")) {
    problem = "the daemon refused the client certificate " + files.cert.string() +
              " (not issued by a CA the daemon trusts, or expired)";
  } else if (contains(d, "hostname mismatch") || contains(d, "ip address mismatch") ||
             contains(d, "no alternative certificate subject name")) {
    problem = "the daemon's certificate is not issued for \"" + endpoint.host + "\"";
  } else if (contains(d, "certificate has expired")) {
    problem = "the daemon's certificate has expired";
  } else if (contains(d, "certificate verify failed") || contains(d, "self-signed") ||
             contains(d, "self signed") || contains(d, "unable to get local issuer") ||
             contains(d, "certificate problem")) {
    problem = "the daemon's certificate is not signed by the CA in " + files.ca.string() +
              " (wrong ca.pem for this daemon?)";
  } else {
    problem = "the TLS handshake failed";
  }
  return "TLS with the Docker daemon at " + endpoint.url + " failed: " + problem + " (" +
         std::string(detail) + ")";
}

struct TlsStream::Impl {
  std::unique_ptr<SSL_CTX, CtxFree> ctx;
  std::unique_ptr<SSL, SslFree> ssl;
  const Endpoint* endpoint = nullptr;
  bool write_shut = false;

  Io result(int rc, std::size_t* n, bool reading) {
    if (rc > 0) {
      if (n != nullptr) *n = static_cast<std::size_t>(rc);
      return Io::Done;
    }
    const int err = SSL_get_error(ssl.get(), rc);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        return Io::WantRead;
      case SSL_ERROR_WANT_WRITE:
        return Io::WantWrite;
      case SSL_ERROR_ZERO_RETURN:
        return Io::Closed;
      case SSL_ERROR_SYSCALL:
        if (errno == EPIPE || errno == ECONNRESET || errno == 0) {
          ERR_clear_error();
          return Io::Closed;
        }
        throw Error(ErrorCode::Docker, "TLS connection to " + endpoint->url + ": " +
                                           (reading ? "reading: " : "writing: ") +
                                           std::strerror(errno));
      default: {
        const std::string detail = openssl_errors();
        throw Error(ErrorCode::DockerUnavailable, explain_tls_failure(detail, *endpoint));
      }
    }
  }
};

TlsStream::TlsStream(int fd, const Endpoint& endpoint) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = &endpoint;
  const TlsFiles files = endpoint.tls.value_or(TlsFiles{});
  const auto fail = [&](const std::string& what) {
    return Error(ErrorCode::Config,
                 "TLS for " + endpoint.url + ": " + what + ": " + openssl_errors());
  };
  impl_->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!impl_->ctx) throw fail("SSL_CTX_new");
  SSL_CTX* ctx = impl_->ctx.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A daemon that closes without close_notify ends the stream like any other; the frame
  // decoder notices a stream cut inside a frame.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (files.verify) {
    if (SSL_CTX_load_verify_locations(ctx, files.ca.c_str(), nullptr) != 1) {
      throw fail("cannot load the CA " + files.ca.string());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!files.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
      throw fail("cannot load the client certificate " + files.cert.string());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw fail("cannot load the client key " + files.key.string());
    }
  }
  impl_->ssl.reset(SSL_new(ctx));
  if (!impl_->ssl) throw fail("SSL_new");
  SSL* ssl = impl_->ssl.get();
  SSL_set_fd(ssl, fd);
  if (files.verify) {
    if (is_ip_literal(endpoint.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
    } else {
      SSL_set1_host(ssl, endpoint.host.c_str());
    }
  }
  if (!is_ip_literal(endpoint.host)) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
}

TlsStream::~TlsStream() = default;

TlsStream::Io TlsStream::handshake() {
  ERR_clear_error();
  const int rc = SSL_connect(impl_->ssl.get());
  if (rc == 1) return Io::Done;
  const int err = SSL_get_error(impl_->ssl.get(), rc);
  if (err == SSL_ERROR_WANT_READ) return Io::WantRead;
  if (err == SSL_ERROR_WANT_WRITE) return Io::WantWrite;
  std::string detail = openssl_errors();
  const long verify = SSL_get_verify_result(impl_->ssl.get());
  if (verify != X509_V_OK) {
    detail += std::string(detail.empty() ? "" : "; ") +
              "certificate verify failed: " + X509_verify_cert_error_string(verify);
  }
  if (detail.empty()) {
    detail = err == SSL_ERROR_SYSCALL && errno != 0 ? std::strerror(errno)
                                                    : "the daemon closed the connection";
  }
  throw Error(ErrorCode::DockerUnavailable, explain_tls_failure(detail, *impl_->endpoint));
}

TlsStream::Io TlsStream::read(char* buf, std::size_t size, std::size_t* n) {
  ERR_clear_error();
  const int rc =
      SSL_read(impl_->ssl.get(), buf, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  return impl_->result(rc, n, true);
}

TlsStream::Io TlsStream::write(const char* buf, std::size_t size, std::size_t* n) {
  ERR_clear_error();
  const int rc =
      SSL_write(impl_->ssl.get(), buf, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  return impl_->result(rc, n, false);
}

void TlsStream::shutdown_write() noexcept {
  if (impl_->write_shut) return;
  impl_->write_shut = true;
  ERR_clear_error();
  SSL_shutdown(impl_->ssl.get());
  ERR_clear_error();
}

bool TlsStream::buffered() const noexcept { return SSL_pending(impl_->ssl.get()) > 0; }

}  // namespace Ignite::docker
