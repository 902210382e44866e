/*
 * audio_check.h — measuring test audio: tones made and recognised (Goertzel, zero crossings),
 * shared by the unit tests of the player and the mixer.
 */
#ifndef SYLK_TEST_AUDIO_CHECK_H
#define SYLK_TEST_AUDIO_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* The power of `freq` in x (Goertzel), normalised by n so windows of any length compare. */
static inline double audio_power(const int16_t *x, size_t n, double freq, unsigned rate)
{
    double w = 2 * M_PI * freq / rate, c = 2 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

/*
 * The frequency of a pure tone from its sign changes: 2 per period, so the estimate is within
 * rate / (2 n) of the truth, and a resampler's gain or delay does not matter.
 */
static inline double audio_zero_crossing_freq(const int16_t *x, size_t n, unsigned rate)
{
    size_t crossings = 0;
    for (size_t i = 1; i < n; i++)
        crossings += (x[i - 1] < 0) != (x[i] < 0);
    return crossings * (double)rate / (2.0 * n);
}

/*
 * Fills x with `n` samples of a sine continuing from `*phase` (radians, kept in [0, 2 pi)) so
 * that consecutive frames join without a click.
 */
static inline void audio_sine(int16_t *x, size_t n, double freq, unsigned rate, double amplitude,
                              double *phase)
{
    double step = 2 * M_PI * freq / rate;
    for (size_t i = 0; i < n; i++) {
        x[i] = (int16_t)lrint(amplitude * sin(*phase));
        *phase = fmod(*phase + step, 2 * M_PI);
    }
}

#endif
