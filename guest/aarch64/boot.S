/*
 * bareusb QEMU test image, aarch64 entry.
 *
 * QEMU's -kernel jumps to _start of this ELF on the `virt` machine with the
 * MMU off, at EL1 (or EL2 with virtualization=on, EL3 with secure=on). From
 * EL2 we drop to EL1; EL3 is not supported (nothing would answer PSCI).
 * Then: stack, .bss zeroed, exception vectors, the identity map and MMU
 * (cpu.c), and guest_start(x0) (start.c).
 */

#define SCTLR_EL1_RES1 0x30d00800 /* bits 29, 28, 23, 22, 20, 11 (ARMv8.0) */
#define HCR_EL2_RW (1 << 31)      /* EL1 runs AArch64 */
#define SPSR_EL1H_MASKED 0x3c5    /* EL1h, D, A, I, F masked */
#define CPACR_FPEN (3 << 20)      /* no trap of FP/SIMD at EL1/EL0 */

	.section .text.boot, "ax"
	.globl _start
_start:
	mov x19, x0                     /* what QEMU left in x0 */
	mrs x1, CurrentEL
	lsr x1, x1, #2
	cmp x1, #2
	b.eq from_el2
	cmp x1, #1
	b.ne unsupported_el
	b at_el1

from_el2:
	ldr x1, =HCR_EL2_RW
	msr hcr_el2, x1
	mrs x1, cnthctl_el2
	orr x1, x1, #3                  /* EL1PCTEN, EL1PCEN: EL1 uses the timer */
	msr cnthctl_el2, x1
	msr cntvoff_el2, xzr
	ldr x1, =SCTLR_EL1_RES1
	msr sctlr_el1, x1
	mov x1, #SPSR_EL1H_MASKED
	msr spsr_el2, x1
	adr x1, at_el1
	msr elr_el2, x1
	isb
	eret

unsupported_el:
	wfe
	b unsupported_el

at_el1:
	msr daifset, #0xf
	ldr x1, =boot_stack_top
	mov sp, x1
	mov x29, xzr
	mov x30, xzr

	/* Zero .bss (page tables and the stack live there); 16-byte aligned
	 * stores only: with the MMU off this is device memory. */
	ldr x1, =__bss_start
	ldr x2, =__bss_end
1:	cmp x1, x2
	b.hs 2f
	stp xzr, xzr, [x1], #16
	b 1b
2:
	ldr x1, =exception_vectors
	msr vbar_el1, x1
	mov x1, #CPACR_FPEN
	msr cpacr_el1, x1
	isb

	bl mmu_init
	mov x0, x19
	bl guest_start
3:	wfi
	b 3b

/* ------------------------------------------------------------------------ */
/* Calls out: semihosting and PSCI. The exception handler knows the three   */
/* instructions, so an image run without semihosting (or PSCI) goes on.     */

	.text
	.globl semihosting_call, semihosting_insn
semihosting_call:                       /* w0 = operation, x1 = block */
semihosting_insn:
	hlt #0xf000
	ret

	.globl psci_hvc, psci_hvc_insn
psci_hvc:
psci_hvc_insn:
	hvc #0
	ret

	.globl psci_smc, psci_smc_insn
psci_smc:
psci_smc_insn:
	smc #0
	ret

/* ------------------------------------------------------------------------ */
/* Exception vectors (Arm ARM, "Exception vectors": 16 entries of 0x80      */
/* bytes, 2 KiB aligned). Every entry saves the registers and calls         */
/* guest_exception(frame, entry); when that returns, the frame (changed or  */
/* not) is restored and ERET goes back.                                     */

#define FRAME_SIZE (36 * 8)             /* struct exc_frame in cpu.c */

	.macro ventry idx
	.balign 0x80
	sub sp, sp, #FRAME_SIZE
	stp x0, x1, [sp, #0]
	mov x0, #\idx
	b exception_common
	.endm

	.balign 2048
	.globl exception_vectors
exception_vectors:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	ventry \n
	.endr

exception_common:
	stp x2, x3, [sp, #16]
	stp x4, x5, [sp, #32]
	stp x6, x7, [sp, #48]
	stp x8, x9, [sp, #64]
	stp x10, x11, [sp, #80]
	stp x12, x13, [sp, #96]
	stp x14, x15, [sp, #112]
	stp x16, x17, [sp, #128]
	stp x18, x19, [sp, #144]
	stp x20, x21, [sp, #160]
	stp x22, x23, [sp, #176]
	stp x24, x25, [sp, #192]
	stp x26, x27, [sp, #208]
	stp x28, x29, [sp, #224]
	mrs x1, elr_el1
	stp x30, x1, [sp, #240]
	mrs x1, spsr_el1
	mrs x2, esr_el1
	stp x1, x2, [sp, #256]
	mrs x1, far_el1
	add x2, sp, #FRAME_SIZE         /* the interrupted SP (same stack) */
	stp x1, x2, [sp, #272]
	mov x1, x0
	mov x0, sp
	bl guest_exception
	ldp x1, x2, [sp, #248]          /* ELR, SPSR: the handler may move ELR */
	msr elr_el1, x1
	msr spsr_el1, x2
	ldp x0, x1, [sp, #0]
	ldp x2, x3, [sp, #16]
	ldp x4, x5, [sp, #32]
	ldp x6, x7, [sp, #48]
	ldp x8, x9, [sp, #64]
	ldp x10, x11, [sp, #80]
	ldp x12, x13, [sp, #96]
	ldp x14, x15, [sp, #112]
	ldp x16, x17, [sp, #128]
	ldp x18, x19, [sp, #144]
	ldp x20, x21, [sp, #160]
	ldp x22, x23, [sp, #176]
	ldp x24, x25, [sp, #192]
	ldp x26, x27, [sp, #208]
	ldp x28, x29, [sp, #224]
	ldr x30, [sp, #240]
	add sp, sp, #FRAME_SIZE
	eret

	.section .bss
	.balign 16
boot_stack:
	.skip 256 * 1024
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
