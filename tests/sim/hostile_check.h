/*
 * What a hostile device may leave behind, checked the same way by the sim
 * campaign (tests/sim/test_hostile.c) and the enumeration fuzzer
 * (fuzz/fuzz_enum.c): each check returns NULL when all is well, else a
 * message in the caller's buffer.
 */
#ifndef TESTS_SIM_HOSTILE_CHECK_H
#define TESTS_SIM_HOSTILE_CHECK_H

#include <stdio.h>
#include <string.h>

#include "bareusb/errors.h"
#include "bareusb/usb.h"
#include "sim.h"

/* The limits USB puts on an endpoint the core opened (USB 2.0 §5.5-5.8,
 * Table 9-13; USB 3.2 §9.6.7). */
static inline const char *hostile_check_endpoint(const struct bu_usb_device *dev,
						 const struct bu_usb_endpoint *ep, char *why,
						 size_t size)
{
	unsigned max;

	switch (dev->speed) {
	case BU_SPEED_LOW:
		max = 8;
		break;
	case BU_SPEED_FULL:
		max = ep->type == BU_EP_ISOCH ? 1023 : 64;
		break;
	case BU_SPEED_HIGH:
		max = ep->type == BU_EP_BULK ? 512 : ep->type == BU_EP_CONTROL ? 64 : 1024;
		break;
	default:
		max = ep->type == BU_EP_CONTROL ? 512 : 1024;
		break;
	}
	if (USB_ENDPOINT_NUMBER(ep->address) == 0 || (ep->address & 0x70))
		snprintf(why, size, "endpoint address %#04x", ep->address);
	else if (ep->mps > max || (ep->mps == 0 && ep->type != BU_EP_ISOCH))
		snprintf(why, size, "endpoint %#04x type %u max packet %u at speed %u", ep->address,
			 ep->type, ep->mps, dev->speed);
	else if (ep->mult > 2 || ep->max_burst > 15)
		snprintf(why, size, "endpoint %#04x mult %u burst %u", ep->address, ep->mult,
			 ep->max_burst);
	else
		return NULL;
	return why;
}

/* Configured with sane values, or failed with a stated reason; a
 * well-formed device must configure. */
static inline const char *hostile_check_outcome(const struct bu_usb_device *dev, bool well_formed,
						char *why, size_t size)
{
	static char json[1 << 18];
	size_t n;

	if (dev->state != BU_DEV_CONFIGURED && dev->state != BU_DEV_FAILED) {
		snprintf(why, size, "device left in state %d", dev->state);
		return why;
	}
	if (dev->state == BU_DEV_FAILED || dev->error) {
		if (dev->error == 0 || dev->error_step == NULL) {
			snprintf(why, size, "failed without a reason (error %d)", dev->error);
			return why;
		}
		if (well_formed) {
			snprintf(why, size, "a well-formed device failed: %s: %s", dev->error_step,
				 bu_strerror(dev->error));
			return why;
		}
	} else {
		for (unsigned i = 0; i < 32; i++)
			if (dev->eps[i] && hostile_check_endpoint(dev, dev->eps[i], why, size))
				return why;
		if (dev->active_config < 0 || dev->active_config >= dev->num_configs ||
		    dev->config_value == 0) {
			snprintf(why, size, "configured without a configuration");
			return why;
		}
		if (dev->is_hub && dev->hub_nports > 31) {
			snprintf(why, size, "hub with %u ports", dev->hub_nports);
			return why;
		}
	}
	n = bu_usb_device_json(dev, json, sizeof(json));
	if (n >= sizeof(json) || json[0] != '{' || json[n - 1] != '}') {
		snprintf(why, size, "usbdev JSON of %zu bytes", n);
		return why;
	}
	return NULL;
}

/* Heap, DMA and slots back where they were. */
static inline const char *hostile_check_stats(const struct sim_stats *s,
					      const struct sim_stats *base, char *why, size_t size)
{
	if (s->heap_allocs == base->heap_allocs && s->heap_bytes == base->heap_bytes &&
	    s->dma_allocs == base->dma_allocs && s->dma_bytes == base->dma_bytes &&
	    s->dma_maps == base->dma_maps && s->slots_enabled == base->slots_enabled)
		return NULL;
	snprintf(why, size,
		 "after the unplug: heap %zu blocks / %zu bytes (was %zu / %zu), DMA %zu / %zu "
		 "(was %zu / %zu), maps %zu (was %zu), slots %u (was %u)",
		 s->heap_allocs, s->heap_bytes, base->heap_allocs, base->heap_bytes, s->dma_allocs,
		 s->dma_bytes, base->dma_allocs, base->dma_bytes, s->dma_maps, base->dma_maps,
		 s->slots_enabled, base->slots_enabled);
	return why;
}

#endif
