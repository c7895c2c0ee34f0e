// Chromium: a headless Chromium (Debian's `chromium`, `--headless --no-sandbox`) driven through
// the DevTools protocol over its WebSocket, for the tests of the pages the servers serve. One tab
// per browser, attached as a flat session; every call waits (bounded) for its answer and keeps
// the events that arrive meanwhile for Events(). The browser is started through core::Process in
// its own profile directory and ended (Browser.close, then SIGTERM/SIGKILL by PID) when the object
// dies. Not thread-safe.
#ifndef SHUFFLE_TESTS_BROWSER_CHROMIUM_H_
#define SHUFFLE_TESTS_BROWSER_CHROMIUM_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "shuffle/core/process.h"

namespace shuffle::browser {

// What the page reported that a test of a clean page must not see: console errors and
// warnings, uncaught exceptions, browser log entries (network failures, Content Security Policy
// violations), each as one line.
struct PageProblem {
  std::string source;  // "console", "exception", or the Log entry's source ("security", ...)
  std::string text;
};

class Chromium {
 public:
  // Starts the browser with its profile and log in `dir` (created) and opens one blank tab.
  // NOT_FOUND when no `chromium` is on PATH (tools/setup installs it); $CHROMIUM overrides.
  static absl::StatusOr<std::unique_ptr<Chromium>> Start(const std::string& dir);
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // One DevTools command in the tab's session; its result, or the protocol's error.
  absl::StatusOr<nlohmann::json> Call(std::string_view method,
                                      nlohmann::json params = nlohmann::json::object());
  // Loads `url` in the tab and waits for its load event.
  absl::Status Navigate(const std::string& url);
  // The value of a JavaScript expression in the page (awaited when it is a promise);
  // INTERNAL with the exception's text when it throws.
  absl::StatusOr<nlohmann::json> Evaluate(std::string_view expression);
  // Evaluates `condition` every 200 ms until it is true; DEADLINE_EXCEEDED naming it after
  // `timeout` (a bound on waiting, not a performance check).
  absl::Status WaitUntil(std::string_view condition, absl::Duration timeout);
  // A PNG of the whole page in the tab.
  absl::StatusOr<std::string> Screenshot();
  // Everything reported as a problem since the tab was opened (see PageProblem).
  std::vector<PageProblem> Problems();

 private:
  struct Connection;
  Chromium() = default;
  absl::Status Open(const std::string& dir);
  // Sends one command (in the tab's session unless `browser`) and reads messages until its
  // answer; events are recorded on the way.
  absl::StatusOr<nlohmann::json> Send(std::string_view method, nlohmann::json params, bool browser);
  // Reads one message and records it when it is an event.
  absl::StatusOr<nlohmann::json> ReadOne(absl::Time deadline);
  void Record(const nlohmann::json& event);

  std::unique_ptr<core::Process> process_;
  std::unique_ptr<Connection> connection_;
  std::string session_;
  int64_t next_id_ = 1;
  std::vector<PageProblem> problems_;
  bool load_fired_ = false;  // Page.loadEventFired since the last Navigate
  std::string log_path_;
};

}  // namespace shuffle::browser

#endif  // SHUFFLE_TESTS_BROWSER_CHROMIUM_H_
