#include "kernel/machine/trace_strings.h"

#include <fmt/format.h>

#include <iterator>

#include "mach/message.h"

namespace machsim::machine {

namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = at(i);
    std::size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    unsigned char d = at(i + 1);  // overlong forms, surrogates, past U+10FFFF
    if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F))
        return 0;
    return n;
}

}  // namespace

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else if (std::size_t n = utf8_length(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    return out + '"';
}

JsonObject& JsonObject::add(std::string_view key, int64_t value) { return raw(key, fmt::format("{}", value)); }

JsonObject& JsonObject::raw(std::string_view key, std::string_view json) {
    body_ += fmt::format("{}{}:{}", body_.empty() ? "" : ",", json_string(key), json);
    return *this;
}

const char* disposition_name(uint32_t d) {
    switch (d) {
    case MACH_MSG_TYPE_MOVE_RECEIVE: return "MOVE_RECEIVE";
    case MACH_MSG_TYPE_MOVE_SEND: return "MOVE_SEND";
    case MACH_MSG_TYPE_MOVE_SEND_ONCE: return "MOVE_SEND_ONCE";
    case MACH_MSG_TYPE_COPY_SEND: return "COPY_SEND";
    case MACH_MSG_TYPE_MAKE_SEND: return "MAKE_SEND";
    case MACH_MSG_TYPE_MAKE_SEND_ONCE: return "MAKE_SEND_ONCE";
    default: return "?";
    }
}

const char* received_name(uint32_t t) {
    switch (t) {
    case MACH_MSG_TYPE_PORT_RECEIVE: return "receive";
    case MACH_MSG_TYPE_PORT_SEND: return "send";
    case MACH_MSG_TYPE_PORT_SEND_ONCE: return "send-once";
    default: return "?";
    }
}

}  // namespace machsim::machine
