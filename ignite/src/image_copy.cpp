#include "ignite/src/image_copy.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/format_util.hpp"

namespace Ignite::detail {
namespace {

using namespace std::chrono;

// How far the export may run ahead of the load.
constexpr std::size_t kCopyBufferBytes = 8 * 1024 * 1024;
constexpr auto kProgressEvery = milliseconds(100);
constexpr auto kWaitStep = milliseconds(50);

// The export's bytes on their way to the load. The export thread blocks when the buffer is
// full, the load side when it is empty; either side failing wakes and stops the other.
class Pipe {
 public:
  // Export side: false when the load side gave up (stop exporting).
  bool push(std::string_view chunk) {
    std::unique_lock lock(mu_);
    while (buffered_ >= kCopyBufferBytes && !closed_) changed_.wait_for(lock, kWaitStep);
    if (closed_) return false;
    chunks_.emplace_back(chunk);
    buffered_ += chunk.size();
    changed_.notify_all();
    return true;
  }
  void finish(std::exception_ptr error) {
    std::lock_guard lock(mu_);
    done_ = true;
    error_ = std::move(error);
    changed_.notify_all();
  }
  // Load side: fills `out`; 0 at the end. Rethrows the export's error; throws Cancelled on a
  // stop request.
  std::size_t pull(char* out, std::size_t size, const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    while (chunks_.empty() && !done_) {
      if (stop.stop_requested()) throw Error(ErrorCode::Cancelled, "copy images: cancelled");
      changed_.wait_for(lock, kWaitStep);
    }
    if (chunks_.empty()) {
      if (error_) std::rethrow_exception(error_);
      return 0;
    }
    std::string& front = chunks_.front();
    const std::size_t n = std::min(size, front.size() - offset_);
    std::memcpy(out, front.data() + offset_, n);
    offset_ += n;
    buffered_ -= n;
    if (offset_ == front.size()) {
      chunks_.pop_front();
      offset_ = 0;
    }
    changed_.notify_all();
    return n;
  }
  // Load side ended (success or failure): the export stops at its next chunk.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  std::size_t offset_ = 0;
  std::size_t buffered_ = 0;
  bool done_ = false;
  bool closed_ = false;
  std::exception_ptr error_;
};

}  // namespace

ImageCopyResult copy_images(docker::DockerClient& from, docker::DockerClient& to,
                            const std::vector<std::string>& images,
                            const ImageCopyOptions& options) {
  const auto t0 = steady_clock::now();
  docker::CancelScope scope(options.stop_token);
  ImageCopyResult result;
  std::vector<std::string> wanted;
  std::vector<std::string> ids;
  ImageCopyProgress progress;
  for (const std::string& image : images) {
    if (std::find(wanted.begin(), wanted.end(), image) != wanted.end() ||
        std::find(result.present.begin(), result.present.end(), image) != result.present.end()) {
      continue;
    }
    const auto source = from.image_inspect(image);
    if (!source) {
      throw Error(
          ErrorCode::NotFound,
          "copy images: " + image + " is not on the source Docker daemon at " +
              from.endpoint().url +
              (from.endpoint().local() ? " (run tools/bootstrap to build the runtime images)"
                                       : ""));
    }
    const std::string id = source->value("Id", "");
    const auto there = to.image_inspect(image);
    if (there && there->value("Id", "") == id) {
      result.present.push_back(image);
      continue;
    }
    wanted.push_back(image);
    ids.push_back(id);
    progress.total_bytes += source->value("Size", std::uint64_t{0});
  }
  if (wanted.empty()) {
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(since(t0));
    return result;
  }

  Pipe pipe;
  std::thread exporter([&] {
    std::exception_ptr error;
    try {
      // The export runs under the same stop token as the load.
      docker::CancelScope export_scope(options.stop_token);
      from.images_export(wanted, [&](std::string_view chunk) { return pipe.push(chunk); });
    } catch (...) {
      error = std::current_exception();
    }
    pipe.finish(error);
  });
  struct Join {
    Pipe& pipe;
    std::thread& thread;
    ~Join() {
      pipe.close();
      thread.join();
    }
  } join{pipe, exporter};

  auto last_report = steady_clock::now();
  const auto report = [&](bool final) {
    if (!options.on_progress) return;
    if (!final && steady_clock::now() - last_report < kProgressEvery) return;
    last_report = steady_clock::now();
    progress.bytes = result.bytes;
    options.on_progress(progress);
  };
  to.images_load([&](char* out, std::size_t size) {
    const std::size_t n = pipe.pull(out, size, options.stop_token);
    result.bytes += n;
    report(false);
    return n;
  });
  report(true);

  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const auto loaded = to.image_inspect(wanted[i]);
    if (!loaded || loaded->value("Id", "") != ids[i]) {
      throw Error(ErrorCode::Docker, "copy images: the Docker daemon at " + to.endpoint().url +
                                         " accepted the archive but has no " + wanted[i] +
                                         " with id " + ids[i] + " afterwards");
    }
    result.copied.push_back(wanted[i]);
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(since(t0));
  return result;
}

}  // namespace Ignite::detail
