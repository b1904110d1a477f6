// The event log's schema as docs/operations.md "Event log" writes it: each
// "### <event>" subsection's table "| field | type | meaning |", and the
// table of session_end reasons. Tests check every line the server writes
// against it, so the document and the code cannot drift apart.
#ifndef POSTBOX_TESTS_INTEGRATION_OPS_EVENT_SCHEMA_H_
#define POSTBOX_TESTS_INTEGRATION_OPS_EVENT_SCHEMA_H_

#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace postbox::ops_testing {

struct EventSchema {
  // event → field → type ("string", "number", "boolean", "string or null", ...).
  std::map<std::string, std::map<std::string, std::string>> fields;
  std::set<std::string> reasons;  // session_end's "reason" values
};

// The cells of a table row "| a | b | c |", trimmed, backticks removed.
inline std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line.substr(1));
  std::string cell;
  while (std::getline(in, cell, '|')) {
    std::string clean;
    for (char c : cell) {
      if (c != '`') clean.push_back(c);
    }
    const size_t b = clean.find_first_not_of(' ');
    const size_t e = clean.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? std::string() : clean.substr(b, e - b + 1));
  }
  return out;
}

// "2026-12-03T14:31:07.412Z": UTC with milliseconds.
inline bool IsUtcMillis(const std::string& t) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (t.size() != shape.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(t[i])) : t[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

// Reads the schema from docs/operations.md under `source_dir`; empty fields
// if the file or its section is missing (the test then fails on that).
inline EventSchema LoadEventSchema(const std::string& source_dir) {
  EventSchema s;
  std::ifstream in(source_dir + "/docs/operations.md");
  std::string line, event, table;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_section = line == "## Event log";
      continue;
    }
    if (!in_section) continue;
    if (line.rfind("### ", 0) == 0) {
      event = line.substr(4);
      table.clear();
      continue;
    }
    if (line.rfind("|", 0) != 0) {
      table.clear();
      continue;
    }
    const auto cells = Cells(line);
    if (cells.size() < 3) continue;
    if (table.empty()) {
      table = cells[0];  // the header names the table
      continue;
    }
    if (cells[0].rfind("---", 0) == 0) continue;
    if (table == "field" && !event.empty()) s.fields[event][cells[0]] = cells[1];
    if (table == "reason") s.reasons.insert(cells[0]);
  }
  return s;
}

// Whether `v` has documented type `type`.
inline bool HasType(const nlohmann::json& v, const std::string& type) {
  if (type.size() > 8 && type.substr(type.size() - 8) == " or null") {
    return v.is_null() || HasType(v, type.substr(0, type.size() - 8));
  }
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number_unsigned() || v.is_number_integer();
  if (type == "boolean") return v.is_boolean();
  return false;
}

// The differences between one log line and the schema; empty if it conforms:
// it parses, its event is documented, it has every documented field with its
// type and nothing else, its time is UTC with milliseconds, and a
// session_end's reason is a documented one.
inline std::vector<std::string> CheckLine(const EventSchema& schema, const std::string& line) {
  std::vector<std::string> problems;
  const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return {"not a JSON object: " + line};
  if (!j.contains("event") || !j["event"].is_string()) return {"no event: " + line};
  const std::string event = j["event"];
  auto it = schema.fields.find(event);
  if (it == schema.fields.end()) return {"undocumented event " + event};
  for (const auto& [field, type] : it->second) {
    if (!j.contains(field)) {
      problems.push_back(event + ": missing " + field);
    } else if (!HasType(j[field], type)) {
      problems.push_back(event + ": " + field + " is " + j[field].dump() + ", documented " + type);
    }
  }
  for (const auto& [field, value] : j.items()) {
    if (!it->second.contains(field)) problems.push_back(event + ": undocumented " + field);
  }
  if (!j["time"].is_string() || !IsUtcMillis(j["time"].get<std::string>())) {
    problems.push_back(event + ": time " + j["time"].dump());
  }
  if (event == "session_end" && j["reason"].is_string() &&
      !schema.reasons.contains(j["reason"].get<std::string>())) {
    problems.push_back("undocumented reason " + j["reason"].dump());
  }
  return problems;
}

}  // namespace postbox::ops_testing

#endif  // POSTBOX_TESTS_INTEGRATION_OPS_EVENT_SCHEMA_H_
