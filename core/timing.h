/*
 * Every delay and time limit the USB core keeps, in one place, each with
 * the section that mandates it (or says why the limit is what it is).
 * Microseconds unless the name says otherwise. Core-private.
 */
#ifndef BAREUSB_CORE_TIMING_H
#define BAREUSB_CORE_TIMING_H

/* Attach and reset (USB 2.0 §7.1.7.3, §7.1.7.5, §9.2.6.3). */
#define T_ATTDB_US 100000    /* TATTDB: debounce after a connect, >= 100 ms */
#define T_RSTRCY_US 10000    /* TRSTRCY: recovery after a port reset, 10 ms */
#define T_SETADDR_US 2000    /* SET_ADDRESS recovery, 2 ms */
/* A port reset that has not enabled the port by then has failed: TDRST is
 * 10-20 ms on a root port (USB 2.0 §7.1.7.5), a USB 3 warm reset up to
 * tReset 100 ms plus link training (USB 3.2 §7.5.4.3); this leaves ample
 * room for slow hubs. */
#define T_RESET_MAX_US 500000
/* How often a hub port's status is read while its reset runs. */
#define T_RESET_POLL_US 2000

/* Port power (xHCI 1.2 §5.4.8, PORTSC.PP): 20 ms from PP=1 to a stable port. */
#define T_POWER_US 20000

/* Resume (USB 2.0 §7.1.7.7). */
#define T_DRSMDN_US 20000    /* TDRSMDN: resume signalling, >= 20 ms */
#define T_RSMRCY_US 10000    /* TRSMRCY: resume recovery, 10 ms */

/*
 * A USB 3 function that woke the link sends a Function Wake Device
 * Notification once the link is in U0 (USB 3.2 §8.5.6.1); a device whose
 * notification has not come this long after its U3 exit is taken as a
 * wake of its first interface. The bound is ours: the spec sends the
 * notification at once, and the device goes on after TRSMRCY anyway when
 * it has come.
 */
#define T_FWAKE_WAIT_US 50000

/* A hub's status-change endpoint that failed is tried again after this. */
#define T_INTR_RETRY_US 100000

/* Microsoft OS descriptor requests are optional: a device that ignores
 * them costs 1 s per request, not the 5 s request limit. */
#define T_MSOS_REQUEST_MS 1000

#endif
