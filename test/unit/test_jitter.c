/* Unit tests for core/media/jitter.c: order, reordering, loss, duplicates, late packets,
 * wrap-around, bounds and adaptation. */
#include "media/jitter.h"

#include <errno.h>
#include <glib.h>

static int put(struct sylk_jitter *j, uint16_t seq)
{
    uint8_t payload[2] = {(uint8_t)(seq >> 8), (uint8_t)seq};
    return sylk_jitter_put(j, seq, payload, sizeof(payload));
}

/* The next tick: the sequence number played, -1 for a loss, -2 while buffering. */
static int tick(struct sylk_jitter *j)
{
    uint8_t out[SYLK_JITTER_MAX_PAYLOAD];
    size_t len;
    switch (sylk_jitter_get(j, out, &len)) {
    case SYLK_JITTER_FRAME:
        g_assert_cmpuint(len, ==, 2);
        return out[0] << 8 | out[1];
    case SYLK_JITTER_LOST:
        return -1;
    default:
        return -2;
    }
}

static void in_order_with_initial_delay(void)
{
    struct sylk_jitter *j = sylk_jitter_new(3, 50);
    g_assert_cmpint(tick(j), ==, -2);
    put(j, 100);
    put(j, 101);
    g_assert_cmpint(tick(j), ==, -2); /* 2 < 3 frames of delay */
    put(j, 102);
    for (int i = 0; i < 3; i++)
        g_assert_cmpint(tick(j), ==, 100 + i);
    sylk_jitter_free(j);
}

static void reordering_loss_duplicate_late(void)
{
    struct sylk_jitter *j = sylk_jitter_new(3, 50);
    put(j, 10);
    put(j, 12); /* 11 arrives after 12 */
    put(j, 11);
    g_assert_cmpint(put(j, 12), ==, -EALREADY);
    put(j, 14); /* 13 is lost */
    put(j, 15);
    int expect[] = {10, 11, 12, -1, 14, 15};
    for (size_t i = 0; i < G_N_ELEMENTS(expect); i++)
        g_assert_cmpint(tick(j), ==, expect[i]);
    g_assert_cmpint(put(j, 13), ==, -ETIME); /* too late now */
    const struct sylk_jitter_stats *st = sylk_jitter_stats(j);
    g_assert_cmpuint(st->duplicates, ==, 1);
    g_assert_cmpuint(st->late, ==, 1);
    g_assert_cmpuint(st->lost, ==, 1);
    g_assert_cmpuint(st->played, ==, 5);
    sylk_jitter_free(j);
}

/* After a loss, the next frame can be looked at (for FEC) and is still played in its turn. */
static void peek_after_loss(void)
{
    struct sylk_jitter *j = sylk_jitter_new(2, 50);
    uint8_t out[SYLK_JITTER_MAX_PAYLOAD];
    size_t len;
    g_assert_false(sylk_jitter_peek(j, out, &len)); /* nothing yet */
    put(j, 20);
    put(j, 22); /* 21 is lost */
    g_assert_cmpint(tick(j), ==, 20);
    g_assert_cmpint(tick(j), ==, -1);
    g_assert_true(sylk_jitter_peek(j, out, &len));
    g_assert_cmpuint(len, ==, 2);
    g_assert_cmpint(out[0] << 8 | out[1], ==, 22);
    g_assert_cmpint(tick(j), ==, 22);
    g_assert_false(sylk_jitter_peek(j, out, &len)); /* 23 has not come */
    sylk_jitter_free(j);
}

/* A reset forgets what is held; the next packet starts the stream again, at any number. */
static void reset_forgets(void)
{
    struct sylk_jitter *j = sylk_jitter_new(2, 50);
    put(j, 5);
    put(j, 6);
    sylk_jitter_reset(j);
    g_assert_cmpint(tick(j), ==, -2);
    put(j, 900);
    put(j, 901);
    g_assert_cmpint(tick(j), ==, 900);
    g_assert_cmpint(tick(j), ==, 901);
    sylk_jitter_free(j);
}

static void wrap_around(void)
{
    struct sylk_jitter *j = sylk_jitter_new(2, 50);
    put(j, 65534);
    put(j, 65535);
    put(j, 0);
    put(j, 1);
    g_assert_cmpint(tick(j), ==, 65534);
    g_assert_cmpint(tick(j), ==, 65535);
    g_assert_cmpint(tick(j), ==, 0);
    g_assert_cmpint(tick(j), ==, 1);
    sylk_jitter_free(j);
}

static void wrap_with_odd_window(void)
{
    /* 20 slots do not divide 65536: frames across the wrap must not collide. */
    struct sylk_jitter *j = sylk_jitter_new(18, 20);
    for (int i = 0; i < 18; i++)
        put(j, (uint16_t)(65530 + i));
    for (int i = 0; i < 18; i++)
        g_assert_cmpint(tick(j), ==, (uint16_t)(65530 + i));
    g_assert_cmpuint(sylk_jitter_stats(j)->lost, ==, 0);
    sylk_jitter_free(j);
}

static void bounded_flood(void)
{
    struct sylk_jitter *j = sylk_jitter_new(2, 20);
    for (int s = 0; s < 1000; s++)
        put(j, (uint16_t)s); /* nobody plays: the window slides, memory does not grow */
    const struct sylk_jitter_stats *st = sylk_jitter_stats(j);
    g_assert_cmpuint(st->buffered, <=, 20);
    g_assert_cmpuint(st->overflows, >, 0);
    int first = tick(j);
    g_assert_cmpint(first, >=, 980); /* plays the newest window */
    g_assert_cmpint(tick(j), ==, first + 1);
    sylk_jitter_free(j);
}

static void sender_restart(void)
{
    struct sylk_jitter *j = sylk_jitter_new(1, 20);
    put(j, 5);
    g_assert_cmpint(tick(j), ==, 5);
    g_assert_cmpint(put(j, 30000), ==, -ETIME); /* one stray packet: ignored */
    put(j, 6);
    g_assert_cmpint(tick(j), ==, 6);
    g_assert_cmpuint(sylk_jitter_stats(j)->resets, ==, 0);
    put(j, 40000); /* two in a row far away: a new stream */
    put(j, 40001);
    g_assert_cmpint(tick(j), ==, 40000);
    g_assert_cmpint(tick(j), ==, 40001);
    g_assert_cmpuint(sylk_jitter_stats(j)->resets, ==, 1);
    sylk_jitter_free(j);
}

static void underrun_grows_delay(void)
{
    struct sylk_jitter *j = sylk_jitter_new(1, 20);
    uint16_t seq = 0;
    put(j, seq++);
    g_assert_cmpint(tick(j), ==, 0);
    g_assert_cmpint(tick(j), ==, -1); /* nothing arrived in time */
    g_assert_cmpuint(sylk_jitter_stats(j)->delay_frames, ==, 2);
    put(j, seq++);
    g_assert_cmpint(tick(j), ==, -2); /* rebuffering to the longer delay */
    put(j, seq++);
    g_assert_cmpint(tick(j), ==, 1);
    sylk_jitter_free(j);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/jitter/in-order", in_order_with_initial_delay);
    g_test_add_func("/jitter/reorder-loss-duplicate-late", reordering_loss_duplicate_late);
    g_test_add_func("/jitter/wrap-around", wrap_around);
    g_test_add_func("/jitter/peek-after-loss", peek_after_loss);
    g_test_add_func("/jitter/reset-forgets", reset_forgets);
    g_test_add_func("/jitter/bounded-flood", bounded_flood);
    g_test_add_func("/jitter/wrap-with-odd-window", wrap_with_odd_window);
    g_test_add_func("/jitter/sender-restart", sender_restart);
    g_test_add_func("/jitter/underrun-grows-delay", underrun_grows_delay);
    return g_test_run();
}
