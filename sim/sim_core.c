/*
 * sim core: creation, the platform table the driver sees (MMIO decode,
 * checked DMA space, heap accounting, virtual clock, log), the scheduler, and
 * diagnostics (violations, trace).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bareusb/errors.h"
#include "xhci_trace.h"
#include "sim_priv.h"

/* Register and TRB values the shared header must agree with (xHCI 1.2 §5.4.2
 * USBSTS, §5.4.8 PORTSC, §6.4.5 completion codes, §6.4.6 TRB types). */
_Static_assert(XHCI_PORTSC_PP == (1u << 9), "PORTSC.PP is bit 9");
_Static_assert(XHCI_PORTSC_WPR == (1u << 31), "PORTSC.WPR is bit 31");
_Static_assert(XHCI_PORTSC_CHANGE_MASK == 0x00fe0000u, "PORTSC change bits");
_Static_assert(XHCI_USBSTS_RW1C == 0x41cu, "USBSTS RW1C mask");
_Static_assert(XHCI_TRB_TYPE_SET(XHCI_TRB_LINK) == 0x1800, "Link TRB type");
_Static_assert(XHCI_TRB_TYPE_SET(XHCI_TRB_TRANSFER_EVENT) == 0x8000, "Transfer Event");
_Static_assert(XHCI_CC_STOPPED == 26 && XHCI_CC_EVENT_RING_FULL == 21, "CC values");

static unsigned sim_next_id;

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                              */

/* Print one line as "<who><id> <time> <text>", or hand it to the log hook. */
static void sim_emit(struct sim *sim, int level, const char *who, const char *text)
{
	char line[640];

	snprintf(line, sizeof(line), "%s%u %8llu.%03llu %s", who, sim->id,
		 (unsigned long long)(sim->now / 1000000),
		 (unsigned long long)(sim->now / 1000 % 1000), text);
	if (sim->cfg.log_fn)
		sim->cfg.log_fn(sim->cfg.log_ctx, level, line);
	else
		fprintf(stderr, "%s\n", line);
}

void sim_log(struct sim *sim, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > sim->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sim_emit(sim, level, "sim", line);
}

void sim_violation_add(struct sim *sim, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sim->nviol < SIM_MAX_VIOL)
		sim->viol[sim->nviol] = strdup(line);
	sim->nviol++;
	if (sim->log_level >= 0) {
		char text[540];

		snprintf(text, sizeof(text), "VIOLATION: %s", line);
		sim_emit(sim, BU_LOG_ERR, "sim", text);
	}
	if (sim->cfg.violations_fatal)
		abort();
}

void sim_tracef(struct sim *sim, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!sim->trace)
		return;
	memcpy(line, "trace: ", 7);
	va_start(ap, fmt);
	vsnprintf(line + 7, sizeof(line) - 7, fmt, ap);
	va_end(ap);
	sim_emit(sim, BU_LOG_TRACE, "sim", line);
}

void sim_trace_trb(struct sim *sim, const char *what, uint64_t addr,
		   const uint32_t dw[4])
{
	char buf[200];

	if (!sim->trace)
		return;
	bu_xhci_trb_decode(dw, buf, sizeof(buf));
	sim_tracef(sim, "%s @%#llx: %s", what, (unsigned long long)addr, buf);
}

unsigned sim_violations(const struct sim *sim)
{
	return sim->nviol;
}

const char *sim_violation(const struct sim *sim, unsigned i)
{
	return i < sim->nviol && i < SIM_MAX_VIOL ? sim->viol[i] : NULL;
}

bool sim_has_violation(const struct sim *sim, const char *needle)
{
	for (unsigned i = 0; i < sim->nviol && i < SIM_MAX_VIOL; i++)
		if (strstr(sim->viol[i], needle))
			return true;
	return false;
}

void sim_clear_violations(struct sim *sim)
{
	for (unsigned i = 0; i < sim->nviol && i < SIM_MAX_VIOL; i++)
		free(sim->viol[i]);
	sim->nviol = 0;
}

void sim_trace(struct sim *sim, bool on)
{
	sim->trace = on;
	if (on && sim->log_level < BU_LOG_TRACE)
		sim->log_level = BU_LOG_TRACE;
}

void sim_set_log_level(struct sim *sim, int level)
{
	sim->log_level = level;
}

/* ------------------------------------------------------------------------ */
/* Scheduler                                                                */

void sim_schedule(struct sim *sim, uint64_t *due, uint64_t when)
{
	*due = when;
	if (when < sim->next_due)
		sim->next_due = when;
}

/* Earliest due time of anything; sets kind and arg to what it is. */
static uint64_t sim_earliest(struct sim *sim, int *kind, unsigned *arg)
{
	uint64_t t = SIM_NEVER;

	*kind = 0;
#define SIM_CAND(val, k, a)                  \
	do {                                 \
		uint64_t v_ = (val);         \
		if (v_ < t) {                \
			t = v_;              \
			*kind = (k);         \
			*arg = (a);          \
		}                            \
	} while (0)
	SIM_CAND(sim->ctrl_due, 1, 0);
	SIM_CAND(sim->bios_due, 2, 0);
	SIM_CAND(sim->cmd.due, 3, 0);
	for (unsigned i = 1; i <= sim->nports; i++)
		SIM_CAND(sim->port[i - 1].due, 4, i);
	for (unsigned i = 0; i < sim->nintrs; i++)
		SIM_CAND(sim_intr_due(sim, i), 5, i);
	for (unsigned i = 0; i < sim->nactive; i++) {
		unsigned s = sim->active[i] >> 8, d = sim->active[i] & 0xff;
		SIM_CAND(sim->slot[s].ep[d].due, 6, sim->active[i]);
	}
	unsigned n = 0;
	for (struct sim_device *d = sim->devices; d; d = d->next, n++) {
		if (d->hub)
			SIM_CAND(d->hub->due, 7, n);
		SIM_CAND(d->wake_due, 8, n);
	}
#undef SIM_CAND
	return t;
}

static void sim_run_until(struct sim *sim, uint64_t target)
{
	int kind;
	unsigned arg;

	if (sim->in_run || sim->next_due > target) {
		if (target > sim->now)
			sim->now = target;
		return;
	}
	sim->in_run = true;
	for (unsigned guard = 0; guard < 1000000; guard++) {
		uint64_t t = sim_earliest(sim, &kind, &arg);
		if (t > target)
			break;
		if (t > sim->now)
			sim->now = t;
		switch (kind) {
		case 1:
			sim->ctrl_due = SIM_NEVER;
			sim_ctrl_work(sim);
			break;
		case 2: {
			sim->bios_due = SIM_NEVER;
			if (sim->legacy_off != ~0u)
				sim->xcap[sim->legacy_off] &= ~XHCI_LEGSUP_BIOS_OWNED;
			sim_tracef(sim, "firmware released the controller");
			break;
		}
		case 3:
			sim->cmd.due = SIM_NEVER;
			sim_cmd_work(sim);
			break;
		case 4:
			sim->port[arg - 1].due = SIM_NEVER;
			sim_port_work(sim, arg);
			break;
		case 5:
			sim_intr_work(sim, arg);
			break;
		case 6:
			sim->slot[arg >> 8].ep[arg & 0xff].due = SIM_NEVER;
			sim_ep_work(sim, arg >> 8, arg & 0xff);
			break;
		case 7: {
			struct sim_device *d = sim->devices;
			for (unsigned i = 0; i < arg && d; i++)
				d = d->next;
			if (d && d->hub) {
				d->hub->due = SIM_NEVER;
				sim_hub_work(d);
			}
			break;
		}
		case 8: {
			struct sim_device *d = sim->devices;
			for (unsigned i = 0; i < arg && d; i++)
				d = d->next;
			if (d) {
				d->wake_due = SIM_NEVER;
				sim_wake_work(d);
			}
			break;
		}
		default:
			break;
		}
	}
	if (target > sim->now)
		sim->now = target;
	sim->next_due = sim_earliest(sim, &kind, &arg);
	sim->in_run = false;
}

void sim_run(struct sim *sim)
{
	sim_run_until(sim, sim->now);
}

static void sim_advance_ns(struct sim *sim, uint64_t ns)
{
	sim_run_until(sim, sim->now + ns);
}

void sim_advance_us(struct sim *sim, uint64_t us)
{
	/* Step in 1 ms pieces so periodic work interleaves naturally. */
	while (us > 1000) {
		sim_advance_ns(sim, 1000 * SIM_US);
		us -= 1000;
	}
	sim_advance_ns(sim, us * SIM_US);
}

uint64_t sim_now_us(const struct sim *sim)
{
	return sim->now / SIM_US;
}

bool sim_running(const struct sim *sim)
{
	return (sim->usbcmd & XHCI_USBCMD_RUN) &&
	       !(sim->usbsts & (XHCI_USBSTS_HCH | XHCI_USBSTS_HCE));
}

/* ------------------------------------------------------------------------ */
/* Errors the controller raises                                            */

void sim_host_error(struct sim *sim, const char *why)
{
	sim_log(sim, BU_LOG_ERR, "Host System Error: %s", why);
	sim->usbsts |= XHCI_USBSTS_HSE;
	sim->usbcmd &= ~XHCI_USBCMD_RUN;
	sim->cmd.crr = false;
	sim->cmd.busy = false;
	sim->ctrl_pending = SIM_CTRL_HALT_DONE;
	sim_schedule(sim, &sim->ctrl_due, sim->now + 1 * SIM_US);
}

void sim_hc_error(struct sim *sim, const char *why)
{
	sim_violation_add(sim, "Host Controller Error: %s", why);
	sim->usbsts |= XHCI_USBSTS_HCE | XHCI_USBSTS_HCH;
	sim->cmd.crr = false;
	sim->cmd.busy = false;
}

/* ------------------------------------------------------------------------ */
/* Checked DMA space                                                        */

static struct sim_region *sim_region_find(struct sim *sim, uint64_t bus)
{
	size_t lo = 0, hi = sim->nregions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct sim_region *r = &sim->regions[mid];
		if (bus < r->bus)
			hi = mid;
		else if (bus >= r->bus + (r->len ? r->len : 1))
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Make room for one more element in a growing array of `n` of `*cap`. */
static void *sim_grow(void *arr, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 256;
	arr = realloc(arr, *cap * elem);
	if (!arr)
		abort();
	return arr;
}

static struct sim_region *sim_region_add(struct sim *sim)
{
	sim->regions = sim_grow(sim->regions, sim->nregions, &sim->cap_regions,
				sizeof(*sim->regions));
	struct sim_region *r = &sim->regions[sim->nregions++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* A DMA access the controller cannot make: a violation and a Host System Error. */
static bool sim_dma_fault(struct sim *sim, const char *why)
{
	sim_violation_add(sim, "%s", why);
	sim_host_error(sim, why);
	if (!sim->cfg.dma_fault_nonfatal) {
		fprintf(stderr, "sim%u: fatal DMA fault: %s\n", sim->id, why);
		abort();
	}
	return false;
}

/* Why the controller drops address bits 63:32, or NULL when it decodes 64 bits. */
static const char *sim_dma_32bit_why(const struct sim *sim)
{
	if (sim->cfg.no_ac64)
		return "AC64=0, xHCI §5.3.6";
	if (sim->cfg.dma_32bit_only)
		return "AC64 set but not honoured, as ASMedia's: Linux XHCI_NO_64BIT_SUPPORT";
	return NULL;
}

static bool sim_dma_check(struct sim *sim, uint64_t bus, size_t len, uint8_t perm,
			  const char *what, uint8_t **host)
{
	char why[400];
	struct sim_region *r = sim_region_find(sim, bus);
	const char *op = perm == SIM_PERM_R ? "read" : "write";
	const char *narrow = sim_dma_32bit_why(sim);

	if (narrow && (bus + len - 1) >> 32) {
		snprintf(why, sizeof(why),
			 "DMA %s of %zu bytes at %#llx (%s): above 4 GiB on a controller that decodes 32 address bits (%s)",
			 op, len, (unsigned long long)bus, what, narrow);
		return sim_dma_fault(sim, why);
	}
	if (r && !r->dead && bus + len <= r->bus + r->len && (r->perm & perm)) {
		*host = (r->dev ? r->dev : r->host) + (bus - r->bus);
		return true;
	}
	if (!r)
		snprintf(why, sizeof(why),
			 "DMA %s of %zu bytes at %#llx (%s): address not mapped",
			 op, len, (unsigned long long)bus, what);
	else if (r->dead)
		snprintf(why, sizeof(why),
			 "DMA %s of %zu bytes at %#llx (%s): buffer was already %s",
			 op, len, (unsigned long long)bus, what,
			 r->is_map ? "unmapped" : "freed");
	else if (bus + len > r->bus + r->len)
		snprintf(why, sizeof(why),
			 "DMA %s of %zu bytes at %#llx (%s): runs past the end of a %zu-byte %s at %#llx",
			 op, len, (unsigned long long)bus, what, r->len,
			 r->is_map ? "mapping" : "allocation",
			 (unsigned long long)r->bus);
	else
		snprintf(why, sizeof(why),
			 "DMA %s of %zu bytes at %#llx (%s): mapping direction forbids it",
			 op, len, (unsigned long long)bus, what);
	return sim_dma_fault(sim, why);
}

bool sim_dma_probe(struct sim *sim, uint64_t bus, size_t len, bool write,
		   const char *what)
{
	uint8_t *h;

	return sim_dma_check(sim, bus, len ? len : 1, write ? SIM_PERM_W : SIM_PERM_R,
			     what, &h);
}

bool sim_dma_read(struct sim *sim, uint64_t bus, void *dst, size_t len,
		  const char *what)
{
	uint8_t *h;

	if (len == 0)
		return true;
	if (!sim_dma_check(sim, bus, len, SIM_PERM_R, what, &h)) {
		memset(dst, 0, len);
		return false;
	}
	memcpy(dst, h, len);
	return true;
}

bool sim_dma_write(struct sim *sim, uint64_t bus, const void *src, size_t len,
		   const char *what)
{
	uint8_t *h;

	if (len == 0)
		return true;
	if (!sim_dma_check(sim, bus, len, SIM_PERM_W, what, &h))
		return false;
	memcpy(h, src, len);
	if (sim->cfg.noncoherent) {
		struct sim_region *r = sim_region_find(sim, bus);

		for (uint64_t l = bus / SIM_CACHE_LINE; l <= (bus + len - 1) / SIM_CACHE_LINE; l++)
			r->dev_wrote[l - r->bus / SIM_CACHE_LINE] = 1;
	}
	return true;
}

static bool sim_pow2(size_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t sim_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Lines of bus address space [bus, bus + len) touches. */
static size_t sim_lines(uint64_t bus, size_t len)
{
	return len ? (size_t)((bus + len - 1) / SIM_CACHE_LINE - bus / SIM_CACHE_LINE + 1) : 0;
}

/* Non-coherent mode: the controller's copy of a new region, poisoned
 * until the CPU cleans it (0xa5 has the cycle bit set: an uncleaned TRB
 * looks like a live one of garbage). */
static void sim_region_view(struct sim *sim, struct sim_region *r)
{
	if (!sim->cfg.noncoherent || !r->len)
		return;
	r->dev = malloc(r->len);
	r->dev_wrote = calloc(sim_lines(r->bus, r->len), 1);
	if (!r->dev || !r->dev_wrote)
		abort();
	memset(r->dev, 0xa5, r->len);
}

static void sim_region_view_free(struct sim_region *r)
{
	free(r->dev);
	free(r->dev_wrote);
	r->dev = NULL;
	r->dev_wrote = NULL;
}

/* The bus address cursor for `len` bytes within `mask`: the usual one, or
 * the low one when the usual one lies above the mask (and the platform
 * honours masks). */
static uint64_t *sim_bus_cursor(struct sim *sim, size_t len, uint64_t mask)
{
	if (sim->cfg.dma_ignore_mask || sim->bus_next + len + 0x20000 - 1 <= mask)
		return &sim->bus_next;
	return &sim->bus_low;
}

static void *sim_p_dma_alloc(void *ctx, size_t size, size_t align, size_t boundary,
			     uint64_t mask, uint64_t *bus)
{
	struct sim *sim = ctx;

	if (!size || !sim_pow2(align) || (boundary && !sim_pow2(boundary)) ||
	    (boundary && size > boundary)) {
		sim_violation_add(sim, "dma_alloc(size=%zu, align=%zu, boundary=%zu): bad arguments",
				  size, align, boundary);
		return NULL;
	}
	if (size % SIM_CACHE_LINE || align < SIM_CACHE_LINE)
		sim_violation_add(sim, "dma_alloc(size=%zu, align=%zu): not whole %u-byte cache "
				  "lines (BU_DMA_ALIGN): the block shares a line with other data",
				  size, align, SIM_CACHE_LINE);
	size_t halign = align < 64 ? 64 : align;
	void *block = aligned_alloc(halign, sim_align_up(size, halign));
	if (!block)
		return NULL;
	memset(block, 0, size);
	uint64_t *cur = sim_bus_cursor(sim, size, mask);
	uint64_t b = sim_align_up(*cur, align);
	if (boundary && (b / boundary) != ((b + size - 1) / boundary))
		b = sim_align_up(b, boundary);
	struct sim_region *r = sim_region_add(sim);
	r->bus = b;
	r->len = size;
	r->host = block;
	r->block = block;
	r->perm = SIM_PERM_R | SIM_PERM_W;
	sim_region_view(sim, r);
	/* Leave an unmapped guard gap so overruns fault. */
	*cur = b + size + 0x1000;
	sim->dma_allocs++;
	sim->dma_bytes += size;
	*bus = b;
	return block;
}

static void sim_p_dma_free(void *ctx, void *ptr, uint64_t bus, size_t size)
{
	struct sim *sim = ctx;

	if (!ptr)
		return;
	for (size_t i = sim->nregions; i-- > 0;) {
		struct sim_region *r = &sim->regions[i];
		if (r->block != ptr || r->dead)
			continue;
		if (r->len != size)
			sim_violation_add(sim, "dma_free(%p, %zu): allocated with size %zu",
					  ptr, size, r->len);
		if (r->bus != bus)
			sim_violation_add(sim, "dma_free(%p, bus %#llx): dma_alloc gave bus %#llx",
					  ptr, (unsigned long long)bus, (unsigned long long)r->bus);
		r->dead = true;
		r->host = NULL;
		free(r->block);
		r->block = NULL;
		sim_region_view_free(r);
		sim->dma_allocs--;
		sim->dma_bytes -= r->len;
		return;
	}
	sim_violation_add(sim, "dma_free(%p, %zu): not a live dma_alloc block", ptr, size);
}

/* A dma_map of the library's own alloc() memory: not DMA memory (it may
 * share cache lines with CPU-only data, and a platform need not map it). */
static void sim_heap_dma_check(struct sim *sim, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < sim->nheap_blocks; i++) {
		const struct sim_heap_block *h = &sim->heap_blocks[i];

		if (p < h->p + h->size && h->p < p + len) {
			sim_violation_add(sim, "dma_map(%p, %zu): DMA into the library's alloc() "
					  "memory (a %zu-byte block at %p), which is not DMA memory",
					  buf, len, h->size, (const void *)h->p);
			return;
		}
	}
}

static int sim_p_dma_map(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
			 uint64_t mask, struct bu_dma_chunk *chunks, int max)
{
	struct sim *sim = ctx;
	size_t split = sim->cfg.map_split;
	int n = 0;

	if (len == 0)
		return 0;
	if (!buf || dir < BU_DMA_TO_DEVICE || dir > BU_DMA_BIDIR) {
		sim_violation_add(sim, "dma_map(%p, %zu, dir=%d): bad arguments", buf, len, dir);
		return BU_EFAULT;
	}
	sim_heap_dma_check(sim, buf, len);
	/* Count chunks first. */
	uintptr_t p = (uintptr_t)buf, end = p + len;
	int need = 1;
	if (split) {
		need = 0;
		for (uintptr_t q = p; q < end; q = (q / split + 1) * split)
			need++;
	}
	if (need > max)
		return BU_ENOMEM;
	uintptr_t q = p;
	while (q < end) {
		uintptr_t qe = split ? (q / split + 1) * split : end;
		if (qe > end)
			qe = end;
		uint64_t *cur = sim_bus_cursor(sim, qe - q, mask);
		struct sim_region *r = sim_region_add(sim);
		uint64_t page = sim_align_up(*cur, 0x1000);
		r->bus = page + (q & 0xfff);
		r->len = qe - q;
		r->host = (uint8_t *)q;
		r->map_buf = buf;
		r->map_len = len;
		r->is_map = true;
		r->dir = (uint8_t)dir;
		r->perm = (dir & BU_DMA_TO_DEVICE ? SIM_PERM_R : 0) |
			  (dir & BU_DMA_FROM_DEVICE ? SIM_PERM_W : 0);
		sim_region_view(sim, r);
		*cur = r->bus + r->len + 0x1000;
		chunks[n].bus = r->bus;
		chunks[n].len = r->len;
		n++;
		q = qe;
	}
	sim->dma_maps++;
	return n;
}

/* ------------------------------------------------------------------------ */
/* Non-coherent mode: cache maintenance                                     */

/* Clean (host to controller) or invalidate (controller to host) the lines
 * of region `r` that [bus, bus + len) touches, clipped to the region. */
static void sim_region_sync(struct sim *sim, struct sim_region *r, uint64_t bus, size_t len,
			    bool clean)
{
	uint64_t first = bus / SIM_CACHE_LINE, last = (bus + len - 1) / SIM_CACHE_LINE;

	for (uint64_t l = first; l <= last; l++) {
		uint64_t a = l * SIM_CACHE_LINE > r->bus ? l * SIM_CACHE_LINE : r->bus;
		uint64_t e = (l + 1) * SIM_CACHE_LINE < r->bus + r->len ? (l + 1) * SIM_CACHE_LINE
									 : r->bus + r->len;
		uint8_t *h = r->host + (a - r->bus), *d = r->dev + (a - r->bus);
		uint8_t *wrote = &r->dev_wrote[l - r->bus / SIM_CACHE_LINE];
		bool differ = memcmp(h, d, e - a) != 0;

		if (clean && *wrote && differ)
			sim_violation_add(sim, "dma_sync_for_device at %#llx: the CPU changed a line "
					  "the controller wrote without invalidating it first: the "
					  "clean overwrites the controller's data, in a %zu-byte %s at %#llx",
					  (unsigned long long)a, r->len, r->is_map ? "mapping" : "allocation",
					  (unsigned long long)r->bus);
		else if (!clean && !*wrote && differ)
			sim_violation_add(sim, "dma_sync_for_cpu at %#llx: the invalidate drops CPU "
					  "writes the controller never saw (no clean after them), "
					  "in a %zu-byte %s at %#llx",
					  (unsigned long long)a, r->len, r->is_map ? "mapping" : "allocation",
					  (unsigned long long)r->bus);
		if (clean)
			memcpy(d, h, e - a);
		else
			memcpy(h, d, e - a);
		*wrote = 0;
	}
}

/* Sync [cpu, cpu + len) at bus address `bus`: the regions from the one
 * holding `bus` on, as long as their CPU view continues the range (the
 * chunks of one mapping, or one dma_alloc block). */
static void sim_sync(struct sim *sim, const char *what, void *cpu, uint64_t bus, size_t len,
		     bool clean)
{
	struct sim_region *r = sim_region_find(sim, bus);
	const uint8_t *at = cpu;
	size_t done = 0;

	if (!len)
		return;
	if (!r || r->dead || r->host + (bus - r->bus) != at) {
		sim_violation_add(sim, "%s(%p, bus %#llx, %zu): no live DMA memory of that CPU "
				  "address there", what, cpu, (unsigned long long)bus, len);
		return;
	}
	while (done < len) {
		size_t off = (size_t)(bus - r->bus), n = r->len - off;

		if (n > len - done)
			n = len - done;
		if (r->dev)
			sim_region_sync(sim, r, bus, n, clean);
		done += n;
		if (done == len)
			return;
		r++;
		if (r >= sim->regions + sim->nregions || r->dead || r->host != at + done) {
			sim_violation_add(sim, "%s(%p, bus %#llx, %zu): runs past its DMA memory",
					  what, cpu, (unsigned long long)bus, len);
			return;
		}
		bus = r->bus;
	}
}

static void sim_p_dma_sync_for_device(void *ctx, void *cpu, uint64_t bus, size_t len,
				      enum bu_dma_dir dir)
{
	(void)dir;
	sim_sync(ctx, "dma_sync_for_device", cpu, bus, len, true);
}

static void sim_p_dma_sync_for_cpu(void *ctx, void *cpu, uint64_t bus, size_t len,
				   enum bu_dma_dir dir)
{
	(void)dir;
	sim_sync(ctx, "dma_sync_for_cpu", cpu, bus, len, false);
}

/* ------------------------------------------------------------------------ */
/* Buffers the controller still owns                                        */

#define SIM_RING_WALK_MAX 65536 /* TRBs looked at per ring: a bound only */

/* A TRB as the controller would read it, without the checks and side
 * effects of a DMA access; false when that memory is not live. */
static bool sim_trb_peek(struct sim *sim, uint64_t bus, uint32_t t[4])
{
	struct sim_region *r = sim_region_find(sim, bus);

	if (!r || r->dead || bus + 16 > r->bus + r->len)
		return false;
	memcpy(t, (r->dev ? r->dev : r->host) + (bus - r->bus), 16);
	return true;
}

/* Whether a transfer TRB's data buffer overlaps [bus, bus + len). */
static bool sim_trb_points_into(const uint32_t t[4], uint64_t bus, size_t len)
{
	unsigned type = XHCI_TRB_TYPE(t[3]);
	uint64_t b = sim_rd64(t);
	uint32_t n = XHCI_TRB_LEN(t[2]);

	if (type != XHCI_TRB_NORMAL && type != XHCI_TRB_DATA && type != XHCI_TRB_ISOCH)
		return false;
	if ((t[3] & XHCI_TRB_IDT) || !n)
		return false;
	return b < bus + len && bus < b + n;
}

/*
 * The first TRB the controller owns on an endpoint's ring (from its
 * dequeue pointer, while the cycle bit matches its consumer cycle state,
 * xHCI §4.9.2) whose buffer overlaps [bus, bus + len); 0 if none.
 */
static uint64_t sim_ep_owned_trb(struct sim *sim, const struct sim_ep *ep, uint64_t bus,
				 size_t len)
{
	uint64_t deq = ep->deq;
	bool ccs = ep->ccs;
	uint32_t t[4];

	for (unsigned n = 0; n < SIM_RING_WALK_MAX && sim_trb_peek(sim, deq, t); n++) {
		if ((t[3] & XHCI_TRB_C) != (ccs ? 1u : 0u))
			break;
		if (XHCI_TRB_TYPE(t[3]) == XHCI_TRB_LINK) {
			ccs ^= (t[3] & XHCI_TRB_TC) != 0;
			deq = sim_rd64(t) & ~0xfull;
			continue;
		}
		if (sim_trb_points_into(t, bus, len))
			return deq;
		deq += 16;
	}
	return 0;
}

/*
 * The driver unmaps [bus, bus + len) of `buf`: a violation when a TD on an
 * enabled, running endpoint still points there, since the controller may
 * still move data through it. Only a completed Stop Endpoint (xHCI
 * §4.6.9) or Disable Slot (§4.6.4), or a halted controller (HCH=1, §5.4.2),
 * hands such a TD back. Returns true when it recorded one.
 */
static bool sim_unmap_check(struct sim *sim, const void *buf, uint64_t bus, size_t len)
{
	if (sim->usbsts & XHCI_USBSTS_HCH)
		return false;
	for (unsigned s = 1; s <= sim->nslots; s++) {
		for (unsigned d = 1; d < 32 && sim->slot[s].enabled; d++) {
			const struct sim_ep *ep = &sim->slot[s].ep[d];
			uint64_t trb = ep->state == XHCI_EP_STATE_RUNNING ?
					       sim_ep_owned_trb(sim, ep, bus, len) : 0;

			if (!trb)
				continue;
			sim_violation_add(sim, "dma_unmap(%p): slot %u DCI %u is running with a TD "
					  "(TRB @%#llx) that points at %#llx: the controller may "
					  "still move data there (give a TD back after Stop "
					  "Endpoint or Disable Slot completed, xHCI §4.6.9, §4.6.4)",
					  buf, s, d, (unsigned long long)trb,
					  (unsigned long long)bus);
			return true;
		}
	}
	return false;
}

static void sim_p_dma_unmap(void *ctx, void *buf, size_t len, enum bu_dma_dir dir,
			    uint64_t bus)
{
	struct sim *sim = ctx;
	bool found = false, reported = false;

	if (len == 0)
		return;
	for (size_t i = 0; i < sim->nregions; i++) {
		struct sim_region *r = &sim->regions[i];
		if (!r->is_map || r->dead || r->map_buf != buf || r->map_len != len)
			continue;
		if (found && r->host == (uint8_t *)buf)
			break; /* the start of a second mapping of the same buffer */
		if (r->dir != dir)
			sim_violation_add(sim, "dma_unmap(%p, %zu): mapped with dir %u, unmapped with %d",
					  buf, len, r->dir, dir);
		if (!found && r->bus != bus)
			sim_violation_add(sim, "dma_unmap(%p, bus %#llx): dma_map gave bus %#llx",
					  buf, (unsigned long long)bus, (unsigned long long)r->bus);
		if (!reported)
			reported = sim_unmap_check(sim, buf, r->bus, r->len);
		r->dead = true;
		r->host = NULL;
		sim_region_view_free(r);
		found = true;
	}
	if (found)
		sim->dma_maps--;
	else
		sim_violation_add(sim, "dma_unmap(%p, %zu): no such mapping", buf, len);
}

/* ------------------------------------------------------------------------ */
/* Heap, clock, log                                                         */

#define SIM_HEAP_MAGIC 0x5eaf00d5u
struct sim_heap_hdr {
	uint32_t magic;
	uint32_t pad;
	size_t size;
	uint64_t align_pad;
};

static void *sim_p_alloc(void *ctx, size_t size)
{
	struct sim *sim = ctx;
	struct sim_heap_hdr *h = calloc(1, sizeof(*h) + size);

	if (!h)
		return NULL;
	h->magic = SIM_HEAP_MAGIC;
	h->size = size;
	sim->heap_blocks = sim_grow(sim->heap_blocks, sim->nheap_blocks, &sim->cap_heap_blocks,
				    sizeof(*sim->heap_blocks));
	sim->heap_blocks[sim->nheap_blocks++] = (struct sim_heap_block){ (uint8_t *)(h + 1), size };
	sim->heap_allocs++;
	sim->heap_bytes += size;
	return h + 1;
}

static void sim_p_free(void *ctx, void *ptr, size_t size)
{
	struct sim *sim = ctx;
	struct sim_heap_hdr *h;

	if (!ptr)
		return;
	h = (struct sim_heap_hdr *)ptr - 1;
	if (h->magic != SIM_HEAP_MAGIC) {
		sim_violation_add(sim, "free(%p, %zu): not a live alloc block", ptr, size);
		return;
	}
	if (h->size != size)
		sim_violation_add(sim, "free(%p, %zu): allocated with size %zu", ptr, size, h->size);
	h->magic = 0;
	for (size_t i = 0; i < sim->nheap_blocks; i++)
		if (sim->heap_blocks[i].p == (uint8_t *)ptr) {
			sim->heap_blocks[i] = sim->heap_blocks[--sim->nheap_blocks];
			break;
		}
	sim->heap_allocs--;
	sim->heap_bytes -= h->size;
	free(h);
}

static uint64_t sim_p_now_us(void *ctx)
{
	struct sim *sim = ctx;

	sim_advance_ns(sim, 1 * SIM_US);
	return sim->now / SIM_US;
}

static void sim_p_delay_us(void *ctx, uint32_t us)
{
	struct sim *sim = ctx;

	sim_advance_ns(sim, (uint64_t)us * SIM_US);
}

/** The wait hook: virtual time runs to the deadline or the next interrupt. */
static void sim_p_wait(void *ctx, uint64_t deadline_us)
{
	struct sim *sim = ctx;
	uint64_t target = deadline_us * SIM_US;
	int kind;
	unsigned arg;

	sim->st.waits++;
	while (sim->st.irqs == sim->irqs_taken && sim->now < target) {
		uint64_t t = sim_earliest(sim, &kind, &arg);

		/* Each step moves at least 1 ns: work due now runs first. */
		sim_run_until(sim, t > sim->now ? (t < target ? t : target) : sim->now + 1);
	}
	if (sim->st.irqs != sim->irqs_taken) {
		sim->irqs_taken = sim->st.irqs;
		sim->st.wait_irqs++;
		if (sim->irq_fn)
			sim->irq_fn(sim->irq_ctx);
	}
}

void sim_set_irq_handler(struct sim *sim, void (*fn)(void *ctx), void *ctx)
{
	sim->irq_fn = fn;
	sim->irq_ctx = ctx;
}

static void sim_p_log(void *ctx, enum bu_log_level level, const char *line)
{
	struct sim *sim = ctx;

	if ((int)level > sim->log_level)
		return;
	sim_emit(sim, (int)level, "bus", line);
}

static void sim_p_panic(void *ctx, const char *msg)
{
	struct sim *sim = ctx;

	fprintf(stderr, "sim%u: driver panic: %s\n", sim->id, msg);
	abort();
}

static bool sim_mmio_decode(struct sim *sim, uintptr_t addr, uint32_t *off,
			    const char *op)
{
	if (addr < sim->base || addr - sim->base >= SIM_WINDOW || (addr & 3)) {
		sim_violation_add(sim, "MMIO %s at %#llx: outside the register window or unaligned",
				  op, (unsigned long long)addr);
		return false;
	}
	*off = (uint32_t)(addr - sim->base);
	return true;
}

static uint32_t sim_p_read32(void *ctx, uintptr_t addr)
{
	struct sim *sim = ctx;
	uint32_t off, v;

	sim_advance_ns(sim, 200);
	if (!sim_mmio_decode(sim, addr, &off, "read"))
		return 0xffffffffu;
	sim_reset_settle_check(sim, off);
	v = sim_mmio_read(sim, off);
	return v;
}

static void sim_p_write32(void *ctx, uintptr_t addr, uint32_t val)
{
	struct sim *sim = ctx;
	uint32_t off;

	sim_advance_ns(sim, 200);
	if (!sim_mmio_decode(sim, addr, &off, "write"))
		return;
	sim_reset_settle_check(sim, off);
	sim_mmio_write(sim, off, val);
}

static void sim_p_write64(void *ctx, uintptr_t addr, uint64_t val)
{
	struct sim *sim = ctx;
	uint32_t off;

	sim_advance_ns(sim, 200);
	if (!sim_mmio_decode(sim, addr, &off, "write64"))
		return;
	sim_reset_settle_check(sim, off);
	if (off & 7)
		sim_violation_add(sim, "64-bit MMIO write at offset %#x: not 8-byte aligned", off);
	sim_mmio_write(sim, off, (uint32_t)val);
	sim_mmio_write(sim, off + 4, (uint32_t)(val >> 32));
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                 */

struct sim *sim_create(const struct sim_config *cfg_in)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	struct sim_config *c;

	if (!sim)
		abort();
	if (cfg_in)
		sim->cfg = *cfg_in;
	c = &sim->cfg;
	sim_personality_apply(c);
	if (getenv("SIM_NONCOHERENT") && atoi(getenv("SIM_NONCOHERENT")) && !c->coherent)
		c->noncoherent = true;
	if (c->psi_bogus)
		c->psi = true;
	if (!c->usb2_ports && !c->usb3_ports) {
		c->usb2_ports = 4;
		c->usb3_ports = 4;
	}
	if (c->usb2_ports + c->usb3_ports > SIM_MAX_PORTS)
		c->usb3_ports = SIM_MAX_PORTS - c->usb2_ports;
	if (!c->max_slots)
		c->max_slots = 32;
	if (c->max_slots > SIM_MAX_SLOTS)
		c->max_slots = SIM_MAX_SLOTS;
	if (!c->max_intrs)
		c->max_intrs = 4;
	if (c->max_intrs > SIM_MAX_INTRS)
		c->max_intrs = SIM_MAX_INTRS;
	if (!c->hci_version)
		c->hci_version = 0x0110;
	if (!c->erst_max)
		c->erst_max = 4;
	if (!c->bios_release_us)
		c->bios_release_us = 2000;
	if (!c->cnr_us)
		c->cnr_us = 1000;
	if (!c->reset_us)
		c->reset_us = 300;
	if (!c->halt_us)
		c->halt_us = 200;
	if (!c->save_us)
		c->save_us = 1000;
	if (!c->restore_us)
		c->restore_us = 1000;
	if (!c->cmd_us)
		c->cmd_us = 20;
	if (!c->port_reset_us)
		c->port_reset_us = 50000;
	if (!c->hot_reset_us)
		c->hot_reset_us = 10000;
	if (!c->warm_reset_us)
		c->warm_reset_us = 80000;
	if (!c->train_us)
		c->train_us = 20000;
	if (!c->hub_reset_us)
		c->hub_reset_us = 15000;
	sim->log_level = c->log_level ? c->log_level : BU_LOG_WARN;
	if (c->log_level < 0)
		sim->log_level = -1;
	sim->trace = c->trace;
	if (sim->trace)
		sim->log_level = BU_LOG_TRACE;

	sim->id = sim_next_id++;
	sim->base = (uintptr_t)0xfe000000u + (uintptr_t)(sim->id % 16) * 0x100000u;
	if (c->dma_place == SIM_DMA_HIGH || (c->dma_place == SIM_DMA_AUTO && !c->no_ac64))
		sim->bus_next = ((uint64_t)(sim->id % 64) + 1) << 32;
	else
		sim->bus_next = 0x10000000ull + (uint64_t)(sim->id % 8) * 0x1000000ull;
	sim->bus_low = 0x80000000ull + (uint64_t)(sim->id % 8) * 0x4000000ull;
	sim->next_due = SIM_NEVER;
	sim->ctrl_due = SIM_NEVER;
	sim->bios_due = SIM_NEVER;
	sim->cmd.due = SIM_NEVER;

	sim->plat.ctx = sim;
	sim->plat.read32 = sim_p_read32;
	sim->plat.write32 = sim_p_write32;
	sim->plat.write64 = c->no_write64 ? NULL : sim_p_write64;
	sim->plat.dma_alloc = sim_p_dma_alloc;
	sim->plat.dma_free = sim_p_dma_free;
	sim->plat.dma_map = sim_p_dma_map;
	sim->plat.dma_unmap = sim_p_dma_unmap;
	if (c->noncoherent) {
		sim->plat.dma_sync_for_device = sim_p_dma_sync_for_device;
		sim->plat.dma_sync_for_cpu = sim_p_dma_sync_for_cpu;
	}
	sim->plat.alloc = sim_p_alloc;
	sim->plat.free = sim_p_free;
	sim->plat.now_us = sim_p_now_us;
	sim->plat.delay_us = sim_p_delay_us;
	sim->plat.log = sim_p_log;
	sim->plat.panic = sim_p_panic;
	sim->plat.wait = c->wait_hook ? sim_p_wait : NULL;

	sim_regs_init(sim);
	sim_pci_init(sim);
	sim_ports_init(sim);
	/* Power-on: not ready for cnr_us. */
	sim->usbsts = XHCI_USBSTS_HCH | XHCI_USBSTS_CNR;
	sim->cnr_until = sim->now + c->cnr_us * SIM_US;
	sim->ctrl_pending = SIM_CTRL_NONE;
	sim_schedule(sim, &sim->ctrl_due, sim->cnr_until);
	return sim;
}

void sim_destroy(struct sim *sim)
{
	if (!sim)
		return;
	while (sim->devices) {
		struct sim_device *d = sim->devices;
		while (d->parent)
			d = d->parent;
		sim_detach(d);
	}
	for (unsigned i = 0; i < sim->nintrs; i++) {
		free(sim->intr[i].segs);
		free(sim->intr[i].q);
	}
	for (unsigned s = 0; s <= SIM_MAX_SLOTS; s++)
		for (unsigned d = 0; d < 32; d++)
			free(sim->slot[s].ep[d].td);
	for (size_t i = 0; i < sim->nregions; i++) {
		if (!sim->regions[i].dead && sim->regions[i].block)
			free(sim->regions[i].block);
		sim_region_view_free(&sim->regions[i]);
	}
	free(sim->regions);
	free(sim->heap_blocks);
	sim_clear_violations(sim);
	free(sim);
}

const struct bu_platform *sim_platform(struct sim *sim)
{
	return &sim->plat;
}

uintptr_t sim_regs_base(struct sim *sim)
{
	return sim->base;
}

void sim_get_stats(struct sim *sim, struct sim_stats *st)
{
	*st = sim->st;
	st->dma_allocs = sim->dma_allocs;
	st->dma_bytes = sim->dma_bytes;
	st->dma_maps = sim->dma_maps;
	st->heap_allocs = sim->heap_allocs;
	st->heap_bytes = sim->heap_bytes;
	st->slots_enabled = 0;
	for (unsigned s = 1; s <= sim->nslots; s++)
		if (sim->slot[s].enabled)
			st->slots_enabled++;
}

uint32_t sim_usbsts(struct sim *sim)
{
	return sim->usbsts;
}

int sim_slot_state(struct sim *sim, unsigned slot)
{
	if (slot == 0 || slot > sim->nslots || !sim->slot[slot].enabled)
		return -1;
	return sim->slot[slot].state;
}

int sim_ep_state(struct sim *sim, unsigned slot, unsigned dci)
{
	if (slot == 0 || slot > sim->nslots || dci == 0 || dci > 31 ||
	    !sim->slot[slot].enabled)
		return -1;
	return sim->slot[slot].ep[dci].state;
}

/* Controller faults */

void sim_fault_hse(struct sim *sim)
{
	sim_host_error(sim, "injected Host System Error");
}

void sim_fault_cmd_hang(struct sim *sim, unsigned trb_type)
{
	sim->cmd.hang_type = trb_type ? trb_type : 0xff;
}

void sim_fault_cnr_stuck(struct sim *sim, bool on)
{
	sim->cnr_stuck = on;
	if (on)
		sim->usbsts |= XHCI_USBSTS_CNR;
	else if (sim->now >= sim->cnr_until)
		sim->usbsts &= ~XHCI_USBSTS_CNR;
}

void sim_fault_event_ring_full(struct sim *sim)
{
	sim->fault_er_full = true;
}

void sim_fault_bandwidth(struct sim *sim)
{
	sim->fault_bw = true;
}
