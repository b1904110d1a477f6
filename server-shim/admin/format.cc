#include "admin/format.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <optional>

namespace postbox::admin {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint8_t low = 0x80, high = 0xBF;  // bounds of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > s.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Characters on screen, counting a UTF-8 sequence as one.
size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string DigestHex(const Digest128& digest) {
  return Hex({reinterpret_cast<const char*>(digest.data()), digest.size()});
}

std::string OrNone(std::string_view bytes, std::string_view none) {
  return bytes.empty() ? std::string(none) : Printable(bytes);
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

// One row of the incoming or outgoing list; `peer` is the other party.
std::vector<std::string> MessageRow(const MessageInfo& m, const MailboxKey& peer) {
  return {std::to_string(m.seq),
          m.id.ToHex(),
          peer.ToHex(),
          OrNone(m.topic, "-"),
          std::string(MessageStatusName(m.status)),
          HumanBytes(m.length),
          IsoTime(m.created_ms)};
}

void PrintSection(std::ostream& out, std::string_view title, size_t count, const Table& table) {
  if (count == 0) return;
  out << '\n' << title << " (" << count << ")\n";
  table.Print(out, "  ");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes of an even number of hex digits; nullopt if it is not that.
std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexDigit(hex[i]), low = HexDigit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high << 4 | low);
  }
  return bytes;
}

Result<uint64_t> GetUint(const Json& object, const std::string& name) {
  const Json& value = Field(object, name);
  if (!value.is_number_unsigned()) return MalformedAnswer(name, object);
  return value.get<uint64_t>();
}

}  // namespace

void PutBytes(Json* object, const std::string& name, std::string_view bytes) {
  if (IsUtf8(bytes)) {
    (*object)[name] = std::string(bytes);
  } else {
    (*object)[name + "_hex"] = Hex(bytes);
  }
}

Json ToJson(const MailboxInfo& mailbox) {
  Json push = {{"platform", PlatformName(mailbox.platform)}};
  PutBytes(&push, "token", mailbox.push_token);
  return {{"mkey", mailbox.mkey.ToHex()},           {"created_ms", mailbox.created_ms},
          {"created", IsoTime(mailbox.created_ms)}, {"seq", mailbox.seq},
          {"purged_seq", mailbox.purged_seq},       {"push", push}};
}

Json ToJson(const MessageInfo& message) {
  Json doc = {
      {"id", message.id.ToHex()}, {"from", message.from.ToHex()}, {"to", message.to.ToHex()}};
  PutBytes(&doc, "topic", message.topic);
  PutBytes(&doc, "meta", message.meta);
  doc["length"] = message.length;
  doc["digest"] = DigestHex(message.digest);
  doc["status"] = MessageStatusName(message.status);
  doc["created_ms"] = message.created_ms;
  doc["created"] = IsoTime(message.created_ms);
  doc["seq"] = message.seq;
  return doc;
}

Json ToJson(const EntryInfo& entry) {
  Json doc = Json::object();
  PutBytes(&doc, "key", entry.key);
  PutBytes(&doc, "value", entry.value);
  doc["version"] = entry.version;
  doc["seq"] = entry.seq;
  return doc;
}

Json ToJson(const Tombstone& tombstone) {
  Json doc = Json::object();
  if (tombstone.kind == TombstoneKind::kMessage) {
    doc["kind"] = "message";
    doc["id"] = Hex(tombstone.key);
  } else {
    doc["kind"] = "entry";
    PutBytes(&doc, "key", tombstone.key);
    doc["version"] = tombstone.version;
  }
  doc["seq"] = tombstone.seq;
  return doc;
}

Json ToJson(const InfoPacket& packet) {
  const auto list = [](const auto& items) {
    Json array = Json::array();
    for (const auto& item : items) array.push_back(ToJson(item));
    return array;
  };
  return {{"cursor", packet.cursor},
          {"reset", packet.reset},
          {"more", packet.more},
          {"incoming", list(packet.incoming)},
          {"outgoing", list(packet.outgoing)},
          {"entries", list(packet.entries)},
          {"tombstones", list(packet.tombstones)}};
}

Json ToJson(const StoreStats& stats) {
  return {{"mailboxes", stats.mailboxes},
          {"messages", stats.messages},
          {"entries", stats.entries},
          {"blob_chunks", stats.blob_chunks},
          {"feed_records", stats.feed_records},
          {"map_size", stats.map_size},
          {"used_bytes", stats.used_bytes},
          {"file_bytes", stats.file_bytes},
          {"sync_failures", stats.sync_failures},
          {"mailbox_deletions", stats.mailbox_deletions}};
}

Json ToJson(const Status& status) {
  return {{"error",
           {{"code", static_cast<int>(status.code())},
            {"name", CodeName(status.code())},
            {"message", status.message()}}}};
}

const Json& Field(const Json& object, const std::string& name) {
  static const Json* const kNull = new Json();
  if (!object.is_object()) return *kNull;
  const auto it = object.find(name);
  return it == object.end() ? *kNull : *it;
}

Status MalformedAnswer(std::string_view field, const Json& doc) {
  return Status::Internal("the server's answer has no valid \"" + std::string(field) +
                          "\": " + Printable(doc.dump(), 200));
}

Result<std::string> GetBytes(const Json& object, const std::string& name) {
  if (const Json& text = Field(object, name); text.is_string()) return text.get<std::string>();
  if (const Json& hex = Field(object, name + "_hex"); hex.is_string()) {
    if (std::optional<std::string> bytes = Unhex(hex.get<std::string>())) return *std::move(bytes);
  }
  return MalformedAnswer(name, object);
}

Result<MailboxKey> MailboxKeyFromJson(const Json& value) {
  Result<MailboxKey> mkey = Status::InvalidArgument("not a string");
  if (value.is_string()) mkey = MailboxKey::FromHex(value.get<std::string>());
  if (!mkey) return MalformedAnswer("mkey", value);
  return mkey;
}

Result<MailboxInfo> MailboxFromJson(const Json& doc) {
  MailboxInfo mailbox;
  POSTBOX_ASSIGN_OR_RETURN(mailbox.mkey, MailboxKeyFromJson(Field(doc, "mkey")));
  POSTBOX_ASSIGN_OR_RETURN(mailbox.created_ms, GetUint(doc, "created_ms"));
  POSTBOX_ASSIGN_OR_RETURN(mailbox.seq, GetUint(doc, "seq"));
  POSTBOX_ASSIGN_OR_RETURN(mailbox.purged_seq, GetUint(doc, "purged_seq"));
  const Json& push = Field(doc, "push");
  const Json& platform = Field(push, "platform");
  Result<Platform> parsed = Status::InvalidArgument("not a string");
  if (platform.is_string()) parsed = ParsePlatform(platform.get<std::string>());
  if (!parsed) return MalformedAnswer("push.platform", doc);
  mailbox.platform = *parsed;
  POSTBOX_ASSIGN_OR_RETURN(mailbox.push_token, GetBytes(push, "token"));
  return mailbox;
}

std::string IsoTime(uint64_t ms_since_epoch) {
  const auto seconds = static_cast<std::time_t>(ms_since_epoch / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%03uZ", static_cast<unsigned>(ms_since_epoch % 1000));
  return text;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    hex += kDigits[b >> 4];
    hex += kDigits[b & 0xF];
  }
  return hex;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  for (value /= 1024; value >= 1024 && unit + 1 < std::size(kUnits); value /= 1024) ++unit;
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f %s (%" PRIu64 " B)", value, kUnits[unit], bytes);
  return text;
}

std::string Printable(std::string_view bytes, size_t max_width) {
  std::string out;
  size_t width = 0;
  for (size_t i = 0; i < bytes.size();) {
    if (max_width > 0 && width == max_width) {
      out += "…";
      break;
    }
    const size_t length = Utf8SequenceLength(bytes, i);
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (length > 1 || (length == 1 && b >= 0x20 && b != 0x7F && b != '\\')) {
      out.append(bytes.substr(i, length));
      i += length;
      ++width;
      continue;
    }
    // An escape counts as one character so a cut never splits it.
    switch (b) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default: {
        char escape[5];
        std::snprintf(escape, sizeof(escape), "\\x%02x", b);
        out += escape;
      }
    }
    ++i;
    ++width;
  }
  return out;
}

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

void Table::Print(std::ostream& out, std::string_view indent) const {
  std::vector<size_t> widths(rows_[0].size(), 0);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  for (const auto& row : rows_) {
    out << indent;
    for (size_t c = 0; c < row.size(); ++c) {
      out << row[c];
      // The last column is not padded, so lines carry no trailing blanks.
      if (c + 1 < row.size()) out << std::string(widths[c] - DisplayWidth(row[c]) + 2, ' ');
    }
    out << '\n';
  }
}

void PrintFields(std::ostream& out, const Fields& fields) {
  size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size());
  for (const auto& [name, value] : fields) {
    out << name << std::string(width - name.size() + 2, ' ') << value << '\n';
  }
}

Table EntryTable(const std::vector<EntryInfo>& entries, bool with_seq) {
  std::vector<std::string> headers = {"KEY", "VERSION", "VALUE"};
  if (with_seq) headers.insert(headers.begin(), "SEQ");
  Table table(std::move(headers));
  for (const EntryInfo& e : entries) {
    std::vector<std::string> row = {Printable(e.key, 40), std::to_string(e.version),
                                    Printable(e.value, 60)};
    if (with_seq) row.insert(row.begin(), std::to_string(e.seq));
    table.AddRow(std::move(row));
  }
  return table;
}

void PrintMailbox(std::ostream& out, const MailboxInfo& mailbox) {
  PrintFields(out, {{"mkey", mailbox.mkey.ToHex()},
                    {"created", IsoTime(mailbox.created_ms)},
                    {"feed seq", std::to_string(mailbox.seq)},
                    {"purged seq", std::to_string(mailbox.purged_seq)},
                    {"push", std::string(PlatformName(mailbox.platform))},
                    {"push token", OrNone(mailbox.push_token, "-")}});
}

void PrintMessage(std::ostream& out, const MessageInfo& message) {
  PrintFields(out, {{"id", message.id.ToHex()},
                    {"from", message.from.ToHex()},
                    {"to", message.to.ToHex()},
                    {"topic", OrNone(message.topic, "(default)")},
                    {"meta", OrNone(message.meta, "-")},
                    {"size", HumanBytes(message.length)},
                    {"digest", DigestHex(message.digest)},
                    {"status", std::string(MessageStatusName(message.status))},
                    {"created", IsoTime(message.created_ms)}});
}

void PrintEntry(std::ostream& out, const EntryInfo& entry) {
  PrintFields(out, {{"key", Printable(entry.key)},
                    {"version", std::to_string(entry.version)},
                    {"value", Printable(entry.value)}});
}

void PrintPacket(std::ostream& out, const InfoPacket& packet) {
  out << "cursor " << packet.cursor << "  reset " << YesNo(packet.reset) << "  more "
      << YesNo(packet.more) << '\n';
  if (packet.size() == 0) {
    out << "no changes\n";
    return;
  }
  const std::vector<std::string> columns = {"SEQ", "ID", "", "TOPIC", "STATUS", "SIZE", "CREATED"};
  auto incoming_headers = columns, outgoing_headers = columns;
  incoming_headers[2] = "FROM";
  outgoing_headers[2] = "TO";
  Table incoming(std::move(incoming_headers)), outgoing(std::move(outgoing_headers));
  for (const MessageInfo& m : packet.incoming) incoming.AddRow(MessageRow(m, m.from));
  for (const MessageInfo& m : packet.outgoing) outgoing.AddRow(MessageRow(m, m.to));
  Table tombstones({"SEQ", "KIND", "ID / KEY", "VERSION"});
  for (const Tombstone& t : packet.tombstones) {
    const bool message = t.kind == TombstoneKind::kMessage;
    tombstones.AddRow({std::to_string(t.seq), message ? "message" : "entry",
                       message ? Hex(t.key) : Printable(t.key, 40),
                       message ? "-" : std::to_string(t.version)});
  }
  PrintSection(out, "incoming", packet.incoming.size(), incoming);
  PrintSection(out, "outgoing", packet.outgoing.size(), outgoing);
  PrintSection(out, "entries", packet.entries.size(), EntryTable(packet.entries, true));
  PrintSection(out, "tombstones", packet.tombstones.size(), tombstones);
  if (packet.more) out << "\nmore changes follow: run again with --since " << packet.cursor << '\n';
}

void PrintStats(std::ostream& out, const StoreStats& stats) {
  PrintFields(out, {{"mailboxes", std::to_string(stats.mailboxes)},
                    {"messages", std::to_string(stats.messages)},
                    {"entries", std::to_string(stats.entries) + " (live and tombstoned)"},
                    {"blob chunks", std::to_string(stats.blob_chunks)},
                    {"feed records", std::to_string(stats.feed_records)},
                    {"map size", HumanBytes(stats.map_size)},
                    {"used", HumanBytes(stats.used_bytes)},
                    {"file size", HumanBytes(stats.file_bytes)},
                    {"sync failures", std::to_string(stats.sync_failures)},
                    {"mailboxes deleted", std::to_string(stats.mailbox_deletions)}});
}

}  // namespace postbox::admin
