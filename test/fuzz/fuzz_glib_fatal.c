/*
 * Linked into every fuzz target. GLib ends a process on a fatal log message (scripts/fuzz runs
 * the targets with G_DEBUG=fatal-criticals) with a breakpoint trap on Unix, which libFuzzer
 * does not catch: the run would fail without the input that made it fail. The trap becomes an
 * abort, which libFuzzer reports as a crash and saves the input of (crash-<sha1>).
 */
#include <signal.h>
#include <stdlib.h>

static void trap_to_abort(int sig)
{
    (void)sig;
    abort();
}

__attribute__((constructor)) static void catch_glib_traps(void)
{
    signal(SIGTRAP, trap_to_abort);
}
