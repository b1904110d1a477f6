// How postbox-admin shows engine values: JSON documents for --json (their field
// names are an interface, documented in docs/admin.md) and aligned text for
// people. Every type has exactly one of each, shared by all commands.
#ifndef POSTBOX_SERVER_SHIM_ADMIN_FORMAT_H_
#define POSTBOX_SERVER_SHIM_ADMIN_FORMAT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox::admin {

// ---- JSON ----
// Documents keep their fields in the order written (mkey or id first), which
// reads better than nlohmann::json's sorted keys.
using Json = nlohmann::ordered_json;

// Opaque bytes (entry keys and values, topic, meta, push token) are stored under
// `name` when they are valid UTF-8, else as hex under `name`_hex, so a document
// is always valid JSON and never loses a byte.
void PutBytes(Json* object, const std::string& name, std::string_view bytes);

Json ToJson(const MailboxInfo& mailbox);
Json ToJson(const MessageInfo& message);
Json ToJson(const EntryInfo& entry);
Json ToJson(const Tombstone& tombstone);
Json ToJson(const InfoPacket& packet);
Json ToJson(const StoreStats& stats);
// {"error": {"code": 404, "name": "NotFound", "message": "..."}}.
Json ToJson(const Status& status);

// The inverses, for the documents the live server's admin API answers with
// (server_api.h): they are the ones above, so a command prints the same
// whether its data came from the store or the server. Each checks what it
// reads; a missing or malformed field is Internal, naming it (the server broke
// the contract).
// PutBytes's inverse: the string under `name`, or the bytes of the hex under
// `name`_hex.
Result<std::string> GetBytes(const Json& object, const std::string& name);
// A mailbox key written as a JSON string of 32 hex characters.
Result<MailboxKey> MailboxKeyFromJson(const Json& value);
// ToJson(MailboxInfo)'s inverse; other fields (a server adds "viewers") are ignored.
Result<MailboxInfo> MailboxFromJson(const Json& doc);
// Their error: Internal, naming `field` and showing (the start of) `doc`.
Status MalformedAnswer(std::string_view field, const Json& doc);
// object[name], or null when `object` is not an object or lacks it (valid as
// long as `object`).
const Json& Field(const Json& object, const std::string& name);

// ---- Text ----
// "2026-11-24T01:44:49.123Z" (UTC).
std::string IsoTime(uint64_t ms_since_epoch);
std::string Hex(std::string_view bytes);
// "512 B" or "1.5 MiB (1572864 B)".
std::string HumanBytes(uint64_t bytes);
// `bytes` made safe for a terminal: valid UTF-8 is kept, control characters and
// invalid bytes become \n, \t, \xNN escapes. With max_width > 0, cut to that many
// characters with a trailing "…".
std::string Printable(std::string_view bytes, size_t max_width = 0);

// Columns padded to their widest cell, separated by two spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.size() == 1; }
  void Print(std::ostream& out, std::string_view indent = "") const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] holds the headers
};

// "name  value" lines with the values aligned.
using Fields = std::vector<std::pair<std::string, std::string>>;
void PrintFields(std::ostream& out, const Fields& fields);

// Entry rows (KEY VERSION VALUE), led by SEQ when they come from a feed.
Table EntryTable(const std::vector<EntryInfo>& entries, bool with_seq);

void PrintMailbox(std::ostream& out, const MailboxInfo& mailbox);
void PrintMessage(std::ostream& out, const MessageInfo& message);
void PrintEntry(std::ostream& out, const EntryInfo& entry);
void PrintPacket(std::ostream& out, const InfoPacket& packet);
void PrintStats(std::ostream& out, const StoreStats& stats);

}  // namespace postbox::admin

#endif  // POSTBOX_SERVER_SHIM_ADMIN_FORMAT_H_
