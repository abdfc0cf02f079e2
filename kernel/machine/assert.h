// MS_ASSERT: a kernel invariant. A failure is a kernel bug, never a user
// error: it prints the reason and aborts. Never assert on values a task controls.
#pragma once

#include <fmt/format.h>

namespace machsim::machine {

[[noreturn, gnu::cold, gnu::noinline]] void assert_failed(const char* cond, const char* file, int line,
                                                         fmt::string_view why, fmt::format_args args);

}  // namespace machsim::machine

// The formatting stays out of line, so that a check costs its comparison only.
#define MS_ASSERT(cond, why, ...)                                                                  \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            ::machsim::machine::assert_failed(#cond, __FILE__, __LINE__, why,                      \
                                              fmt::make_format_args(__VA_ARGS__));                 \
    } while (0)
