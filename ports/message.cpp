#include "ports/message.h"

#include "ports/env.h"

namespace machsim::ipc {

void emit_fail(Env& env, int code, fmt::string_view why, fmt::format_args args) {
    std::string text = fmt::vformat(why, args);
    env.trace.emit(Event{.kind = EventKind::Fail, .code = code, .text = text.c_str()});
}

MsgPool::~MsgPool() {
    while (KMsg* m = free_) {
        free_ = m->next_free_;
        delete m;
    }
}

KMsg* MsgPool::get_slow(uint32_t bytes) {
    KMsg* m;
    if (!free_) {
        m = new KMsg;
    } else {
        m = free_;
        free_ = m->next_free_;
    }
    if (bytes > KMsg::kInline) {
        m->big_.reset(new uint8_t[bytes]);
        m->big_capacity_ = bytes;
    }
    ++live_;
    return m;
}

void MsgPool::put_slow(KMsg* m) {
    for (const BodyItem& item : m->items) {
        MS_ASSERT(!item.right.port, "msg {} recycled while carrying a right to P{}", m->number, 0);
        for (const Carried& c : item.rights) MS_ASSERT(!c.port, "msg {} recycled while carrying a port array right", m->number);
    }
    MS_ASSERT(!m->hook.linked(), "recycling msg {} while it is still queued", m->number);
    m->big_.reset();
    m->big_capacity_ = 0;
    m->items.clear();
    m->dest = nullptr;
    m->reply = {};
    m->dest_type = 0;
    m->seqno = 0;
    m->complex = false;
    m->circular = false;
    --live_;
    m->next_free_ = free_;
    free_ = m;
}

}  // namespace machsim::ipc
