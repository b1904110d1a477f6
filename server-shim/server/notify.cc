#include "server/notify.h"

#include <time.h>

#ifdef POSTBOX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace postbox::server {

#ifdef POSTBOX_HAVE_SYSTEMD

bool NotifyAvailable() { return true; }

void NotifyReady(const std::string& status) { sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str()); }

void NotifyReloading() {
  // MONOTONIC_USEC lets systemd ≥ 253 (Type=notify-reload) tell this reload
  // from an earlier one; older versions ignore it.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const unsigned long long usec =
      static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + now.tv_nsec / 1000;
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", usec);
}

void NotifyStopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

#else

bool NotifyAvailable() { return false; }
void NotifyReady(const std::string&) {}
void NotifyReloading() {}
void NotifyStopping() {}

#endif

}  // namespace postbox::server
