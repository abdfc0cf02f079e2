// Strings more than one sink writes: JSON literals and objects (the Perfetto and JSON-lines
// exports), and the words for a right's disposition and received type (the text trace and the
// JSON lines). Internal to kernel/machine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace machsim::machine {

// A JSON string literal, quotes included: quotes, backslashes and control characters escaped;
// bytes that are not UTF-8 (a task name is any bytes) become U+FFFD, so the text stays valid.
std::string json_string(std::string_view s);

// The members of a JSON object, in the order added.
class JsonObject {
public:
    JsonObject& add(std::string_view key, std::string_view value) { return raw(key, json_string(value)); }
    JsonObject& add(std::string_view key, int64_t value);
    // `json` is written as it is: a number, true, false, null or a literal made by json_string.
    JsonObject& raw(std::string_view key, std::string_view json);
    std::string str() const { return "{" + body_ + "}"; }

private:
    std::string body_;
};

// "MOVE_SEND" for MACH_MSG_TYPE_MOVE_SEND and the other dispositions a copy-in takes; "?" otherwise.
const char* disposition_name(uint32_t disposition);
// "receive", "send" or "send-once" for the right type a copy-out gives; "?" otherwise.
const char* received_name(uint32_t type);

}  // namespace machsim::machine
