/*
 * x86_64 helpers of the test image, included by guest.h: port I/O, the TSC,
 * MMIO accessors, and what only the x86_64 code calls.
 */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#include <stdbool.h>
#include <stdint.h>

/** The architecture's name as the image prints it. */
#define GUEST_ARCH "x86_64"
/** What cpu_counter() counts (selftest output). */
#define GUEST_CPU_COUNTER "TSC"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/** A free-running CPU counter (the TSC), for rate checks. */
static inline uint64_t cpu_counter(void)
{
	return rdtsc();
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

/** isa-debug-exit's port (QEMU exits with (value << 1) | 1). */
#define GUEST_EXIT_PORT 0xf4

/** Install the exception handlers (every CPU exception ends the test). */
void idt_init(void);
/** Point IDT vector `vector` at the entry stub at address `handler`. */
void idt_set_gate(unsigned vector, uint64_t handler);

/** C entry from boot.S with the multiboot magic and information. */
__attribute__((noreturn)) void guest_start(uint32_t magic, uint32_t mbi);

#endif
