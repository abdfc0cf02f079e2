// The kvserver lab's grader (README.md has the assignment and the points). It runs the
// student's kv_server with clients of its own, in programs registered here.
#include "labs/grade.h"

#include <servers/bootstrap.h>

#include "labs/kvserver/kv.h"

namespace {

using lab::give_up;

mach_port_t look_up_kv() { return lab::look_up("kv"); }

struct Answer {
    mach_msg_return_t mr = MACH_MSG_SUCCESS;
    mach_msg_id_t id = 0;
    kern_return_t ret = KERN_FAILURE;
    int32_t value = 0;
};

// One RPC: a request with id `id` carrying key and value, answered on the thread's reply port.
Answer rpc(mach_port_t kv, mach_msg_id_t id, int32_t key, int32_t value = 0) {
    union {
        kv_put_request put;
        struct {
            kv_reply reply;
            mach_msg_max_trailer_t trailer;
        } in;
    } buf{};
    mach_port_t reply = mig_get_reply_port();
    const mach_msg_size_t size = id == KV_GET ? sizeof(kv_get_request) : sizeof(kv_put_request);
    buf.put.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.put.Head.msgh_size = size;
    buf.put.Head.msgh_remote_port = kv;
    buf.put.Head.msgh_local_port = reply;
    buf.put.Head.msgh_id = id;
    buf.put.key = key;
    buf.put.value = value;
    Answer a;
    a.mr = mach_msg(&buf.put.Head, MACH_SEND_MSG | MACH_RCV_MSG, size, sizeof buf.in, reply, MACH_MSG_TIMEOUT_NONE,
                    MACH_PORT_NULL);
    a.id = buf.in.reply.Head.msgh_id;
    a.ret = buf.in.reply.RetCode;
    a.value = buf.in.reply.value;
    return a;
}

// Checks an answer: sent and received, the right id, RetCode `ret`, and (for a found key) `value`.
bool answered(const Answer& a, const char* what, mach_msg_id_t request, kern_return_t ret, int32_t value = 0) {
    if (a.mr != MACH_MSG_SUCCESS) return !give_up("{}: mach_msg returned {}", what, mach_error_string(a.mr));
    if (a.id != request + KV_REPLY_OFFSET)
        return !give_up("{}: the answer's id is {}, not {}", what, a.id, request + KV_REPLY_OFFSET);
    if (a.ret != ret) return !give_up("{}: RetCode {}, not {}", what, mach_error_string(a.ret), mach_error_string(ret));
    if (ret == KERN_SUCCESS && request == KV_GET && a.value != value)
        return !give_up("{}: value {}, not {}", what, a.value, value);
    return true;
}

void spawn_server(machsim::Kernel& k) { k.spawn("server", kv_server, machsim::SpawnOptions{.daemon = true}); }

int basic_client() {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    bool ok = answered(rpc(kv, KV_PUT, 1, 10), "put(1, 10)", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_PUT, 2, 20), "put(2, 20)", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_GET, 1), "get(1)", KV_GET, KERN_SUCCESS, 10) &&
              answered(rpc(kv, KV_PUT, 1, 11), "put(1, 11)", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_GET, 1), "get(1) after put(1, 11)", KV_GET, KERN_SUCCESS, 11) &&
              answered(rpc(kv, KV_GET, 2), "get(2)", KV_GET, KERN_SUCCESS, 20);
    return ok ? 0 : 1;
}

int missing_client() {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    bool ok = answered(rpc(kv, KV_GET, 77), "get(77) of a key never stored", KV_GET, KERN_NOT_FOUND) &&
              answered(rpc(kv, KV_PUT, 77, 7), "put(77, 7) after it", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_GET, 77), "get(77) after put(77, 7)", KV_GET, KERN_SUCCESS, 7);
    return ok ? 0 : 1;
}

int bad_id_client() {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    bool ok = answered(rpc(kv, 2999, 1, 1), "a request with the unknown id 2999", 2999, MIG_BAD_ID) &&
              answered(rpc(kv, KV_PUT, 5, 50), "put(5, 50) after it", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_GET, 5), "get(5)", KV_GET, KERN_SUCCESS, 50);
    return ok ? 0 : 1;
}

// Sends a request and is gone before the answer: its reply port is destroyed with it.
int ghost() {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    mach_port_t reply = mach_reply_port();
    kv_get_request req{};
    req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    req.Head.msgh_size = sizeof req;
    req.Head.msgh_remote_port = kv;
    req.Head.msgh_local_port = reply;
    req.Head.msgh_id = KV_GET;
    req.key = 1;
    mach_msg_return_t mr =
        mach_msg(&req.Head, MACH_SEND_MSG, sizeof req, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) return give_up("ghost's request: {}", mach_error_string(mr));
    return 0;  // exiting destroys the reply port
}

int after_ghosts() {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    for (int i = 0; i < 3; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);  // the ghosts go first
    bool ok = answered(rpc(kv, KV_PUT, 9, 90), "put(9, 90) after two clients vanished", KV_PUT, KERN_SUCCESS) &&
              answered(rpc(kv, KV_GET, 9), "get(9)", KV_GET, KERN_SUCCESS, 90);
    return ok ? 0 : 1;
}

// Each of the crowd stores keys of its own and reads them back, between the others' requests.
int crowd_member(int32_t base) {
    mach_port_t kv = look_up_kv();
    if (!kv) return 1;
    for (int32_t i = 0; i < 5; ++i) {
        if (!answered(rpc(kv, KV_PUT, base + i, base * 10 + i), "a put", KV_PUT, KERN_SUCCESS)) return 1;
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    for (int32_t i = 0; i < 5; ++i)
        if (!answered(rpc(kv, KV_GET, base + i), fmt::format("get({})", base + i).c_str(), KV_GET, KERN_SUCCESS,
                      base * 10 + i))
            return 1;
    return 0;
}

}  // namespace

MACHSIM_PROGRAM(kv_basic, "kvserver grader: puts and gets") {
    spawn_server(k);
    k.spawn("client", basic_client);
}
MACHSIM_PROGRAM(kv_missing, "kvserver grader: a get of a key never stored") {
    spawn_server(k);
    k.spawn("client", missing_client);
}
MACHSIM_PROGRAM(kv_bad_id, "kvserver grader: a request the server does not know") {
    spawn_server(k);
    k.spawn("client", bad_id_client);
}
MACHSIM_PROGRAM(kv_vanishing, "kvserver grader: two clients gone before their answers, then one more") {
    spawn_server(k);
    k.spawn("ghost1", ghost);
    k.spawn("ghost2", ghost);
    k.spawn("client", after_ghosts);
}
MACHSIM_PROGRAM(kv_crowd, "kvserver grader: three clients at once") {
    spawn_server(k);
    k.spawn("alice", [] { return crowd_member(100); });
    k.spawn("bob", [] { return crowd_member(200); });
    k.spawn("carol", [] { return crowd_member(300); });
}

LAB_TEST("put stores a value and get returns it; a later put replaces it; answers go to send-once rights", 25) {
    lab::Run r = lab::run("kv_basic");
    t.expect_clean(r);
    int once = r.sent_with("server", KV_PUT + KV_REPLY_OFFSET, MACH_MSG_TYPE_MOVE_SEND_ONCE) +
               r.sent_with("server", KV_GET + KV_REPLY_OFFSET, MACH_MSG_TYPE_MOVE_SEND_ONCE);
    t.expect(once == 6, "{} of the 6 answers went out through the request's send-once right (MOVE_SEND_ONCE)", once);
}

LAB_TEST("a get of a key never stored is answered KERN_NOT_FOUND", 15) { t.expect_clean(lab::run("kv_missing")); }

LAB_TEST("a request with an unknown id is answered MIG_BAD_ID (id + 100), and the server goes on", 15) {
    t.expect_clean(lab::run("kv_bad_id"));
}

LAB_TEST("clients gone before their answers do not stop the server", 15) { t.expect_clean(lab::run("kv_vanishing")); }

LAB_TEST("three clients at once each read back their own values", 10) { t.expect_clean(lab::run("kv_crowd")); }

LAB_TEST("correct under any schedule: 25 seeds of the PCT policy and 25 of the random one, two programs", 20) {
    for (const char* program : {"kv_crowd", "kv_vanishing"}) {
        lab::under_schedules(t, program);
        if (t.failed()) return;
    }
}

LAB_MAIN("kvserver")
