#include "ignite/src/docker/curl_transport.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <utility>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/connection.hpp"
#include "ignite/src/docker/curl_api.hpp"
#include "ignite/src/docker/detail.hpp"
#include "ignite/src/docker/socket_http.hpp"
#include "ignite/src/docker/ssh.hpp"
#include "ignite/src/docker/tls.hpp"

namespace Ignite::docker {
namespace {

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_api().easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct MultiDeleter {
  void operator()(CURLM* handle) const noexcept { curl_api().multi_cleanup(handle); }
};
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_api().slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

constexpr long kConnectTimeoutMs = 10000;
// TCP connect plus TLS handshake to a tcp:// endpoint. A TLS client on a plain-HTTP port gets
// no handshake reply at all (the server waits for a request line): this bound is how long that
// takes to fail.
constexpr long kTcpConnectTimeoutMs = 5000;

// The calling thread's idle easy and multi handles. Transfers run on a multi handle (which
// owns the kept-alive connection) so that a stop request can wake a blocked call
// (curl_multi_wakeup). A pair is taken out while a transfer runs, so a request issued from
// inside a streaming callback on the same thread gets a fresh pair instead of re-entering the
// busy one.
thread_local EasyHandle t_idle_handle;
thread_local MultiHandle t_idle_multi;
// The process the idle handles' kept-alive connection belongs to. After fork() the child's
// thread inherits the handles and the connection's socket: reusing them would interleave the
// parent's and the child's requests on one connection (replies going to the wrong process).
thread_local pid_t t_idle_pid = 0;

class HandleLease {
 public:
  HandleLease() {
    if (t_idle_handle && t_idle_pid != ::getpid()) {
      // Forked: drop the parent's handles. Closing our copy of its socket leaves the parent's
      // connection as it is.
      t_idle_handle.reset();
      t_idle_multi.reset();
    }
    if (t_idle_handle && t_idle_multi) {
      handle_ = std::move(t_idle_handle);
      multi_ = std::move(t_idle_multi);
    } else {
      handle_.reset(curl_api().easy_init());
      multi_.reset(curl_api().multi_init());
      if (!handle_ || !multi_) throw Error(ErrorCode::Internal, "curl_easy_init/curl_multi_init failed");
    }
  }
  ~HandleLease() {
    if (t_idle_handle) return;
    // The options point into the finished request's stack frame (error buffer, headers, body);
    // reset drops them but keeps the live connection (in the multi handle) for the next request.
    curl_api().easy_reset(handle_.get());
    t_idle_handle = std::move(handle_);
    t_idle_multi = std::move(multi_);
    t_idle_pid = ::getpid();
  }
  HandleLease(const HandleLease&) = delete;
  HandleLease& operator=(const HandleLease&) = delete;

  CURL* get() const noexcept { return handle_.get(); }
  CURLM* multi() const noexcept { return multi_.get(); }

 private:
  EasyHandle handle_;
  MultiHandle multi_;
};

// Wakes a transfer's curl_multi_poll when its scope is asked to stop (from the thread that asks;
// curl_multi_wakeup is safe from any thread).
struct WakeMulti {
  CURLM* m;
  void operator()() const noexcept { curl_api().multi_wakeup(m); }
};

// A safety net only: a stop request wakes the poll at once, and curl shortens the wait to its
// own timeouts (the request's bound). Waking every 50 ms to look at the token instead cost a
// context switch per 50 ms of every slow call (container start and removal take 50-300 ms).
constexpr int kTransferPollMs = 1000;

// Runs the transfer of `h` on `m` to its end, or until the thread's cancellation scope asks to
// stop (returns false then; the half-done connection is discarded by curl).
bool run_transfer(CURLM* m, CURL* h, CURLcode& result) {
  if (const CURLMcode rc = curl_api().multi_add_handle(m, h); rc != CURLM_OK) {
    throw Error(ErrorCode::Internal, std::string("curl_multi_add_handle: ") + curl_api().multi_strerror(rc));
  }
  struct Detach {
    CURLM* m;
    CURL* h;
    ~Detach() { curl_api().multi_remove_handle(m, h); }
  } detach{m, h};
  // Declared after `detach`: unregistered (waiting for a callback in flight) before the handle
  // goes back to the thread's idle slot.
  std::optional<std::stop_callback<WakeMulti>> wake;
  if (const std::stop_token token = CancelScope::token(); token.stop_possible()) {
    wake.emplace(token, WakeMulti{m});
  }
  for (;;) {
    int running = 0;
    if (const CURLMcode rc = curl_api().multi_perform(m, &running); rc != CURLM_OK) {
      throw Error(ErrorCode::Internal, std::string("curl_multi_perform: ") + curl_api().multi_strerror(rc));
    }
    int left = 0;
    while (CURLMsg* msg = curl_api().multi_info_read(m, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
        result = msg->data.result;
        return true;
      }
    }
    if (CancelScope::cancelled()) return false;
    if (const CURLMcode rc = curl_api().multi_poll(m, nullptr, 0, kTransferPollMs, nullptr);
        rc != CURLM_OK) {
      throw Error(ErrorCode::Internal, std::string("curl_multi_poll: ") + curl_api().multi_strerror(rc));
    }
  }
}

struct Transfer {
  CURL* handle = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;
  std::string body;
  bool aborted_by_consumer = false;
  std::exception_ptr consumer_error;
  std::FILE* upload = nullptr;
  int upload_errno = 0;
  const std::function<std::size_t(char*, std::size_t)>* source = nullptr;
  std::exception_ptr source_error;
};

std::size_t write_callback(char* ptr, std::size_t size, std::size_t nmemb, void* userdata) {
  auto& transfer = *static_cast<Transfer*>(userdata);
  const std::size_t n = size * nmemb;
  const std::string_view chunk(ptr, n);
  // Exceptions must not unwind through libcurl's C frames: keep them for after the transfer.
  try {
    long status = 0;
    curl_api().easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
    if (transfer.on_data != nullptr && status < 400) {
      if (!(*transfer.on_data)(chunk)) {
        transfer.aborted_by_consumer = true;
        return 0;
      }
    } else {
      transfer.body.append(chunk);
    }
  } catch (...) {
    transfer.consumer_error = std::current_exception();
    return 0;
  }
  return n;
}

std::size_t read_callback(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto& transfer = *static_cast<Transfer*>(userdata);
  if (transfer.source != nullptr) {
    try {
      return (*transfer.source)(buffer, size * nitems);
    } catch (...) {
      transfer.source_error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
  const std::size_t n = std::fread(buffer, 1, size * nitems, transfer.upload);
  if (n == 0 && std::ferror(transfer.upload)) {
    transfer.upload_errno = errno;
    return CURL_READFUNC_ABORT;
  }
  return n;
}

// curl rewinds the upload when it retries on a fresh connection after a kept-alive one turned
// out to be closed by the daemon.
int seek_callback(void* userdata, curl_off_t offset, int origin) {
  auto& transfer = *static_cast<Transfer*>(userdata);
  return fseeko(transfer.upload, static_cast<off_t>(offset), origin) == 0 ? CURL_SEEKFUNC_OK
                                                                          : CURL_SEEKFUNC_FAIL;
}

template <typename T>
void set(CURL* handle, CURLoption option, T value) {
  if (const CURLcode rc = curl_api().easy_setopt(handle, option, value); rc != CURLE_OK) {
    throw Error(ErrorCode::Internal,
                std::string("curl_easy_setopt failed: ") + curl_api().easy_strerror(rc));
  }
}

bool is_unreachable(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
         rc == CURLE_COULDNT_RESOLVE_PROXY;
}

bool is_tls_code(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      return true;
    default:
      return false;
  }
}

}  // namespace

namespace {

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

CurlTransport::CurlTransport(std::string socket_path)
    : CurlTransport([&] {
        Endpoint ep;
        ep.url = "unix://" + socket_path;
        ep.source = "socket path";
        ep.socket_path = std::move(socket_path);
        return ep;
      }()) {}

CurlTransport::CurlTransport(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  switch (endpoint_.kind) {
    case Endpoint::Kind::Unix: base_url_ = "http://localhost"; break;
    case Endpoint::Kind::Tcp:
      base_url_ = std::string(endpoint_.tls ? "https://" : "http://") + url_host(endpoint_.host) +
                  ":" + std::to_string(endpoint_.port);
      break;
    case Endpoint::Kind::Ssh:
      // libcurl (7.88) cannot take an already connected socket: it talks to a private unix
      // socket whose every connection is handed to an ssh process (ssh.hpp, SshRelay).
      base_url_ = "http://localhost";
      relay_ = std::make_unique<SshRelay>(endpoint_);
      break;
  }
}

CurlTransport::~CurlTransport() = default;

void CurlTransport::configure(CURL* h) const {
  switch (endpoint_.kind) {
    case Endpoint::Kind::Unix:
      set(h, CURLOPT_UNIX_SOCKET_PATH, endpoint_.socket_path.c_str());
      set(h, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
      break;
    case Endpoint::Kind::Tcp:
      set(h, CURLOPT_CONNECTTIMEOUT_MS, kTcpConnectTimeoutMs);
      if (endpoint_.tls) {
        const TlsFiles& tls = *endpoint_.tls;
        set(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        set(h, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
        set(h, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
        if (tls.verify) {
          // Only the endpoint's CA: the system's bundle must not vouch for a Docker daemon.
          set(h, CURLOPT_CAINFO, tls.ca.c_str());
          set(h, CURLOPT_CAPATH, static_cast<const char*>(nullptr));
        }
        if (!tls.cert.empty()) {
          set(h, CURLOPT_SSLCERT, tls.cert.c_str());
          set(h, CURLOPT_SSLKEY, tls.key.c_str());
        }
      }
      break;
    case Endpoint::Kind::Ssh:
      set(h, CURLOPT_UNIX_SOCKET_PATH, relay_->socket_path().c_str());
      set(h, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
      break;
  }
}

HttpResponse CurlTransport::request(const HttpRequest& req) {
  // Most of an execution's calls: without libcurl's per-call machinery (socket_http.hpp).
  if (socket_http::fits(endpoint_, req)) return socket_http::request(endpoint_, req);
  return perform(req, nullptr);
}

HttpResponse CurlTransport::stream(const HttpRequest& req,
                                   const std::function<bool(std::string_view)>& on_data) {
  return perform(req, &on_data);
}

HttpResponse CurlTransport::perform(const HttpRequest& req,
                                    const std::function<bool(std::string_view)>* on_data) {
  const std::string target = req.method + " " + req.path;
  if ((!req.body.empty()) + (!req.body_file.empty()) + static_cast<bool>(req.body_source) > 1) {
    throw Error(ErrorCode::Internal, target + ": request has more than one body");
  }

  HandleLease lease;
  CURL* h = lease.get();
  Transfer transfer;
  transfer.handle = h;
  transfer.on_data = on_data;
  if (req.body_source) transfer.source = &req.body_source;

  File upload;
  curl_off_t upload_size = 0;
  if (!req.body_file.empty()) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(req.body_file, ec);
    if (!ec) upload.reset(std::fopen(req.body_file.c_str(), "rb"));
    if (ec || !upload) {
      const std::string reason = ec ? ec.message() : std::strerror(errno);
      throw Error(ErrorCode::InvalidArgument,
                  target + ": cannot read " + req.body_file.string() + ": " + reason);
    }
    transfer.upload = upload.get();
    upload_size = static_cast<curl_off_t>(size);
  }

  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string url = base_url_ + req.path;
  set(h, CURLOPT_URL, url.c_str());
  configure(h);
  // Signals are unsafe with several threads (name lookups of tcp:// hosts then cannot be
  // interrupted; the connect bound still holds for the connection itself).
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_ERRORBUFFER, error_buffer);
  set(h, CURLOPT_USERAGENT, "ignite");
  if (req.timeout.count() > 0) set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  set(h, CURLOPT_WRITEFUNCTION, &write_callback);
  set(h, CURLOPT_WRITEDATA, static_cast<void*>(&transfer));

  const bool has_body = !req.body.empty() || transfer.upload != nullptr || transfer.source != nullptr;
  if (req.method == "GET" && !has_body) {
    set(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    set(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST" || has_body) {
    set(h, CURLOPT_POST, 1L);
    if (transfer.source != nullptr) {
      // No size: libcurl sends the body chunked.
      set(h, CURLOPT_READFUNCTION, &read_callback);
      set(h, CURLOPT_READDATA, static_cast<void*>(&transfer));
    } else if (transfer.upload != nullptr) {
      set(h, CURLOPT_READFUNCTION, &read_callback);
      set(h, CURLOPT_READDATA, static_cast<void*>(&transfer));
      set(h, CURLOPT_SEEKFUNCTION, &seek_callback);
      set(h, CURLOPT_SEEKDATA, static_cast<void*>(&transfer));
      set(h, CURLOPT_POSTFIELDSIZE_LARGE, upload_size);
    } else {
      // Points at req.body, which outlives the transfer: no copy of large build contexts.
      set(h, CURLOPT_POSTFIELDS, req.body.data());
      set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    if (req.method != "POST") set(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    set(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  Slist headers;
  const auto add_header = [&headers](const std::string& line) {
    curl_slist* head = curl_api().slist_append(headers.get(), line.c_str());
    if (head == nullptr) throw Error(ErrorCode::Internal, "curl_slist_append failed");
    if (!headers) headers.reset(head);  // otherwise appended behind the same head
  };
  if (has_body || req.method == "POST") add_header("Content-Type: " + req.content_type);
  if (transfer.source != nullptr) add_header("Transfer-Encoding: chunked");
  // The daemon would answer 100-continue anyway; asking costs a round trip per upload.
  add_header("Expect:");
  for (const auto& line : req.headers) add_header(line);
  set(h, CURLOPT_HTTPHEADER, headers.get());

  if (CancelScope::cancelled()) {
    throw Error(ErrorCode::Cancelled, target + ": cancelled before it was sent");
  }
  CURLcode rc = CURLE_OK;
  if (!run_transfer(lease.multi(), h, rc)) {
    throw Error(ErrorCode::Cancelled, target + ": cancelled while waiting for the Docker daemon");
  }
  long status = 0;
  curl_api().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);

  if (transfer.consumer_error) std::rethrow_exception(transfer.consumer_error);
  if (transfer.source_error) std::rethrow_exception(transfer.source_error);
  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && transfer.aborted_by_consumer)) {
    if (status == 400 && endpoint_.kind == Endpoint::Kind::Tcp && !endpoint_.tls) {
      detail::throw_plain_on_tls(endpoint_, status, transfer.body);
    }
    return HttpResponse{status, std::move(transfer.body)};
  }

  if (rc == CURLE_ABORTED_BY_CALLBACK && transfer.upload_errno != 0) {
    throw Error(ErrorCode::Docker, target + ": reading " + req.body_file.string() + ": " +
                                       std::strerror(transfer.upload_errno));
  }
  const std::string curl_message = error_buffer[0] != '\0' ? error_buffer : curl_api().easy_strerror(rc);
  fail(h, rc, curl_message, target, req);
}

void CurlTransport::fail(CURL* h, CURLcode rc, const std::string& curl_message,
                         const std::string& target, const HttpRequest& req) const {
  // What ssh said when its connection failed (authentication, host key, no docker there).
  std::string ssh_said = relay_ ? relay_->take_failure(std::chrono::milliseconds(500)) : std::string();
  const std::string ssh_suffix = ssh_said.empty() ? "" : " (ssh: " + ssh_said + ")";
  if (is_unreachable(rc)) {
    throw Error(ErrorCode::DockerUnavailable,
                detail::unreachable_message(endpoint_, curl_message + ssh_suffix));
  }
  if (endpoint_.tls && (is_tls_code(rc) || rc == CURLE_OPERATION_TIMEDOUT)) {
    double connected = 0;
    double tls_done = 0;
    curl_api().easy_getinfo(h, CURLINFO_CONNECT_TIME, &connected);
    curl_api().easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &tls_done);
    if (rc == CURLE_OPERATION_TIMEDOUT &&
        ((connected > 0 && tls_done == 0) ||
         curl_message.find("SSL connection timeout") != std::string::npos)) {
      throw Error(ErrorCode::DockerUnavailable,
                  "TLS with the Docker daemon at " + endpoint_.url +
                      " failed: no TLS handshake reply within " +
                      std::to_string(kTcpConnectTimeoutMs) +
                      " ms (is this a TLS port of a Docker daemon, or a plain-HTTP one?) (" +
                      curl_message + ")");
    }
    if (rc != CURLE_OPERATION_TIMEDOUT && is_tls_failure(curl_message)) {
      throw Error(ErrorCode::DockerUnavailable, explain_tls_failure(curl_message, endpoint_));
    }
  }
  if (endpoint_.tls && rc != CURLE_OPERATION_TIMEDOUT) {
    // The daemon dropped the connection without a TLS error libcurl could see (its refusal of
    // our certificate came as an alert after the request was sent): ask once more, listening.
    if (std::string why = tls_refusal(endpoint_, std::chrono::milliseconds(1000)); !why.empty()) {
      throw Error(ErrorCode::DockerUnavailable, why);
    }
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    // A daemon that accepts connections but does not answer (stopped, overloaded, a stuck
    // storage driver) is unavailable for this call: named as such, with the bound it missed.
    const long limit_ms = req.timeout.count() > 0 ? static_cast<long>(req.timeout.count())
                                                  : kConnectTimeoutMs;
    throw Error(ErrorCode::DockerUnavailable,
                "the Docker daemon at " + endpoint_.url + " did not answer " + target + " within " +
                    std::to_string(limit_ms) + " ms (" + curl_message + ")" + ssh_suffix);
  }
  if (!ssh_said.empty()) {
    throw Error(ErrorCode::DockerUnavailable,
                target + ": the ssh connection to the Docker daemon at " + endpoint_.url +
                    " failed: " + curl_message + ssh_suffix);
  }
  throw Error(ErrorCode::Docker,
              target + ": talking to the Docker daemon at " + endpoint_.url + ": " + curl_message);
}

}  // namespace Ignite::docker
