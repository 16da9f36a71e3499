/* libFuzzer target for the scenario-script parser (tests/scenario): any
 * text either parses or is refused with a message, without reading out of
 * bounds or leaking. The committed scripts are its seed corpus. */
#include "scenario.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* Refusals print to stderr: keep a run quiet. */
    FILE *saved = stderr;
    FILE *null = fopen("/dev/null", "w");
    if (null)
        stderr = null;
    struct scn_script sc;
    if (scn_parse_text("fuzz", text, size, &sc) == 0)
        scn_script_free(&sc);
    if (null) {
        stderr = saved;
        fclose(null);
    }
    free(text);
    return 0;
}
