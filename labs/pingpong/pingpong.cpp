// Lab: ping-pong over Mach ports. README.md says what ping and pong must do.
#include <mach/mach.h>
#include <machsim.h>
#include <servers/bootstrap.h>

namespace {

constexpr mach_msg_id_t kPing = 1000;  // requests: ping -> pong
constexpr mach_msg_id_t kPong = 1100;  // answers: pong -> ping
constexpr int kRounds = 10;

struct CounterMsg {
    mach_msg_header_t head;
    int counter;
};

int pong() {
    // TODO: make a port, register it as "pong", then answer kRounds requests.
    (void)kPing;
    (void)kPong;
    (void)kRounds;
    return 1;
}

int ping() {
    // TODO: look "pong" up, make a reply port, and send kRounds requests, checking each answer.
    (void)sizeof(CounterMsg);
    return 1;
}

}  // namespace

MACHSIM_PROGRAM(pingpong, "lab: ping and pong bounce a counter 10 times") {
    k.spawn("pong", pong);
    k.spawn("ping", ping);
}
