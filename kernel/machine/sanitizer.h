// Whether this build runs under AddressSanitizer, and its fiber-switch hooks.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define MACHSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MACHSIM_ASAN 1
#endif
#endif

#ifdef MACHSIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

namespace machsim::machine {

inline void asan_start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
#ifdef MACHSIM_ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
    (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

inline void asan_finish_switch(void* fake_stack_save, const void** bottom_old, std::size_t* size_old) {
#ifdef MACHSIM_ASAN
    __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
    (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

// Memory LeakSanitizer should scan for pointers, as it scans globals.
inline void lsan_register_root(const void* p, std::size_t n) {
#ifdef MACHSIM_ASAN
    __lsan_register_root_region(p, n);
#else
    (void)p, (void)n;
#endif
}

inline void asan_unpoison(void* p, std::size_t n) {
#ifdef MACHSIM_ASAN
    __asan_unpoison_memory_region(p, n);
#else
    (void)p, (void)n;
#endif
}

}  // namespace machsim::machine
