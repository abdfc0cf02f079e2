#include "ports/message.h"

namespace machsim::ipc {

MsgPool::~MsgPool() {
    for (KMsg* m : free_) delete m;
}

KMsg* MsgPool::get(uint32_t bytes) {
    KMsg* m;
    if (free_.empty()) {
        m = new KMsg;
    } else {
        m = free_.back();
        free_.pop_back();
    }
    if (bytes > KMsg::kInline) {
        m->big_.reset(new uint8_t[bytes]);
        m->big_capacity_ = bytes;
    }
    ++live_;
    return m;
}

void MsgPool::put(KMsg* m) {
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
    free_.push_back(m);
}

}  // namespace machsim::ipc
