// An outside program, built only with `pkg-config --cflags --libs build/machsim.pc`:
// it registers its own program and gets the whole `machsim` command.
#include <cstdio>
#include <cstdlib>

#include <mach/mach.h>
#include <machsim.h>
#include <servers/bootstrap.h>

namespace {

struct Ball {
    mach_msg_header_t head;
    int n;
};

struct BallIn {
    Ball ball;
    mach_msg_trailer_t trailer;
};

int ponger() {
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "pong", &port) != KERN_SUCCESS) return 1;
    for (int i = 0; i < 3; ++i) {
        BallIn in{};
        if (mach_msg(&in.ball.head, MACH_RCV_MSG, 0, sizeof in, port, 0, MACH_PORT_NULL) != MACH_MSG_SUCCESS) return 1;
        Ball out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.ball.head.msgh_remote_port;
        out.n = in.ball.n;
        if (mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            return 1;
    }
    return 0;
}

int pinger() {
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_look_up(bootstrap_port, "pong", &port) != KERN_SUCCESS) return 1;
    mach_port_t reply = mach_reply_port();
    for (int i = 1; i <= 3; ++i) {
        union {
            Ball out;
            BallIn in;
        } b{};
        b.out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        b.out.head.msgh_size = sizeof b.out;
        b.out.head.msgh_remote_port = port;
        b.out.head.msgh_local_port = reply;
        b.out.n = i;
        if (mach_msg(&b.out.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof b.out, sizeof b.in, reply, 0,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS)
            return 1;
        std::printf("pong %d\n", b.in.ball.n);
    }
    return 0;
}

}  // namespace

MACHSIM_PROGRAM(pingpong, "two tasks bounce a ball three times") {
    k.spawn("ponger", ponger);
    k.spawn("pinger", pinger);
}

// exit() in task code ends that task only (the flags of machsim.pc arrange it).
MACHSIM_PROGRAM(quitter, "one task gives up with exit(3); the other runs on") {
    k.spawn("quitter", [] { std::exit(3); });
    k.spawn("stayer", [] { std::puts("stayer done"); });
}

// exit() in host code still ends the process.
int main(int argc, char** argv) { std::exit(machsim::main(argc, argv)); }
