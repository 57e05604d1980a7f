/*
 * CPU tables: an IDT whose every exception prints a register dump and ends
 * the test (instead of a silent triple fault), and identity mappings for
 * MMIO above what boot.S mapped.
 */
#include "guest.h"

#include "bareusb/util.h"

/* ------------------------------------------------------------------------ */
/* Exceptions                                                               */

/** Register frame built by isr_common in boot.S (lowest address first). */
struct exc_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes");

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_table[32];
static struct idt_gate idt[256];

void guest_exception(struct exc_frame *f);

/** Called from isr_common; never returns. */
void guest_exception(struct exc_frame *f)
{
	static const char *const names[] = {
	    "#DE divide error",
	    "#DB debug",
	    "NMI",
	    "#BP breakpoint",
	    "#OF overflow",
	    "#BR bound",
	    "#UD invalid opcode",
	    "#NM no FPU",
	    "#DF double fault",
	    "coprocessor overrun",
	    "#TS invalid TSS",
	    "#NP segment not present",
	    "#SS stack fault",
	    "#GP general protection",
	    "#PF page fault",
	    "reserved",
	    "#MF x87",
	    "#AC alignment",
	    "#MC machine check",
	    "#XM SIMD",
	    "#VE virtualization",
	    "#CP control protection",
	};
	const char *name =
	    f->vector < BU_ARRAY_SIZE(names) ? names[f->vector] : "reserved";
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	kprintf("\n# CPU exception %llu (%s) error=0x%llx\n",
		(unsigned long long)f->vector, name,
		(unsigned long long)f->error);
	kprintf("# rip=%016llx rsp=%016llx rflags=%08llx cr2=%016llx\n",
		(unsigned long long)f->rip, (unsigned long long)f->rsp,
		(unsigned long long)f->rflags, (unsigned long long)cr2);
	kprintf("# rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
		(unsigned long long)f->rax, (unsigned long long)f->rbx,
		(unsigned long long)f->rcx, (unsigned long long)f->rdx);
	kprintf("# rsi=%016llx rdi=%016llx rbp=%016llx\n",
		(unsigned long long)f->rsi, (unsigned long long)f->rdi,
		(unsigned long long)f->rbp);
	/* A short frame-pointer backtrace (the image is built with frame
	 * pointers). */
	uint64_t *fp = (uint64_t *)f->rbp;

	for (int i = 0;
	     i < 12 && fp && ((uintptr_t)fp & 7) == 0 &&
	     (uintptr_t)fp < 0x100000000ull && (uintptr_t)fp > 0x100000;
	     i++) {
		kprintf("# frame %d: %016llx\n", i, (unsigned long long)fp[1]);
		fp = (uint64_t *)fp[0];
	}
	guest_panic("CPU exception %llu at rip 0x%llx",
		    (unsigned long long)f->vector, (unsigned long long)f->rip);
}

void idt_set_gate(unsigned vector, uint64_t a)
{
	struct idt_gate *g = &idt[vector & 255];

	g->off_lo = (uint16_t)a;
	g->sel = 0x08;
	g->ist = 0;
	g->type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	g->off_mid = (uint16_t)(a >> 16);
	g->off_hi = (uint32_t)(a >> 32);
	g->zero = 0;
}

void idt_init(void)
{
	struct idt_ptr p;

	for (unsigned i = 0; i < 32; i++)
		idt_set_gate(i, isr_table[i]);
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p));
}

/* ------------------------------------------------------------------------ */
/* Paging                                                                   */

#define PTE_P	 0x001ull
#define PTE_RW	 0x002ull
#define PTE_PWT	 0x008ull
#define PTE_PCD	 0x010ull
#define PTE_PS	 0x080ull
#define PTE_ADDR 0x000ffffffffff000ull
#define PAGE_2M	 (2ull << 20)

extern uint64_t boot_pml4[512];

#define PT_POOL 32
static uint64_t pt_pool[PT_POOL][512] __attribute__((aligned(4096)));
static unsigned pt_used;

/** Next-level table for entry `e`, creating it from the pool when absent. */
static uint64_t *pt_next(uint64_t *e)
{
	if (*e & PTE_P)
		return (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
	if (pt_used == PT_POOL)
		return NULL;
	uint64_t *t = pt_pool[pt_used++];

	*e = (uint64_t)(uintptr_t)t | PTE_P | PTE_RW;
	return t;
}

bool paging_map_mmio(uint64_t phys, uint64_t size)
{
	uint64_t a = phys & ~(PAGE_2M - 1);
	uint64_t end = phys + size;

	if (size == 0 || end < phys || end > (1ull << 48))
		return false;
	for (; a < end; a += PAGE_2M) {
		uint64_t *pdpt = pt_next(&boot_pml4[(a >> 39) & 511]);
		uint64_t *pd = pdpt ? pt_next(&pdpt[(a >> 30) & 511]) : NULL;

		if (!pd)
			return false;
		pd[(a >> 21) & 511] =
		    a | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT;
		__asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
	}
	return true;
}
