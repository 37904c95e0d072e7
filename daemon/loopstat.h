/* SPDX-License-Identifier: MIT
 *
 * loopstat: how long the event loop goes without coming back to poll,
 * for `make bench`.  Started only when the environment variable
 * QD_LOOP_STATS is set: a uv_prepare_t and a uv_check_t around poll,
 * with libuv's idle-time metric, give each iteration's busy time (its
 * callbacks, outside the wait in poll); the longest is logged every time
 * it grows by 10 ms or more and once at shutdown ("loop: longest busy
 * stretch N ms"), with the most CPU time one iteration took (the
 * thread's CPU clock: on a loaded machine an iteration lasts longer than
 * its CPU time, the thread waiting for a core).  With QD_LOOP_LOG_MS=N
 * set as well, every iteration busy for N ms or more is logged as it
 * ends, with its CPU time and its time split into the I/O callbacks run
 * inside poll (network reads: pages parsed, answers matched) and the rest
 * (timers, idle and close callbacks: the stages a tenant runs a slice per
 * iteration), to find which stretch is longest.
 */
#ifndef QD_LOOPSTAT_H
#define QD_LOOPSTAT_H

#include <uv.h>

struct loopstat;

/* loopstat_new() starts measuring on loop when QD_LOOP_STATS is set.
 * Returns 0 with *out set (NULL when the variable is not set; close it
 * with loopstat_close() either way), or -ENOMEM. */
int loopstat_new(uv_loop_t *loop, struct loopstat **out);

/* loopstat_close() logs the longest stretch and closes the handles; ls
 * is freed in the last close callback, then closed_cb(arg) is called if
 * not NULL (before loopstat_close() returns when ls is NULL). */
void loopstat_close(struct loopstat *ls, void (*closed_cb)(void *arg),
                    void *arg);

#endif
