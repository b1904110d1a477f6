#include "sync/kick/kick_util.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace postbox::sync::kick {

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  const auto escape = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
    out += buf;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      escape(c);
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // Copy a well-formed UTF-8 sequence; escape a stray byte instead.
      size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = n != 0 && i + n <= s.size();
      for (size_t j = 1; ok && j < n; ++j) {
        ok = (static_cast<unsigned char>(s[i + j]) & 0xc0) == 0x80;
      }
      if (!ok) {
        escape(c);
        continue;
      }
      out.append(s.substr(i, n));
      i += n - 1;
    }
  }
  out.push_back('"');
  return out;
}

std::string DedupId(const MailboxKey& mkey, uint64_t since) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "-%016llx", static_cast<unsigned long long>(since));
  return mkey.ToHex() + buf;
}

std::optional<std::string> DerivePayload(const InfoPacket& window, uint64_t count) {
  const MessageInfo* newest_in = nullptr;
  const MessageInfo* newest_rise = nullptr;
  for (const auto& m : window.incoming) {
    if (newest_in == nullptr || m.seq > newest_in->seq) newest_in = &m;
  }
  for (const auto& m : window.outgoing) {
    if (m.status == MessageStatus::kUploaded) continue;  // the mailbox's own post
    if (newest_rise == nullptr || m.seq > newest_rise->seq) newest_rise = &m;
  }
  const std::string tail = ",\"count\":" + std::to_string(count) + "}";
  if (newest_in != nullptr && (newest_rise == nullptr || newest_in->seq > newest_rise->seq)) {
    return "{\"type\":\"message_received\",\"from\":\"" + newest_in->from.ToHex() + "\",\"id\":\"" +
           newest_in->id.ToHex() + "\"" + tail;
  }
  if (newest_rise != nullptr) {
    return "{\"type\":\"status_changed\",\"to\":\"" + newest_rise->to.ToHex() + "\",\"id\":\"" +
           newest_rise->id.ToHex() + "\",\"status\":\"" +
           std::string(MessageStatusName(newest_rise->status)) + "\"" + tail;
  }
  if (window.entries.empty() && window.tombstones.empty()) return std::nullopt;
  return "{\"type\":\"changed\"" + tail;
}

std::chrono::milliseconds Backoff(uint32_t attempt, std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max, double jitter,
                                  std::chrono::milliseconds retry_after) {
  const double cap = static_cast<double>(std::max<int64_t>(max.count(), 1));
  const double exp = std::ldexp(static_cast<double>(std::max<int64_t>(initial.count(), 1)),
                                static_cast<int>(std::min<uint32_t>(attempt, 64)) - 1);
  const double base = std::min(cap, exp);
  jitter = std::clamp(jitter, 0.0, 1.0);
  const auto ms = static_cast<int64_t>(base / 2 + base / 2 * jitter);
  return std::max(std::chrono::milliseconds(ms), retry_after);
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  constexpr int64_t kDayMs = 24 * 3600 * 1000;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::milliseconds(kDayMs);
    const int64_t seconds = std::stoll(std::string(value));
    return std::chrono::milliseconds(std::min(seconds * 1000, kDayMs));
  }
  const std::string text(value);
  // RFC 9110 §5.6.7: IMF-fixdate, then the two obsolete forms a recipient must accept.
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    tm parts{};
    const char* end = strptime(text.c_str(), format, &parts);
    if (end == nullptr || *end != '\0') continue;
    const time_t at = timegm(&parts);
    const auto delay = std::chrono::system_clock::from_time_t(at) - now;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
    return std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, kDayMs));
  }
  return std::nullopt;
}

std::string FormatUtc(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const time_t secs = static_cast<time_t>(ms.count() / 1000);
  tm parts{};
  gmtime_r(&secs, &parts);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buf;
}

std::string KickJson(const Kick& kick) {
  std::string out = "{\"mkey\":\"" + kick.mkey.ToHex() + "\",\"platform\":\"";
  out += PlatformName(kick.registration.platform);
  out += "\",\"token\":" + JsonString(kick.registration.token);
  out += ",\"dedup_id\":" + JsonString(kick.dedup_id);
  out += ",\"attempt\":" + std::to_string(kick.attempt);
  out += ",\"payload\":" + (kick.payload_json.empty() ? std::string("{}") : kick.payload_json);
  out += "}";
  return out;
}

KickResult WebhookResult(int http_status, std::string_view retry_after,
                         std::chrono::system_clock::time_point now) {
  const std::string what = "webhook answered " + std::to_string(http_status);
  if (http_status >= 200 && http_status < 300) return {};
  if (http_status == 429 || http_status == 503) {
    KickResult r{http_status == 429 ? Status(Code::kBackOff, what) : Status::Unavailable(what),
                 std::chrono::milliseconds(0)};
    if (auto after = ParseRetryAfter(retry_after, now)) r.retry_after = *after;
    return r;
  }
  if (http_status >= 500) return {Status::Unavailable(what), std::chrono::milliseconds(0)};
  switch (http_status) {
    case 404:
      return {Status::NotFound(what), std::chrono::milliseconds(0)};
    case 410:
      return {Status::Gone(what), std::chrono::milliseconds(0)};
    case 413:
      return {Status::TooLarge(what), std::chrono::milliseconds(0)};
    default:
      return {Status::InvalidArgument(what), std::chrono::milliseconds(0)};
  }
}

}  // namespace postbox::sync::kick
