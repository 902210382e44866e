/*
 * memtrim.h — gives heap memory freed after a burst back to the system.
 *
 * glibc's malloc returns freed memory to the kernel only from the top of its heap. After a
 * flood, tens of thousands of sofia-sip transactions (a few KB each, alive until their Timer H
 * or J, 32 s) are freed, but a few long-lived blocks allocated above them keep the whole range
 * resident: 20,000 OPTIONS left 230 MB resident with under 1 MB in use, and each further flood
 * added more. malloc_trim(0) also releases the free pages inside the heap (and in every
 * thread's arena). A timer looks every MEMTRIM_PERIOD_S at the bytes malloc has in use: when
 * they fell from their peak since the last trim by MEMTRIM_STEP, or by MEMTRIM_SETTLED and
 * stopped falling (a burst of frees ended), it trims. Between bursts it costs a mallinfo2().
 *
 * Main thread only.
 */
#ifndef SYLK_MEMTRIM_H
#define SYLK_MEMTRIM_H

#include <glib.h>
#include <stdint.h>

struct sylk_counters;

struct sylk_memtrim {
    guint timer;
    int64_t peak; /* most bytes in use seen since the last trim */
    int64_t last; /* bytes in use at the last look */
    struct sylk_counters *counters;
};

/** Starts the timer; trims are counted in `counters` (memory_trims, memory_returned). */
void sylk_memtrim_start(struct sylk_memtrim *m, struct sylk_counters *counters);

/** Stops the timer (nothing else to free). */
void sylk_memtrim_stop(struct sylk_memtrim *m);

#endif
