// systemd's service notification (sd_notify(3)) for postbox-server under a
// Type=notify unit (scripts/systemd/postbox-server.service): READY=1 once
// listening, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on
// SIGTERM / SIGINT. Built with libsystemd when the build found it; without
// it, or without $NOTIFY_SOCKET (not started by systemd), each call does
// nothing.
#ifndef POSTBOX_SERVER_SHIM_SERVER_NOTIFY_H_
#define POSTBOX_SERVER_SHIM_SERVER_NOTIFY_H_

#include <string>

namespace postbox::server {

// Whether this build can notify systemd (it linked libsystemd).
bool NotifyAvailable();

// The service is ready; `status` is shown by systemctl status.
void NotifyReady(const std::string& status);
// A reload (SIGHUP) begins; NotifyReady ends it.
void NotifyReloading();
// The service is stopping.
void NotifyStopping();

}  // namespace postbox::server

#endif  // POSTBOX_SERVER_SHIM_SERVER_NOTIFY_H_
