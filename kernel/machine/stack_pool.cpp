#include "kernel/machine/stack_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "kernel/machine/fault.h"
#include "kernel/machine/sanitizer.h"

namespace machsim::machine {

StackPool::StackPool(std::size_t usable_bytes) : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {
    usable_ = (std::max<std::size_t>(usable_bytes, 4 * page_) + page_ - 1) / page_ * page_;
}

StackPool::~StackPool() {
    for (void* lo : all_) {
        asan_unpoison(lo, usable_);  // the shadow outlives the mapping; leave it clean for whoever maps here next
        munmap(static_cast<char*>(lo) - kGuardBytes, usable_ + kGuardBytes);
    }
}

bool StackPool::allocate(Stack& out) {
    if (!free_.empty()) {
        out = {free_.back(), usable_};
        free_.pop_back();
        asan_unpoison(out.lo, out.size);  // frames of the previous owner may still be poisoned
        ++in_use_;
        return true;
    }
    void* base = mmap(nullptr, usable_ + kGuardBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return false;
    if (mprotect(base, kGuardBytes, PROT_NONE) != 0) {  // no guard, no stack
        munmap(base, usable_ + kGuardBytes);
        return false;
    }
    void* lo = static_cast<char*>(base) + kGuardBytes;
    asan_unpoison(lo, usable_);  // an earlier stack at this address may have left redzones in the shadow
    all_.push_back(lo);
    out = {lo, usable_};
    ++in_use_;
    return true;
}

void StackPool::release(Stack s) {
    if (!s.lo) return;
    free_.push_back(s.lo);
    --in_use_;
}

void StackPool::retire(Stack s) {
    if (!s.lo) return;
    static int retired = 0;  // per process: the stacks outlive their pool
    auto it = std::find(all_.begin(), all_.end(), s.lo);
    if (retired >= kRetiredStacks || it == all_.end()) return release(s);
    ++retired;
    all_.erase(it);
    --in_use_;
    lsan_register_root(s.lo, s.size);
}

}  // namespace machsim::machine
