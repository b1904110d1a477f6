// postbox-convergence: the convergence simulation of the app side
// (tests/support/convergence.h) at full size — by default 1,000 apps, each a
// Replica with its own store, through fault-injecting proxies to a real
// postbox-server that is SIGKILLed and restarted, a quarter of them through
// relays (postbox-server --upstream) that are SIGKILLed and restarted too, with
// app restarts, lost, repeated, delayed and cut frames; then one sync round
// and the checks.
// Prints the figures and every violation; exits 1 if it did not converge.
//
//   postbox-convergence --server build/dev/server-shim/postbox-server
//       --apps 1000 --proxies 16 --relays 4 --seconds 60 --seed 1
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "tests/support/convergence.h"

int main(int argc, char** argv) {
  postbox::testing::ConvergenceOptions o;
  o.apps = 1000;
  o.proxies = 16;
  o.ops_per_second = 500;
  int seconds = 60;
  int kill_seconds = 10;
  int relay_kill_seconds = 7;
  o.relays = 4;
  std::string folder;
  CLI::App app{"Runs the app-side convergence simulation against postbox-server on 127.0.0.1"};
  app.add_option("--server", o.server_binary, "the postbox-server binary")->required();
  app.add_option("--apps", o.apps, "apps (replicas)")->check(CLI::Range(3, 100000));
  app.add_option("--proxies", o.proxies, "fault proxies the apps are spread over")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "how long apps write while faults happen")
      ->check(CLI::Range(1, 86400));
  app.add_option("--ops", o.ops_per_second, "writes per second over all apps")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--kill-every", kill_seconds, "SIGKILL the server every N seconds (0: never)")
      ->check(CLI::Range(0, 86400));
  app.add_option("--relays", o.relays, "relays a quarter of the apps talk to (0: none)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--relay-kill-every", relay_kill_seconds,
                 "SIGKILL a relay every N seconds (0: never)")
      ->check(CLI::Range(0, 86400));
  app.add_option("--restart-probability", o.restart_probability,
                 "chance that an app restarts before a write")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed, "seed of the workload and the fault schedule");
  app.add_option("--folder", folder, "work folder (default: a new one in the temp folder)");
  app.add_flag("--verbose", o.verbose, "progress lines on stderr");
  CLI11_PARSE(app, argc, argv);
  o.duration = std::chrono::seconds(seconds);
  o.kill_every = std::chrono::seconds(kill_seconds);
  o.relay_kill_every = std::chrono::seconds(relay_kill_seconds);
  o.sync_timeout = std::chrono::seconds(300);
  const bool own_folder = folder.empty();
  if (own_folder) {
    folder = (std::filesystem::temp_directory_path() /
              ("postbox-convergence-" + std::to_string(std::random_device{}())))
                 .string();
  }
  o.folder = folder;
  auto report = postbox::testing::RunConvergence(o);
  if (own_folder) {
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
  }
  if (!report.ok()) {
    std::fprintf(stderr, "postbox-convergence: %s\n", report.status().ToString().c_str());
    return 2;
  }
  std::printf("apps=%d proxies=%d relays=%d seconds=%d seed=%llu\n%s\n", o.apps, o.proxies,
              o.relays, seconds, static_cast<unsigned long long>(o.seed),
              report->Summary().c_str());
  return report->violations.empty() ? 0 : 1;
}
