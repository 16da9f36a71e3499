/* Replays fuzz inputs without libFuzzer, so the fuzz target runs in every
 * build (CTest fuzz.replay): each file given (directories: each file in
 * them, in name order), seeded mutations of each, and seeded random inputs.
 * Crashes and sanitizer reports fail the test; every input is named on
 * stdout first so that a failure points at its input. Linked with each
 * target: `fuzz_replay_NAME [--packets|--packets6] CORPUS...` (--packets6:
 * random records with IPv6 headers, for input6). */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MUTANTS_PER_FILE 32u
#define RANDOM_INPUTS    64u
#define REPLAY_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct replay_rng {
    uint64_t s;
};

static uint64_t replay_rng_next(struct replay_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

/* FNV-1a: seeds a file's mutations from its contents, so they do not
 * depend on the order files are listed in. */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h | 1;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(REPLAY_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
    fclose(f);
    *size = n;
    return buf;
}

/* Runs the file, then mutants of it: bit flips, byte overwrites, the tail
 * from some point repeated (packets arriving again), a cut. */
static int run_file(const char *path)
{
    size_t size;
    uint8_t *data = read_file(path, &size);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    printf("replay: %s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);

    uint8_t *m = malloc(2 * size + 1);
    if (!m) {
        free(data);
        return 1;
    }
    struct replay_rng rng = {hash_bytes(data, size)};
    for (unsigned k = 0; k < MUTANTS_PER_FILE && size > 0; k++) {
        size_t n = size;
        memcpy(m, data, size);
        unsigned muts = 1 + (unsigned)(replay_rng_next(&rng) % 4);
        for (unsigned i = 0; i < muts; i++) {
            size_t at = (size_t)(replay_rng_next(&rng) % n);
            uint64_t x = replay_rng_next(&rng);
            if (x % 3 == 0)
                m[at] ^= (uint8_t)(1u << (x >> 8) % 8);
            else if (x % 3 == 1)
                m[at] = (uint8_t)(x >> 8);
            else if (n + (n - at) <= 2 * size) {
                memcpy(m + n, m + at, n - at);
                n += n - at;
            }
        }
        if (replay_rng_next(&rng) % 8 == 0)
            n = (size_t)(replay_rng_next(&rng) % (n + 1));
        printf("replay: %s mutant %u\n", path, k);
        fflush(stdout);
        LLVMFuzzerTestOneInput(m, n);
    }
    free(m);
    free(data);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            char **bigger = realloc(names, cap * sizeof(*names));
            if (!bigger)
                break;
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count])
            break;
        snprintf(names[count], len, "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof(*names), compare_names);
    int failed = 0;
    for (size_t i = 0; i < count; i++) {
        failed |= run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return failed;
}

/* Random records with a plausible IPv4/TCP header toward the stack's
 * ports, so that random bytes get past the first checks (--packets: the
 * input target's record format). */
static size_t random_packets(struct replay_rng *rng, uint8_t *in, size_t cap,
                             bool v6)
{
    size_t n = 0;
    unsigned records = 1 + (unsigned)(replay_rng_next(rng) % 12);
    for (unsigned r = 0; r < records; r++) {
        size_t len = 20 + (size_t)(replay_rng_next(rng) % 100);
        if (n + 3 + len > cap)
            break;
        uint8_t *p = in + n + 3;
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)replay_rng_next(rng);
        in[n] = 0;
        in[n + 1] = (uint8_t)len;
        in[n + 2] = (uint8_t)(replay_rng_next(rng) % 0x90);
        static const uint8_t hdr[20] = {0x45, 0,  0,   0,  0, 0,   0x40,
                                        0,    64, 6,   0,  0, 198, 18,
                                        0,    1,  198, 18, 0, 2};
        /* IPv6, 2001:db8:b::1 -> ::2, Next Header TCP (or, one time in
         * four, Hop-by-Hop: random options). */
        static const uint8_t hdr6[40] = {
            0x60, 0,   0, 0, 0, 0, 6, 64, 0x20, 1, 0xd,  0xb8, 0,   0xb,
            0,    0,   0, 0, 0, 0, 0, 0,  0,    1, 0x20, 1,    0xd, 0xb8,
            0,    0xb, 0, 0, 0, 0, 0, 0,  0,    0, 0,    2};
        if (v6 && len >= 60) {
            memcpy(p, hdr6, sizeof(hdr6));
            p[5] = (uint8_t)(len - 40);
            if (replay_rng_next(rng) % 4 == 0)
                p[6] = 0;
            else if (replay_rng_next(rng) % 2) {
                uint16_t port = replay_rng_next(rng) % 2 ? 80 : 40000;
                p[42] = (uint8_t)(port >> 8);
                p[43] = (uint8_t)port;
                p[52] = 0x50;
            }
            n += 3 + len;
            continue;
        }
        memcpy(p, hdr, sizeof(hdr));
        p[3] = (uint8_t)len;
        if (len >= 40 && replay_rng_next(rng) % 2) {
            uint16_t port = replay_rng_next(rng) % 2 ? 80 : 40000;
            p[22] = (uint8_t)(port >> 8);
            p[23] = (uint8_t)port;
            p[32] = 0x50;
        }
        n += 3 + len;
    }
    return n;
}

/* Random bytes of random length, printable half the time (text parsers). */
static size_t random_bytes(struct replay_rng *rng, uint8_t *in, size_t cap)
{
    size_t n = (size_t)(replay_rng_next(rng) % cap);
    bool text = replay_rng_next(rng) % 2;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)replay_rng_next(rng);
        in[i] =
            text ? (uint8_t)(" \n:=%,.0123456789abcdeglmrsxy<>"[b % 32]) : b;
    }
    return n;
}

static void run_random_inputs(bool packets, bool v6)
{
    struct replay_rng rng = {0x5eed};
    uint8_t in[4096];
    for (unsigned k = 0; k < RANDOM_INPUTS; k++) {
        size_t n = packets ? random_packets(&rng, in, sizeof in, v6)
                           : random_bytes(&rng, in, sizeof in);
        printf("replay: random input %u\n", k);
        fflush(stdout);
        LLVMFuzzerTestOneInput(in, n);
    }
}

int main(int argc, char **argv)
{
    int failed = 0;
    bool packets = false, v6 = false;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "--packets") == 0 ||
            strcmp(argv[i], "--packets6") == 0) {
            packets = true;
            v6 = argv[i][9] == '6'; /* IPv6 headers (the input6 target) */
            continue;
        }
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file %s\n", argv[i]);
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            failed |= run_dir(argv[i]);
        } else {
            failed |= run_file(argv[i]);
        }
    }
    run_random_inputs(packets, v6);
    printf("replay: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
