#include "tests/browser/chromium.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shuffle::browser {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using nlohmann::json;

// Bounds on waiting for the browser (a loaded CI machine starts Chromium slowly).
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kCallTimeout = absl::Seconds(60);

// Records the page's Content Security Policy violations as they happen, in every document the
// tab loads (DevTools' own scripts are not subject to the policy).
constexpr const char* kViolationRecorder =
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push("
    "e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at line ' + "
    "e.lineNumber));";

absl::StatusOr<std::string> FindChromium() {
  if (const char* given = std::getenv("CHROMIUM"); given != nullptr && *given != '\0') {
    return std::string(given);
  }
  const char* path = std::getenv("PATH");
  for (const std::string& dir : std::vector<std::string>(
           absl::StrSplit(path != nullptr ? path : "/usr/bin", ':', absl::SkipEmpty()))) {
    const std::string candidate = dir + "/chromium";
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(
      "no `chromium` on PATH: tools/setup installs Debian's chromium package (or set CHROMIUM)");
}

// The text of a console call's arguments.
std::string ConsoleText(const json& params) {
  std::string text;
  for (const json& arg : params.value("args", json::array())) {
    if (!text.empty()) {
      text += ' ';
    }
    if (arg.contains("value")) {
      text += arg["value"].is_string() ? arg["value"].get<std::string>() : arg["value"].dump();
    } else {
      text += arg.value("description", arg.value("type", std::string("?")));
    }
  }
  return text;
}

}  // namespace

struct Chromium::Connection {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
};

absl::StatusOr<std::unique_ptr<Chromium>> Chromium::Start(const std::string& dir) {
  auto browser = std::unique_ptr<Chromium>(new Chromium());
  if (absl::Status opened = browser->Open(dir); !opened.ok()) {
    return opened;
  }
  return browser;
}

absl::Status Chromium::Open(const std::string& dir) {
  absl::StatusOr<std::string> binary = FindChromium();
  if (!binary.ok()) {
    return binary.status();
  }
  const std::string profile = dir + "/profile";
  std::error_code ec;
  std::filesystem::create_directories(profile, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", profile, ": ", ec.message()));
  }
  log_path_ = dir + "/chromium.log";
  core::ProcessSpec spec;
  spec.argv = {*binary,
               "--headless",
               "--no-sandbox",  // tests run as root in containers
               "--disable-gpu",
               "--no-first-run",
               "--no-default-browser-check",
               "--disable-extensions",
               "--disable-background-networking",
               "--disable-sync",
               "--disable-component-update",
               "--mute-audio",
               "--window-size=1280,1100",
               "--user-data-dir=" + profile,
               "--remote-debugging-port=0",
               "about:blank"};
  spec.log_path = log_path_;
  absl::StatusOr<std::unique_ptr<core::Process>> process = core::Process::Spawn(spec);
  if (!process.ok()) {
    return process.status();
  }
  process_ = std::move(*process);

  // Chromium writes the port it picked and the browser's WebSocket path to DevToolsActivePort.
  const std::string active_port = profile + "/DevToolsActivePort";
  std::string port;
  std::string path;
  const absl::Time give_up = absl::Now() + kStartTimeout;
  for (;;) {
    std::ifstream in(active_port);
    if (std::getline(in, port) && std::getline(in, path) && !port.empty() && !path.empty()) {
      break;
    }
    if (!process_->running()) {
      return absl::UnavailableError(absl::StrCat("chromium exited (", process_->Poll()->Describe(),
                                                 "): ", core::LogTail(log_path_, 2000)));
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat("chromium did not open its DevTools port in ",
                                                      absl::FormatDuration(kStartTimeout), ": ",
                                                      core::LogTail(log_path_, 2000)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  connection_ = std::make_unique<Connection>();
  try {
    asio::ip::tcp::resolver resolver(connection_->io);
    beast::get_lowest_layer(connection_->ws).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(connection_->ws).connect(resolver.resolve("127.0.0.1", port));
    connection_->ws.read_message_max(64 << 20);
    connection_->ws.handshake("127.0.0.1:" + port, path);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("DevTools WebSocket 127.0.0.1:", port, path, ": ", e.what()));
  }

  absl::StatusOr<json> target = Send("Target.createTarget", {{"url", "about:blank"}}, true);
  if (!target.ok()) {
    return target.status();
  }
  absl::StatusOr<json> attached =
      Send("Target.attachToTarget", {{"targetId", (*target)["targetId"]}, {"flatten", true}}, true);
  if (!attached.ok()) {
    return attached.status();
  }
  session_ = (*attached)["sessionId"].get<std::string>();
  for (const char* domain : {"Page.enable", "Runtime.enable", "Log.enable"}) {
    if (absl::StatusOr<json> enabled = Call(domain); !enabled.ok()) {
      return enabled.status();
    }
  }
  return Call("Page.addScriptToEvaluateOnNewDocument", {{"source", kViolationRecorder}}).status();
}

Chromium::~Chromium() {
  if (connection_ != nullptr && connection_->ws.is_open()) {
    // Best effort: the process is stopped below either way.
    try {
      connection_->ws.write(asio::buffer(json{
          {"id", next_id_++},
          {"method", "Browser.close"},
          {"params", json::object()}}.dump()));
    } catch (const std::exception&) {
    }
  }
  if (process_ != nullptr) {
    process_->Wait(std::chrono::seconds(10));
    process_->Stop(std::chrono::seconds(5));
  }
}

absl::StatusOr<json> Chromium::ReadOne(absl::Time deadline) {
  Connection& c = *connection_;
  beast::flat_buffer buffer;
  beast::error_code ec;
  const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
  beast::get_lowest_layer(c.ws).expires_after(absl::ToChronoMilliseconds(left));
  c.ws.async_read(buffer, [&ec](beast::error_code e, size_t) { ec = e; });
  c.io.restart();
  c.io.run();
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError("no DevTools message in time");
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("DevTools WebSocket: ", ec.message(),
                                               "; browser log: ", core::LogTail(log_path_, 1000)));
  }
  json message = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  if (message.is_discarded()) {
    return absl::InternalError("DevTools sent a message that is not JSON");
  }
  if (message.contains("method")) {
    Record(message);
  }
  return message;
}

absl::StatusOr<json> Chromium::Send(std::string_view method, json params, bool browser) {
  const int64_t id = next_id_++;
  json command = {{"id", id}, {"method", method}, {"params", std::move(params)}};
  if (!browser) {
    command["sessionId"] = session_;
  }
  try {
    connection_->ws.write(asio::buffer(command.dump()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("DevTools ", std::string(method), ": ", e.what()));
  }
  const absl::Time deadline = absl::Now() + kCallTimeout;
  for (;;) {
    absl::StatusOr<json> message = ReadOne(deadline);
    if (!message.ok()) {
      return absl::Status(message.status().code(), absl::StrCat("DevTools ", std::string(method),
                                                                ": ", message.status().message()));
    }
    if (message->value("id", int64_t{0}) != id) {
      continue;
    }
    if (message->contains("error")) {
      return absl::InternalError(
          absl::StrCat("DevTools ", std::string(method), ": ", (*message)["error"].dump()));
    }
    return message->value("result", json::object());
  }
}

absl::StatusOr<json> Chromium::Call(std::string_view method, json params) {
  return Send(method, std::move(params), false);
}

void Chromium::Record(const json& event) {
  const std::string method = event.value("method", "");
  const json params = event.value("params", json::object());
  if (method == "Page.loadEventFired") {
    load_fired_ = true;
  } else if (method == "Runtime.consoleAPICalled") {
    const std::string type = params.value("type", "");
    if (type == "error" || type == "warning" || type == "assert") {
      problems_.push_back({"console", type + ": " + ConsoleText(params)});
    }
  } else if (method == "Runtime.exceptionThrown") {
    const json details = params.value("exceptionDetails", json::object());
    const json exception = details.value("exception", json::object());
    problems_.push_back(
        {"exception", exception.value("description", details.value("text", std::string("?")))});
  } else if (method == "Log.entryAdded") {
    const json entry = params.value("entry", json::object());
    const std::string level = entry.value("level", "");
    if (level == "error" || level == "warning") {
      problems_.push_back({entry.value("source", "log"),
                           level + ": " + entry.value("text", "") + " " + entry.value("url", "")});
    }
  }
}

absl::Status Chromium::Navigate(const std::string& url) {
  load_fired_ = false;
  absl::StatusOr<json> navigated = Call("Page.navigate", {{"url", url}});
  if (!navigated.ok()) {
    return navigated.status();
  }
  if (navigated->contains("errorText")) {
    return absl::UnavailableError(
        absl::StrCat("loading ", url, ": ", (*navigated)["errorText"].get<std::string>()));
  }
  const absl::Time deadline = absl::Now() + kCallTimeout;
  while (!load_fired_) {
    if (absl::StatusOr<json> message = ReadOne(deadline); !message.ok()) {
      return absl::Status(message.status().code(),
                          absl::StrCat("loading ", url, ": ", message.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> Chromium::Evaluate(std::string_view expression) {
  absl::StatusOr<json> result =
      Call("Runtime.evaluate",
           {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
  if (!result.ok()) {
    return result.status();
  }
  if (result->contains("exceptionDetails")) {
    const json& details = (*result)["exceptionDetails"];
    return absl::InternalError(
        absl::StrCat("`", std::string(expression), "` threw: ",
                     details.value("exception", json::object())
                         .value("description", details.value("text", std::string("?")))));
  }
  return (*result)["result"].value("value", json());
}

absl::Status Chromium::WaitUntil(std::string_view condition, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<json> value = Evaluate(condition);
    if (!value.ok()) {
      return value.status();
    }
    if (value->is_boolean() && value->get<bool>()) {
      return absl::OkStatus();
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat(
          "`", std::string(condition), "` still not true after ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

absl::StatusOr<std::string> Chromium::Screenshot() {
  // The whole page, not only the window.
  absl::StatusOr<json> layout = Call("Page.getLayoutMetrics");
  if (!layout.ok()) {
    return layout.status();
  }
  const json size = layout->value("cssContentSize", layout->value("contentSize", json::object()));
  absl::StatusOr<json> shot =
      Call("Page.captureScreenshot", {{"format", "png"},
                                      {"captureBeyondViewport", true},
                                      {"clip",
                                       {{"x", 0},
                                        {"y", 0},
                                        {"width", size.value("width", 1280.0)},
                                        {"height", size.value("height", 1100.0)},
                                        {"scale", 1}}}});
  if (!shot.ok()) {
    return shot.status();
  }
  std::string png;
  if (!absl::Base64Unescape((*shot)["data"].get<std::string>(), &png)) {
    return absl::InternalError("Page.captureScreenshot: data is not base64");
  }
  return png;
}

std::vector<PageProblem> Chromium::Problems() {
  std::vector<PageProblem> problems = problems_;
  // Reading the recorder also collects the events that arrived before its answer.
  absl::StatusOr<json> violations = Evaluate("window.__cspViolations || []");
  if (!violations.ok()) {
    problems.push_back({"devtools", violations.status().ToString()});
    return problems;
  }
  problems = problems_;
  for (const json& v : *violations) {
    problems.push_back({"csp", v.get<std::string>()});
  }
  return problems;
}

}  // namespace shuffle::browser
