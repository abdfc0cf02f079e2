// Copy-in and copy-out of task memory. A task may hand the kernel any pointer;
// these copies never crash the host: a fault inside them is caught by the fault
// handler (fault.cpp) and reported as `false`.
#pragma once

#include <cstddef>

extern "C" long machsim_usercopy(void* dst, const void* src, std::size_t n);

namespace machsim::machine {

// Copies n bytes from src to dst. False if either range is not accessible.
[[nodiscard]] inline bool copy_user(void* dst, const void* src, std::size_t n) {
    return n == 0 || machsim_usercopy(dst, src, n) == 0;
}

}  // namespace machsim::machine
