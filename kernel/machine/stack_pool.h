// Fiber stacks: each has a guard page below it, and freed stacks are kept for
// reuse so that spawning is cheap. Each stack costs the host two memory
// mappings; when the host refuses one (vm.max_map_count), allocation fails
// cleanly instead of handing out a stack without its guard.
#pragma once

#include <cstddef>
#include <vector>

namespace machsim::machine {

class StackPool {
public:
    struct Stack {
        void* lo = nullptr;     // lowest usable byte; the guard page is just below
        std::size_t size = 0;   // usable bytes
        void* top() const { return static_cast<char*>(lo) + size; }
    };

    explicit StackPool(std::size_t usable_bytes);
    ~StackPool();
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;

    [[nodiscard]] bool allocate(Stack& out);
    void release(Stack s);

    std::size_t in_use() const { return in_use_; }
    std::size_t usable() const { return usable_; }
    // True when addr lies in the guard page of one of this pool's stacks.
    bool in_guard(const void* addr) const;

private:
    std::size_t usable_;
    std::size_t page_;
    std::size_t in_use_ = 0;
    std::vector<void*> free_;  // lo of each free stack
    std::vector<void*> all_;   // lo of each stack ever mapped
};

}  // namespace machsim::machine
