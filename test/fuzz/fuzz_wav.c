/* libFuzzer target: WAV prompt files through sylk_player_new_wav_data, then played a little. */
#include "media/player.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sylk_player *p = NULL;
    char *error = NULL;
    if (sylk_player_new_wav_data(data, size, &p, &error) == 0) {
        int16_t pcm[960] = {0};
        /* both paths: the file's own rate, and resampled */
        for (int i = 0; i < 3 && sylk_player_mix(p, pcm, sylk_player_rate(p), 160); i++)
            ;
        for (int i = 0; i < 3 && sylk_player_mix(p, pcm, 48000, 960); i++)
            ;
        sylk_player_free(p);
    } else if (!error) {
        abort(); /* a refusal always says why */
    }
    g_free(error);
    return 0;
}
