// MS_ASSERT: a kernel invariant. A failure is a kernel bug, never a user
// error: it prints the reason and aborts. Never assert on values a task controls.
#pragma once

#include <fmt/format.h>

namespace machsim::machine {
[[noreturn]] void assert_failed(const char* cond, const char* file, int line, const std::string& why);
}

#define MS_ASSERT(cond, ...)                                                                \
    do {                                                                                    \
        if (__builtin_expect(!(cond), 0))                                                   \
            ::machsim::machine::assert_failed(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
    } while (0)
