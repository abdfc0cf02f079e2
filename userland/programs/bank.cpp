// bank: a lost update. Two tellers deposit into one account kept by a server, each
// deposit a read (GET) and then a write (SET) of the new balance: two RPCs with no
// lock between them. Under round robin a teller runs until its quantum ends, so
// each finishes before the other starts and the balance comes out right. Other
// schedules let both read the same balance, and one deposit is lost; the server
// then ends with exit code 1. `machsim explore bank` finds such a schedule and
// prints the command that replays it.
//
//   teller-a                bank                 teller-b
//     | --- GET ------------> |                      |
//     | <-- balance 0 ------- |                      |
//     |                       | <------------ GET --- |   (only if the schedule
//     |                       | --- balance 0 ------> |    switches here)
//     | --- SET 10 ---------> |                      |
//     |                       | <---------- SET 10 -- |   one deposit lost
#include <cstdio>

#include "mach/mach.h"
#include "servers/bootstrap.h"
#include "userland/programs/builtin.h"

namespace machsim::demos {

namespace {

constexpr mach_msg_id_t kGet = 700, kSet = 701, kDone = 702;
constexpr int kTellers = 2;
constexpr int kDeposits = 3;
constexpr int kAmount = 10;

struct BankMsg {
    mach_msg_header_t head;
    int value;  // SET: the new balance; replies: the balance
};

struct BankReceived {
    BankMsg msg;
    mach_msg_trailer_t trailer;
};

int bank() {
    mach_port_t port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_check_in(bootstrap_port, "bank", &port);
    if (kr != KERN_SUCCESS) {
        mach_error("bank: bootstrap_check_in:", kr);
        return 2;
    }
    int balance = 0;
    for (int done = 0; done < kTellers;) {
        BankReceived in{};
        mach_msg_return_t mr =
            mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) {
            mach_error("bank: receive:", mr);
            return 2;
        }
        switch (in.msg.head.msgh_id) {
        case kSet: balance = in.msg.value; break;
        case kDone: ++done; continue;  // a one-way message: no reply
        case kGet: break;
        default: continue;
        }
        BankMsg out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.msg.head.msgh_remote_port;
        out.head.msgh_id = in.msg.head.msgh_id + 100;
        out.value = balance;
        mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        if (mr != MACH_MSG_SUCCESS) mach_error("bank: reply:", mr);
    }
    const int expected = kTellers * kDeposits * kAmount;
    if (balance != expected) {
        std::printf("bank: balance %d, expected %d: %d deposit(s) lost\n", balance, expected,
                    (expected - balance) / kAmount);
        return 1;
    }
    std::printf("bank: balance %d, as expected\n", balance);
    return 0;
}

// One RPC to the bank: sends id and value, returns the balance in the reply (or -1).
int call(mach_port_t bank, mach_port_t reply, mach_msg_id_t id, int value, const char* who) {
    BankReceived m{};
    m.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    m.msg.head.msgh_size = sizeof m.msg;
    m.msg.head.msgh_remote_port = bank;
    m.msg.head.msgh_local_port = reply;
    m.msg.head.msgh_id = id;
    m.msg.value = value;
    mach_msg_return_t mr = mach_msg(&m.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof m.msg, sizeof m, reply,
                                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS) {
        std::fprintf(stderr, "%s: ", who);
        mach_error("call:", mr);
        return -1;
    }
    return m.msg.value;
}

int teller(const char* who) {
    mach_port_t bank = MACH_PORT_NULL;
    kern_return_t kr = look_up_service("bank", &bank);
    if (kr != KERN_SUCCESS) {
        std::fprintf(stderr, "%s: ", who);
        mach_error("bootstrap_look_up:", kr);
        return 1;
    }
    mach_port_t reply = mach_reply_port();
    for (int i = 0; i < kDeposits; ++i) {
        int balance = call(bank, reply, kGet, 0, who);  // read ...
        if (balance < 0) return 1;
        if (call(bank, reply, kSet, balance + kAmount, who) < 0) return 1;  // ... then write: not atomic
        std::printf("%s: deposited %d on a balance of %d\n", who, kAmount, balance);
    }
    BankMsg done{};
    done.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    done.head.msgh_size = sizeof done;
    done.head.msgh_remote_port = bank;
    done.head.msgh_id = kDone;
    mach_msg_return_t mr =
        mach_msg(&done.head, MACH_SEND_MSG, sizeof done, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    return mr == MACH_MSG_SUCCESS ? 0 : 1;
}

}  // namespace

Program bank_program() {
    return {"bank", "two tellers deposit over RPC with no lock: some schedules lose a deposit (machsim explore bank)",
            [](Kernel& k) {
                k.spawn("bank", bank);
                k.spawn("teller-a", [] { return teller("teller-a"); });
                k.spawn("teller-b", [] { return teller("teller-b"); });
            }};
}

}  // namespace machsim::demos
