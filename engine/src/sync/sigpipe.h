// Both sides of the sync layer write to sockets a peer may have reset. Such a
// write raises SIGPIPE in the writing thread, libuv does not suppress it, and
// its default action kills the process: a host or app that never ignored
// SIGPIPE would die because one peer dropped its connection. Each loop thread
// blocks it for itself (never for the whole process), so the write fails with
// EPIPE and the connection is handled as lost.
#ifndef POSTBOX_SYNC_SIGPIPE_H_
#define POSTBOX_SYNC_SIGPIPE_H_

#include <pthread.h>
#include <signal.h>

namespace postbox::sync::internal {

inline void BlockSigpipeOnThisThread() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SIGPIPE_H_
