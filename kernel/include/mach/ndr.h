/* The NDR record MIG puts at the start of a message's plain data. */
#ifndef MACHSIM_MACH_NDR_H
#define MACHSIM_MACH_NDR_H

#pragma pack(push, 4)
typedef struct {
    unsigned char mig_vers;
    unsigned char if_vers;
    unsigned char reserved1;
    unsigned char mig_encoding;
    unsigned char int_rep;
    unsigned char char_rep;
    unsigned char float_rep;
    unsigned char reserved2;
} NDR_record_t;
#pragma pack(pop)

#define NDR_INT_LITTLE_ENDIAN 1
#define NDR_CHAR_ASCII 0
#define NDR_FLOAT_IEEE 0
/* This machine's record (little endian, ASCII, IEEE floats): what XNU's NDR_record holds. */
#define MACHSIM_NDR_NATIVE {0, 0, 0, 0, NDR_INT_LITTLE_ENDIAN, NDR_CHAR_ASCII, NDR_FLOAT_IEEE, 0}

#endif
