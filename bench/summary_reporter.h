// A Google Benchmark reporter that forwards to the usual one and keeps every
// iteration run, so that a benchmark's main() can print its table of ratios
// at the end (PrintSummary, which each benchmark writes for its counters).
#ifndef POSTBOX_BENCH_SUMMARY_REPORTER_H_
#define POSTBOX_BENCH_SUMMARY_REPORTER_H_

#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

namespace postbox::bench {

class SummaryReporterBase : public benchmark::BenchmarkReporter {
 public:
  explicit SummaryReporterBase(std::unique_ptr<benchmark::BenchmarkReporter> inner)
      : inner_(std::move(inner)) {}
  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration) rows_.push_back(run);
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }

 protected:
  const std::vector<Run>& rows() const { return rows_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::vector<Run> rows_;
};

}  // namespace postbox::bench

#endif  // POSTBOX_BENCH_SUMMARY_REPORTER_H_
