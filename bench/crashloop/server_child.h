// The real postbox-server as a child process of the crash loop: started on a
// fixed folder and port, SIGKILLed, started again. The child gets
// PR_SET_PDEATHSIG, so it never outlives the tool, and the destructor stops it
// by its pid.
#ifndef POSTBOX_BENCH_CRASHLOOP_SERVER_CHILD_H_
#define POSTBOX_BENCH_CRASHLOOP_SERVER_CHILD_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace postbox::crashloop {

class ServerChild {
 public:
  // `bin` is run as `bin --listen 127.0.0.1:PORT --data DATA <extra...>`; its
  // stderr is appended to `log_path`.
  ServerChild(std::string bin, std::string data, std::string log_path,
              std::vector<std::string> extra);
  ~ServerChild();
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  // Starts the server on `port` and waits up to `timeout` for the line that
  // says it listens, which it prints only once its store is open and its
  // socket bound. Returns false (with the reason in *why, the child reaped) if
  // the line does not come: the child exited, or the time ran out.
  bool Start(uint16_t port, std::chrono::milliseconds timeout, std::string* why);
  // Sends `sig` to the running child and reaps it; returns its wait status, or
  // -1 if none runs.
  int Kill(int sig);
  bool running() const { return pid_ > 0; }

 private:
  std::string bin_, data_, log_path_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

// A port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral
// range (so no client socket of this tool can be bound to it while the server
// is down, which a restart on the same port would trip over), searched from a
// point picked by `seed`. 0 if none of the range is free.
uint16_t PickFreePort(uint64_t seed);

}  // namespace postbox::crashloop

#endif  // POSTBOX_BENCH_CRASHLOOP_SERVER_CHILD_H_
