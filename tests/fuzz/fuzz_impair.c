/* libFuzzer target for the impairment spec parser (`--impair`, the control
 * socket's `impair`): any input either parses or gives a one-line error,
 * and what parses formats to a spec that parses again to the same format
 * (berth_impair_format is documented to round-trip). */
#include "berth/rt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    struct berth_impair a, b;
    char err[256], f1[512], f2[512];
    err[0] = '\0';
    if (berth_impair_parse(spec, &a, err, sizeof err) != 0) {
        if (err[0] == '\0' || strchr(err, '\n'))
            abort(); /* an error says what, on one line */
    } else {
        berth_impair_format(&a, f1, sizeof f1);
        if (berth_impair_parse(f1, &b, err, sizeof err) != 0)
            abort(); /* its own format does not parse */
        berth_impair_format(&b, f2, sizeof f2);
        if (strcmp(f1, f2) != 0)
            abort();
    }
    free(spec);
    return 0;
}
