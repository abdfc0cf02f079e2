/* machsim_usercopy(dst, src, n): copies n bytes; returns 0, or -1 if either side
 * faulted. The fault handler (fault.cpp) recognises a fault inside
 * [machsim_usercopy_fault_begin, machsim_usercopy_fault_end) and resumes at
 * machsim_usercopy_fixup, so a bad task pointer costs nothing on the normal path. */
    .text
    .p2align 4
    .globl machsim_usercopy
    .type machsim_usercopy, @function
machsim_usercopy:
    .cfi_startproc
    movq %rdx, %rcx
    .globl machsim_usercopy_fault_begin
machsim_usercopy_fault_begin:
    rep movsb
    .globl machsim_usercopy_fault_end
machsim_usercopy_fault_end:
    xorl %eax, %eax
    ret
    .globl machsim_usercopy_fixup
machsim_usercopy_fixup:
    movl $-1, %eax
    ret
    .cfi_endproc
    .size machsim_usercopy, .-machsim_usercopy

    .section .note.GNU-stack,"",@progbits
