// The `machsim` executable.
#include "machsim.h"

int main(int argc, char** argv) { return machsim::main(argc, argv); }
