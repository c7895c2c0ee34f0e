// PrometheusText: builds a page in the Prometheus text exposition format (version 0.0.4).
// Samples may be added in any order; each metric family is written once, with its HELP and TYPE
// lines, all its samples together. Not thread-safe: one page per object.
#ifndef SHUFFLE_SERVER_OPS_PROMETHEUS_TEXT_H_
#define SHUFFLE_SERVER_OPS_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "shuffle/core/histogram.h"

namespace shuffle::ops {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  void Counter(const std::string& name, const std::string& help, double value,
               const Labels& labels = {});
  void Gauge(const std::string& name, const std::string& help, double value,
             const Labels& labels = {});
  void Histogram(const std::string& name, const std::string& help,
                 const core::LatencyHistogram::Snapshot& snapshot, const Labels& labels = {});
  std::string Render() const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::vector<std::string> samples;
  };
  Family& Get(const std::string& name, const std::string& type, const std::string& help);
  std::map<std::string, Family> families_;
};

// `name{a="x",b="y"}` with label values escaped.
std::string SampleName(const std::string& name, const Labels& labels);

}  // namespace shuffle::ops

#endif  // SHUFFLE_SERVER_OPS_PROMETHEUS_TEXT_H_
