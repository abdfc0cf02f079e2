// Fiber stacks: each has a guard gap below it, and freed stacks are kept for
// reuse so that spawning is cheap. Each stack costs the host two memory
// mappings; when the host refuses one (vm.max_map_count), allocation fails
// cleanly instead of handing out a stack without its guard.
//
// The gap is 1 MiB of PROT_NONE address space (no memory), not one page: a frame
// larger than the gap's first page, in code built without -fstack-clash-protection,
// would otherwise step over a single guard page into whatever the host mapped below,
// another task's memory included.
#pragma once

#include <cstddef>
#include <vector>

namespace machsim::machine {

class StackPool {
public:
    static constexpr std::size_t kGuardBytes = std::size_t{1} << 20;

    struct Stack {
        void* lo = nullptr;     // lowest usable byte; the guard gap is just below
        std::size_t size = 0;   // usable bytes
        void* top() const { return static_cast<char*>(lo) + size; }
    };

    explicit StackPool(std::size_t usable_bytes);
    ~StackPool();
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;

    [[nodiscard]] bool allocate(Stack& out);
    void release(Stack s);
    // The stack of a thread that ended without unwinding (fault.h): its frames
    // may still own host memory, so it stays mapped for the rest of the process
    // and LeakSanitizer scans it. Past kRetiredStacks it is simply released.
    void retire(Stack s);

    std::size_t in_use() const { return in_use_; }
    std::size_t usable() const { return usable_; }

private:
    std::size_t usable_;
    std::size_t page_;
    std::size_t in_use_ = 0;
    std::vector<void*> free_;  // lo of each free stack
    std::vector<void*> all_;   // lo of each stack ever mapped
};

}  // namespace machsim::machine
