/*
 * memtrim.c — malloc_trim after bursts. See memtrim.h.
 */
#define G_LOG_DOMAIN "sylk-memory"
#include "memtrim.h"

#include "server.h"

#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#define MEMTRIM_PERIOD_S 2
#define MEMTRIM_STEP     (16 << 20)
#define MEMTRIM_SETTLED  (1 << 20)
#define MEMTRIM_LOUD     (8 << 20) /* returned at least this much: an info line, else debug */

/* Resident set size in bytes, -1 when /proc cannot be read. */
static int64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    int n = f ? fscanf(f, "%lu %lu", &size, &resident) : 0;
    if (f)
        fclose(f);
    return n == 2 ? (int64_t)resident * sysconf(_SC_PAGESIZE) : -1;
}

/* Bytes malloc has handed out and not had back, in every arena and in mmap'ed blocks. */
static int64_t in_use_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

static void trim(struct sylk_memtrim *m, int64_t used)
{
    int64_t rss = resident_bytes();
    malloc_trim(0);
    int64_t after = resident_bytes();
    int64_t returned = rss > after ? rss - after : 0;
    atomic_fetch_add_explicit(&m->counters->memory_trims, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->counters->memory_returned, (uint_fast64_t)returned,
                              memory_order_relaxed);
    g_log(G_LOG_DOMAIN, returned >= MEMTRIM_LOUD ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG,
          "memory: returned %.1f MB to the system (resident %.1f MB, now %.1f MB; %.1f MB in "
          "use)",
          returned / 1048576.0, rss / 1048576.0, after / 1048576.0, used / 1048576.0);
}

static gboolean look(gpointer data)
{
    struct sylk_memtrim *m = data;
    int64_t used = in_use_bytes();
    bool settled = used >= m->last;
    m->last = used;
    if (used > m->peak)
        m->peak = used;
    int64_t fallen = m->peak - used;
    if (fallen >= MEMTRIM_STEP || (fallen >= MEMTRIM_SETTLED && settled)) {
        trim(m, used);
        m->peak = used;
    }
    return G_SOURCE_CONTINUE;
}

void sylk_memtrim_start(struct sylk_memtrim *m, struct sylk_counters *counters)
{
    m->counters = counters;
    m->peak = m->last = in_use_bytes();
    m->timer = g_timeout_add_seconds(MEMTRIM_PERIOD_S, look, m);
}

void sylk_memtrim_stop(struct sylk_memtrim *m)
{
    if (m->timer)
        g_source_remove(m->timer);
    m->timer = 0;
}
