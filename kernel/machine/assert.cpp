#include "kernel/machine/assert.h"

#include <cstdio>
#include <cstdlib>

namespace machsim::machine {

void assert_failed(const char* cond, const char* file, int line, fmt::string_view why, fmt::format_args args) {
    std::string text = fmt::vformat(why, args);
    std::fprintf(stderr, "machsim: kernel invariant broken at %s:%d: %s\n  %s\n", file, line, cond, text.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace machsim::machine
