// The platform driver: routes each kick to the driver of its registration's
// platform (docs/notifications.md, "Routing by platform"), so one server
// kicks iOS devices through APNs, Android devices through FCM and browsers
// through a Web Push gateway at once.
#include <algorithm>
#include <vector>

#include "postbox/sync/kick.h"

namespace postbox::sync {
namespace {

class PlatformKickDriver final : public KickDriver {
 public:
  explicit PlatformKickDriver(PlatformKickDrivers drivers) : drivers_(std::move(drivers)) {
    for (KickDriver* d : {drivers_.ios.get(), drivers_.android.get(), drivers_.web.get()}) {
      if (d != nullptr && std::find(distinct_.begin(), distinct_.end(), d) == distinct_.end()) {
        distinct_.push_back(d);
      }
    }
  }

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    KickDriver* d = For(kick.registration.platform);
    if (d == nullptr) {
      done({Status::NotFound("no kick driver for platform " +
                             std::string(PlatformName(kick.registration.platform))),
            std::chrono::milliseconds(0)});
      return;
    }
    d->Send(kick, std::move(done));
  }

  void Stop() override {
    for (KickDriver* d : distinct_) d->Stop();
  }

  // Every driver is reopened; the first error is returned.
  Status Reopen() override {
    Status first;
    for (KickDriver* d : distinct_) {
      Status s = d->Reopen();
      if (first.ok() && !s.ok()) first = std::move(s);
    }
    return first;
  }

 private:
  KickDriver* For(Platform p) const {
    switch (p) {
      case Platform::kIos:
        return drivers_.ios.get();
      case Platform::kAndroid:
        return drivers_.android.get();
      case Platform::kWeb:
        return drivers_.web.get();
      case Platform::kNone:
        break;
    }
    return nullptr;
  }

  const PlatformKickDrivers drivers_;
  std::vector<KickDriver*> distinct_;  // each driver once, for Stop and Reopen
};

}  // namespace

Result<std::unique_ptr<KickDriver>> MakePlatformKickDriver(PlatformKickDrivers drivers) {
  if (!drivers.ios && !drivers.android && !drivers.web) {
    return Status::InvalidArgument("platform kick driver: no driver for any platform");
  }
  return std::unique_ptr<KickDriver>(new PlatformKickDriver(std::move(drivers)));
}

}  // namespace postbox::sync
