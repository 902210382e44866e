/* Unit tests for core/media/mixcore.c: mix-minus on known signals. */
#include "media/mixcore.h"

#include <glib.h>

static int16_t frames[16][SYLK_MIX_FRAME];

static const int16_t *constant(int i, int16_t value)
{
    for (int s = 0; s < SYLK_MIX_FRAME; s++)
        frames[i][s] = (s & 1) ? value : (int16_t)-value; /* a tone at the level of `value` */
    return frames[i];
}

static int16_t heard(struct sylk_mixcore *m, int slot, bool *shared)
{
    return sylk_mixcore_output(m, slot, shared)[1]; /* an odd sample: +value terms */
}

static void three_party_exact(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, SYLK_MIX_RATE);
    int a = sylk_mixcore_add(m), b = sylk_mixcore_add(m), c = sylk_mixcore_add(m);
    int d = sylk_mixcore_add(m), e = sylk_mixcore_add(m); /* listeners */
    sylk_mixcore_put(m, a, constant(0, 200));
    sylk_mixcore_put(m, b, constant(1, 1000));
    sylk_mixcore_put(m, c, constant(2, 10000));
    sylk_mixcore_tick(m);
    bool shared;
    g_assert_cmpint(heard(m, a, &shared), ==, 11000); /* never itself */
    g_assert_false(shared);
    g_assert_cmpint(heard(m, b, &shared), ==, 10200);
    g_assert_cmpint(heard(m, c, &shared), ==, 1200);
    g_assert_cmpint(sylk_mixcore_output(m, a, NULL)[0], ==, -11000);
    g_assert_cmpint(heard(m, d, &shared), ==, 11200);
    g_assert_true(shared);
    /* Every non-speaker gets the same buffer: encode once, send to all. */
    g_assert_true(sylk_mixcore_output(m, d, NULL) == sylk_mixcore_output(m, e, NULL));
    sylk_mixcore_free(m);
}

static void saturation(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, SYLK_MIX_RATE);
    int a = sylk_mixcore_add(m), b = sylk_mixcore_add(m), c = sylk_mixcore_add(m);
    int l = sylk_mixcore_add(m);
    sylk_mixcore_put(m, a, constant(0, 30000));
    sylk_mixcore_put(m, b, constant(1, 30000));
    sylk_mixcore_put(m, c, constant(2, 30000));
    sylk_mixcore_tick(m);
    g_assert_cmpint(heard(m, l, NULL), ==, INT16_MAX);
    g_assert_cmpint(sylk_mixcore_output(m, l, NULL)[0], ==, INT16_MIN);
    g_assert_cmpint(heard(m, a, NULL), ==, INT16_MAX); /* 60000 clipped */
    sylk_mixcore_free(m);
}

static void loudest_speakers_only(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, SYLK_MIX_RATE);
    int slots[10];
    for (int i = 0; i < 10; i++)
        slots[i] = sylk_mixcore_add(m);
    int listener = sylk_mixcore_add(m);
    for (int i = 0; i < 10; i++)
        sylk_mixcore_put(m, slots[i], constant(i, (int16_t)(200 * (i + 1))));
    sylk_mixcore_tick(m);
    for (int i = 0; i < 10; i++)
        g_assert_cmpint(sylk_mixcore_speaking(m, slots[i]), ==, i >= 7);
    g_assert_cmpint(heard(m, listener, NULL), ==, 1600 + 1800 + 2000);
    g_assert_cmpint(heard(m, slots[0], NULL), ==, 1600 + 1800 + 2000);
    g_assert_cmpint(heard(m, slots[9], NULL), ==, 1600 + 1800);
    g_assert_cmpuint(sylk_mixcore_count(m), ==, 11);
    sylk_mixcore_free(m);
}

/* A room of 1,000 (slots added past every growth of the audio array) with 40 talkers. */
static void big_room_top_three(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, 8000);
    for (int i = 0; i < 1000; i++)
        g_assert_cmpint(sylk_mixcore_add(m), ==, i);
    for (int i = 0; i < 1000; i += 25) /* talkers quieter than the three below */
        sylk_mixcore_put(m, i, constant(0, (int16_t)(1000 + i)));
    sylk_mixcore_put(m, 998, constant(0, 7000));
    sylk_mixcore_put(m, 5, constant(0, 9000));
    sylk_mixcore_put(m, 500, constant(0, 8000));
    sylk_mixcore_tick(m);
    for (int i = 0; i < 1000; i++)
        g_assert_cmpint(sylk_mixcore_speaking(m, i), ==, i == 5 || i == 500 || i == 998);
    bool shared;
    g_assert_cmpint(heard(m, 5, &shared), ==, 15000); /* never itself */
    g_assert_false(shared);
    g_assert_cmpint(heard(m, 500, NULL), ==, 16000);
    g_assert_cmpint(heard(m, 998, NULL), ==, 17000);
    g_assert_cmpint(heard(m, 999, &shared), ==, 24000);
    g_assert_true(shared);
    g_assert_true(sylk_mixcore_output(m, 1, NULL) == sylk_mixcore_output(m, 999, NULL));
    /* Equal levels and no current speaker among them: the later slots win. */
    struct sylk_mixcore *n = sylk_mixcore_new(3, 8000);
    for (int i = 0; i < 50; i++)
        sylk_mixcore_add(n);
    for (int i = 10; i <= 40; i += 10)
        sylk_mixcore_put(n, i, constant(0, 2000));
    sylk_mixcore_tick(n);
    for (int i = 10; i <= 40; i += 10)
        g_assert_cmpint(sylk_mixcore_speaking(n, i), ==, i > 10);
    g_assert_cmpint(heard(n, 0, NULL), ==, 6000);
    sylk_mixcore_free(n);
    sylk_mixcore_free(m);
}

static void no_flapping_between_close_voices(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(1, SYLK_MIX_RATE);
    int a = sylk_mixcore_add(m), b = sylk_mixcore_add(m);
    unsigned swaps = 0;
    bool a_was = false;
    for (int t = 0; t < 50; t++) {
        /* levels within 2% of each other, alternating which is louder */
        sylk_mixcore_put(m, a, constant(0, (int16_t)(t % 2 ? 1000 : 1020)));
        sylk_mixcore_put(m, b, constant(1, (int16_t)(t % 2 ? 1020 : 1000)));
        sylk_mixcore_tick(m);
        bool a_now = sylk_mixcore_speaking(m, a);
        g_assert_cmpint(a_now + sylk_mixcore_speaking(m, b), ==, 1);
        swaps += t > 0 && a_now != a_was;
        a_was = a_now;
    }
    g_assert_cmpuint(swaps, ==, 0);
    /* a clearly louder newcomer does take over */
    sylk_mixcore_put(m, a, constant(0, 1000));
    sylk_mixcore_put(m, b, constant(1, 3000));
    sylk_mixcore_tick(m);
    g_assert_true(sylk_mixcore_speaking(m, b));
    sylk_mixcore_free(m);
}

static void hangover_then_drop(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, SYLK_MIX_RATE);
    int a = sylk_mixcore_add(m), l = sylk_mixcore_add(m);
    static const int16_t silence[SYLK_MIX_FRAME];
    sylk_mixcore_put(m, a, constant(0, 5000));
    sylk_mixcore_tick(m);
    g_assert_true(sylk_mixcore_speaking(m, a));
    for (int t = 1; t < SYLK_MIX_HANGOVER; t++) {
        sylk_mixcore_put(m, a, silence);
        sylk_mixcore_tick(m);
        g_assert_true(sylk_mixcore_speaking(m, a)); /* the tail is kept */
    }
    sylk_mixcore_put(m, a, silence);
    sylk_mixcore_tick(m);
    g_assert_false(sylk_mixcore_speaking(m, a));
    g_assert_cmpint(heard(m, l, NULL), ==, 0);
    sylk_mixcore_free(m);
}

static void narrowband_rate(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, 8000);
    g_assert_cmpuint(sylk_mixcore_frame(m), ==, 160);
    int a = sylk_mixcore_add(m), b = sylk_mixcore_add(m);
    sylk_mixcore_put(m, a, constant(0, 1000));
    sylk_mixcore_put(m, b, constant(1, 2000));
    sylk_mixcore_tick(m);
    g_assert_cmpint(heard(m, a, NULL), ==, 2000);
    g_assert_cmpint(sylk_mixcore_output(m, b, NULL)[159], ==, 1000);
    sylk_mixcore_free(m);
    g_assert_null(sylk_mixcore_new(3, 4000));
}

static void mute_and_slots(void)
{
    struct sylk_mixcore *m = sylk_mixcore_new(3, SYLK_MIX_RATE);
    int a = sylk_mixcore_add(m), b = sylk_mixcore_add(m);
    sylk_mixcore_mute(m, a, true);
    sylk_mixcore_put(m, a, constant(0, 4000));
    sylk_mixcore_put(m, b, constant(1, 300));
    sylk_mixcore_tick(m);
    g_assert_cmpint(heard(m, a, NULL), ==, 300); /* muted: hears, is not heard */
    g_assert_cmpint(heard(m, b, NULL), ==, 0);
    sylk_mixcore_remove(m, a);
    g_assert_cmpuint(sylk_mixcore_count(m), ==, 1);
    g_assert_cmpint(sylk_mixcore_add(m), ==, a); /* slots are reused */
    sylk_mixcore_put(m, 99, constant(2, 1));     /* unknown slots are ignored */
    sylk_mixcore_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mixcore/three-party-exact", three_party_exact);
    g_test_add_func("/mixcore/saturation", saturation);
    g_test_add_func("/mixcore/loudest-speakers-only", loudest_speakers_only);
    g_test_add_func("/mixcore/big-room-top-three", big_room_top_three);
    g_test_add_func("/mixcore/hangover", hangover_then_drop);
    g_test_add_func("/mixcore/no-flapping", no_flapping_between_close_voices);
    g_test_add_func("/mixcore/mute-and-slots", mute_and_slots);
    g_test_add_func("/mixcore/narrowband-rate", narrowband_rate);
    return g_test_run();
}
