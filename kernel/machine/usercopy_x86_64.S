/* machsim_usercopy(dst, src, n): copies n bytes; returns 0, or -1 if either side
 * faulted. The fault handler (usercopy.cpp) recognises a fault anywhere in
 * [machsim_usercopy_fault_begin, machsim_usercopy_fault_end) and resumes at
 * machsim_usercopy_fixup, so a bad task pointer costs nothing on the normal path.
 * Messages are small: up to 64 bytes move in 8-byte words, more with rep movsb. */
    .text
    .p2align 4
    .globl machsim_usercopy
    .type machsim_usercopy, @function
machsim_usercopy:
    .cfi_startproc
    .globl machsim_usercopy_fault_begin
machsim_usercopy_fault_begin:
    cmpq $64, %rdx
    ja .Lbulk
    movq %rdx, %rcx
    shrq $3, %rcx
    jz .Ltail
.Lwords:
    movq (%rsi), %rax
    movq %rax, (%rdi)
    addq $8, %rsi
    addq $8, %rdi
    decq %rcx
    jnz .Lwords
.Ltail:
    andl $7, %edx
    jz .Ldone
.Lbytes:
    movzbl (%rsi), %eax
    movb %al, (%rdi)
    incq %rsi
    incq %rdi
    decl %edx
    jnz .Lbytes
.Ldone:
    xorl %eax, %eax
    ret
.Lbulk:
    movq %rdx, %rcx
    rep movsb
    xorl %eax, %eax
    ret
    .globl machsim_usercopy_fault_end
machsim_usercopy_fault_end:
    .globl machsim_usercopy_fixup
machsim_usercopy_fixup:
    movl $-1, %eax
    ret
    .cfi_endproc
    .size machsim_usercopy, .-machsim_usercopy

    .section .note.GNU-stack,"",@progbits
