#include "shuffle-server/ops/prometheus_text.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace shuffle::ops {
namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Integers exactly; other values with ten significant digits (bucket bounds, sums).
std::string Number(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 && v > -1e15) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof(buf), "%.10g", v);
  }
  return buf;
}

}  // namespace

std::string SampleName(const std::string& name, const Labels& labels) {
  if (labels.empty()) {
    return name;
  }
  std::string out = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", labels[i].first, "=\"", Escape(labels[i].second), "\"");
  }
  out.push_back('}');
  return out;
}

PrometheusText::Family& PrometheusText::Get(const std::string& name, const std::string& type,
                                            const std::string& help) {
  Family& family = families_[name];
  family.type = type;
  family.help = help;
  return family;
}

void PrometheusText::Counter(const std::string& name, const std::string& help, double value,
                             const Labels& labels) {
  Get(name, "counter", help).samples.push_back(SampleName(name, labels) + " " + Number(value));
}

void PrometheusText::Gauge(const std::string& name, const std::string& help, double value,
                           const Labels& labels) {
  Get(name, "gauge", help).samples.push_back(SampleName(name, labels) + " " + Number(value));
}

void PrometheusText::Histogram(const std::string& name, const std::string& help,
                               const core::LatencyHistogram::Snapshot& snapshot,
                               const Labels& labels) {
  Family& family = Get(name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.buckets.size(); ++i) {
    cumulative += snapshot.buckets[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < core::LatencyHistogram::kBounds.size()
                                   ? Number(core::LatencyHistogram::kBounds[i])
                                   : "+Inf");
    family.samples.push_back(SampleName(name + "_bucket", with_le) + " " +
                             Number(static_cast<double>(cumulative)));
  }
  family.samples.push_back(SampleName(name + "_sum", labels) + " " + Number(snapshot.sum_seconds));
  family.samples.push_back(SampleName(name + "_count", labels) + " " +
                           Number(static_cast<double>(snapshot.count)));
}

std::string PrometheusText::Render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", family.type,
                    "\n");
    for (const std::string& sample : family.samples) {
      absl::StrAppend(&out, sample, "\n");
    }
  }
  return out;
}

}  // namespace shuffle::ops
