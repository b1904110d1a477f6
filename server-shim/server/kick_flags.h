// postbox-server's kick drivers from its flags (docs/notifications.md).
#ifndef POSTBOX_SERVER_SHIM_SERVER_KICK_FLAGS_H_
#define POSTBOX_SERVER_SHIM_SERVER_KICK_FLAGS_H_

#include <string>

#include "server/flags.h"

namespace postbox::server {

// Every --kick of `flags` into flags->server.kick_driver. Each is
// [PLATFORMS=]KIND:ARG (KIND log, webhook, apns or fcm); without PLATFORMS
// apns serves ios, fcm android, and log or webhook every platform no other
// --kick names. A single --kick for every platform is the driver itself;
// otherwise a platform driver routes to them (a platform none serves: its
// kicks are dropped and counted). false with *err set on a bad spec, an
// unreadable key file, two --kick for one platform, or a driver's refusal of
// its options.
bool MakeKickDriver(Flags* flags, std::string* err);

}  // namespace postbox::server

#endif  // POSTBOX_SERVER_SHIM_SERVER_KICK_FLAGS_H_
