/*
 * xHCI Command Ring (xHCI 1.2 §4.6): queueing a command and ringing DB0,
 * matching each Command Completion Event to what waits for it, and the
 * command timeout, which aborts the command through CRCR.CA (§4.6.1.2).
 *
 * Reading order: the ring's allocation, submit, completion, timeout, and
 * the controller-failed path. What each command means is in the files of
 * its concern (xhci_dev.c, xhci_xfer.c); they pass a completion function.
 */
#include "xhci_priv.h"

#include "bareusb/assert.h"
#include "bareusb/errors.h"
#include "bareusb/util.h"
#include "xhci_trace.h"

int bu_xhci_cmd_ring_alloc(struct xhci *x)
{
	x->cmds = bu_xhci_zalloc(x, x->opts.cmd_ring_trbs * sizeof(*x->cmds));
	if (!x->cmds)
		return BU_ENOMEM;
	if (bu_xhci_ring_alloc(x, &x->cmd_ring, x->opts.cmd_ring_trbs)) {
		bu_xhci_cmd_ring_free(x);
		return BU_ENOMEM;
	}
	x->cmd_ring.link_chain = bu_xhci_ring_link_chain(x->hciversion, x->quirks, false);
	return 0;
}

void bu_xhci_cmd_ring_free(struct xhci *x)
{
	bu_xhci_ring_free(x, &x->cmd_ring);
	bu_xhci_free(x, x->cmds, x->opts.cmd_ring_trbs * sizeof(*x->cmds));
	x->cmds = NULL;
}

/** The pending-command slot of ring counter `c`. */
static struct xhci_cmd *cmd_at(struct xhci *x, uint32_t c)
{
	return &x->cmds[xhci_ring_slot(&x->cmd_ring, c)];
}

/** A command's deadline when it starts waiting now. */
static uint64_t cmd_deadline(struct xhci *x)
{
	return xhci_now_us(x) + x->opts.cmd_timeout_ms * 1000ull;
}

int bu_xhci_cmd_submit(struct xhci *x, uint64_t param, uint32_t dw3,
		       xhci_cmd_done_fn *done, struct xhci_dev *dev,
		       struct xhci_ep *ep, bu_usb_done_fn user_done, void *user_ctx)
{
	struct xhci_cmd *cmd;
	uint32_t c;

	if (x->failed)
		return BU_ESHUTDOWN;
	if (!xhci_ring_space(&x->cmd_ring))
		return BU_EBUSY;
	cmd = cmd_at(x, x->cmd_ring.enq);
	/* A slot is reused only once its command completed or was given up. */
	if (!BU_CHECK(x->plat, !cmd->active))
		return BU_EBUSY;
	c = bu_xhci_ring_push(&x->cmd_ring, (uint32_t)param, (uint32_t)(param >> 32),
			      0, dw3, false);
	cmd->done = done;
	cmd->dev = dev;
	cmd->ep = ep;
	cmd->user_done = user_done;
	cmd->user_ctx = user_ctx;
	cmd->counter = c;
	cmd->type = (uint8_t)XHCI_TRB_TYPE(dw3);
	cmd->active = true;
	cmd->aborted = false;
	cmd->deadline_us = cmd_deadline(x);
	bu_xhci_trace_trb(x, BU_XHCI_TRACE_CMD, xhci_ring_addr(&x->cmd_ring, c),
			  xhci_ring_trb(&x->cmd_ring, c));
	bu_xhci_ring_sync(x, &x->cmd_ring, c, c + 1);
	xhci_doorbell(x, 0, 0);
	return 0;
}

/** A command that takes an Input Context (§4.6.5 to §4.6.7)? */
static bool cmd_has_input(unsigned type)
{
	return type == XHCI_TRB_ADDRESS_DEVICE || type == XHCI_TRB_CONFIGURE_EP ||
	       type == XHCI_TRB_EVALUATE_CTX;
}

/**
 * The device of a failed slot command has left its root port: PORTSC no
 * longer shows it connected, or shows a connect change the port code has
 * not taken yet. A command for a device that is gone fails as the
 * controller likes (USB Transaction Error; QEMU answers Address Device
 * with TRB Error once the port is empty); the disconnect that follows is
 * the news, not the failure. Behind a hub the root port cannot tell.
 */
static bool cmd_dev_left(struct xhci *x, const struct xhci_dev *d)
{
	const struct bu_usb_device *u = d->udev;
	uint32_t v;

	if (!u || u->route || u->root_port < 1 || u->root_port > x->max_ports)
		return false;
	v = xhci_op_rd(x, XHCI_OP_PORTSC(u->root_port));
	return v != 0xffffffffu && (!(v & XHCI_PORTSC_CCS) || (v & XHCI_PORTSC_CSC));
}

/**
 * Show the contexts behind a slot command's outcome: on failure always
 * (what was asked and what the controller holds), under trace what the
 * controller made of an Input Context command.
 */
static void cmd_log_contexts(struct xhci *x, struct xhci_cmd *cmd, unsigned cc)
{
	char what[80];

	if (!cmd->dev || !cmd->dev->out_ctx)
		return;
	if (cc != XHCI_CC_SUCCESS) {
		bool left = cmd_dev_left(x, cmd->dev);
		enum bu_log_level level = left ? BU_LOG_DEBUG : BU_LOG_WARN;

		bu_snprintf(what, sizeof(what), "%s failed (%s)%s", bu_xhci_trb_type_name(cmd->type),
			    bu_xhci_cc_name(cc), left ? ", device unplugged" : "");
		if (cmd_has_input(cmd->type))
			bu_xhci_ctx_log(x, cmd->dev, level, what, true);
		bu_xhci_ctx_log(x, cmd->dev, level, what, false);
	} else if (xhci_tracing(x, BU_XHCI_TRACE_CMD, cmd->dev->slot, 0) &&
		   cmd_has_input(cmd->type)) {
		bu_xhci_ctx_log(x, cmd->dev, BU_LOG_TRACE, bu_xhci_trb_type_name(cmd->type),
				false);
	}
}

/** Run a command's completion function, if it has one. */
static void cmd_done(struct xhci *x, struct xhci_cmd *cmd, unsigned cc, unsigned slot)
{
	cmd_log_contexts(x, cmd, cc);
	if (cmd->done)
		cmd->done(x, cmd, cc, slot);
}

/**
 * Commands complete in order: any older one still waiting before counter
 * `c` lost its completion (an Event Lost, say): fail it rather than wait
 * forever.
 */
static void cmd_fail_older(struct xhci *x, uint32_t c)
{
	for (uint32_t k = x->cmd_ring.deq; k != c; k++) {
		struct xhci_cmd *old = cmd_at(x, k);

		if (old->active) {
			old->active = false;
			bu_xhci_log(x, BU_LOG_WARN, "%s got no completion",
				    bu_xhci_trb_type_name(old->type));
			cmd_done(x, old, XHCI_CC_CMD_ABORTED, 0);
		}
	}
}

void bu_xhci_cmd_complete(struct xhci *x, const uint32_t dw[4])
{
	uint64_t ptr = ((uint64_t)dw[1] << 32) | (dw[0] & ~15u);
	unsigned cc = XHCI_EVT_CC(dw[2]);
	uint32_t c;
	struct xhci_cmd *cmd;

	if (cc == XHCI_CC_CMD_RING_STOPPED) {
		/* After an abort: the pointer names the next command, which is
		 * still pending. Restart the ring if anything waits. */
		if (x->cmd_ring.enq != x->cmd_ring.deq)
			xhci_doorbell(x, 0, 0);
		return;
	}
	if (!bu_xhci_ring_find(&x->cmd_ring, ptr, &c)) {
		bu_xhci_log(x, BU_LOG_WARN, "completion for unknown command 0x%llx (%s)",
			    (unsigned long long)ptr, bu_xhci_cc_name(cc));
		return;
	}
	cmd = cmd_at(x, c);
	if (!cmd->active)
		return;
	cmd_fail_older(x, c);
	cmd->active = false;
	x->cmd_ring.deq = c + 1;
	/* The next command's deadline runs from now: it was waiting. */
	if (x->cmd_ring.deq != x->cmd_ring.enq) {
		struct xhci_cmd *next = cmd_at(x, x->cmd_ring.deq);

		if (next->active && !next->aborted)
			next->deadline_us = cmd_deadline(x);
	}
	if (cc != XHCI_CC_SUCCESS)
		bu_xhci_log(x, BU_LOG_DEBUG, "%s: %s", bu_xhci_trb_type_name(cmd->type),
			    bu_xhci_cc_name(cc));
	cmd_done(x, cmd, cc, XHCI_TRB_GET_SLOT(dw[3]));
}

uint64_t bu_xhci_cmd_next_timeout(struct xhci *x)
{
	const struct xhci_cmd *cmd;

	if (x->cmd_ring.enq == x->cmd_ring.deq)
		return BU_USB_NO_TIMEOUT;
	cmd = cmd_at(x, x->cmd_ring.deq);
	return cmd->active ? cmd->deadline_us : BU_USB_NO_TIMEOUT;
}

void bu_xhci_cmd_check_timeout(struct xhci *x)
{
	struct xhci_ring *r = &x->cmd_ring;
	struct xhci_cmd *cmd;
	uint64_t crcr;

	if (r->enq == r->deq)
		return;
	cmd = cmd_at(x, r->deq);
	if (!cmd->active || xhci_now_us(x) < cmd->deadline_us)
		return;
	if (cmd->aborted) {
		/* The abort itself got no answer: the controller is dead. */
		bu_xhci_fail(x, "command abort did not complete");
		return;
	}
	bu_xhci_log(x, BU_LOG_WARN, "%s timed out after %u ms; aborting",
		    bu_xhci_trb_type_name(cmd->type), x->opts.cmd_timeout_ms);
	/* What the controller and the driver held when it hung. */
	bu_xhci_dump_at(x, BU_LOG_WARN);
	cmd->aborted = true;
	cmd->deadline_us = cmd_deadline(x);
	/* Command Abort (§4.6.1.2, §5.4.5) written as all 64 bits, low
	 * dword first, with a valid pointer (the stuck command's TRB):
	 * controllers that latch CRCR on its high dword, as QEMU's does,
	 * ignore the low dword alone; the pointer is not loaded while the
	 * ring runs. The stuck command then completes Command Aborted and
	 * the ring stops (CRR=0); the deadline set above bounds the wait. */
	crcr = xhci_ring_addr(r, r->deq) | (xhci_ring_cycle(r, r->deq) ? XHCI_CRCR_RCS : 0) |
	       XHCI_CRCR_CA;
	xhci_op_wr(x, XHCI_OP_CRCR, (uint32_t)crcr);
	xhci_op_wr(x, XHCI_OP_CRCR + 4, (uint32_t)(crcr >> 32));
}

void bu_xhci_cmd_forget_dev(struct xhci *x, const struct xhci_dev *d)
{
	for (uint32_t c = x->cmd_ring.deq; c != x->cmd_ring.enq; c++) {
		struct xhci_cmd *cmd = cmd_at(x, c);

		if (cmd->active && cmd->dev == d) {
			/* Its completion still comes (commands complete in
			 * order), but finds nothing to log or finish. */
			cmd->dev = NULL;
			cmd->done = NULL;
			cmd->user_done = NULL;
		}
	}
}

void bu_xhci_cmd_fail_all(struct xhci *x)
{
	for (uint32_t c = x->cmd_ring.deq; c != x->cmd_ring.enq; c++) {
		struct xhci_cmd *cmd = cmd_at(x, c);

		if (cmd->active && cmd->user_done && cmd->dev && cmd->dev->udev) {
			cmd->active = false;
			cmd->user_done(cmd->dev->udev, cmd->user_ctx, BU_ESHUTDOWN);
		}
		cmd->active = false;
	}
	x->cmd_ring.deq = x->cmd_ring.enq;
}
