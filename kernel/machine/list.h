// Intrusive doubly linked lists. An object joins a list through a ListHook
// member; it is in at most one list per hook, and the hook knows when it is linked.
#pragma once

#include <cstddef>

#include "kernel/machine/assert.h"

namespace machsim::machine {

struct ListHook {
    ListHook* prev = nullptr;
    ListHook* next = nullptr;
    void* owner = nullptr;  // the object holding this hook, set on insertion
    bool linked() const { return next != nullptr; }
};

template <class T, ListHook T::*Hook>
class List {
public:
    List() { head_.prev = head_.next = &head_; }
    List(const List&) = delete;
    List& operator=(const List&) = delete;
    ~List() { MS_ASSERT(empty(), "list destroyed while {} objects are still linked", size_); }

    bool empty() const { return head_.next == &head_; }
    std::size_t size() const { return size_; }
    T* front() const { return empty() ? nullptr : static_cast<T*>(head_.next->owner); }
    T* back() const { return empty() ? nullptr : static_cast<T*>(head_.prev->owner); }

    // The list operations are forced inline: at -O2 GCC would call some of them on the
    // IPC path, each for a few loads and stores.
    [[gnu::always_inline]] void push_back(T* x) { link_before(&head_, x); }
    [[gnu::always_inline]] void push_front(T* x) { link_before(head_.next, x); }

    [[gnu::always_inline]] T* pop_front() {
        T* x = front();
        if (x) remove(x);
        return x;
    }

    [[gnu::always_inline]] void remove(T* x) {
        ListHook& h = x->*Hook;
        MS_ASSERT(h.linked(), "unlinking an object that is not in a list");
        h.prev->next = h.next;
        h.next->prev = h.prev;
        h.prev = h.next = nullptr;
        --size_;
    }

    // The object after x, or nullptr at the end. x must be in this list.
    T* next(T* x) const {
        ListHook* n = (x->*Hook).next;
        return n == &head_ ? nullptr : static_cast<T*>(n->owner);
    }

    // Calls f on each element; f may remove the element it is given.
    template <class F>
    void for_each(F&& f) {
        for (ListHook* h = head_.next; h != &head_;) {
            ListHook* n = h->next;
            f(static_cast<T*>(h->owner));
            h = n;
        }
    }

private:
    [[gnu::always_inline]] void link_before(ListHook* pos, T* x) {
        ListHook& h = x->*Hook;
        MS_ASSERT(!h.linked(), "linking an object that is already in a list");
        h.owner = x;
        h.next = pos;
        h.prev = pos->prev;
        pos->prev->next = &h;
        pos->prev = &h;
        ++size_;
    }

    ListHook head_;
    std::size_t size_ = 0;
};

}  // namespace machsim::machine
