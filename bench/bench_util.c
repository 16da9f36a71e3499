/* Clocks, CPU time, RSS, options and the RESULT line (bench.h). */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_rusage_ns(const struct rusage *ru)
{
    return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) *
               1000000000ull +
           (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000ull;
}

uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return bench_rusage_ns(&ru);
}

size_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static const char *find_arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

uint64_t bench_arg_u64(int argc, char **argv, const char *name, uint64_t def)
{
    const char *v = find_arg(argc, argv, name);
    if (!v)
        return def;
    char *end;
    unsigned long long n = strtoull(v, &end, 0);
    switch (*end) {
    case 'k':
    case 'K':
        n <<= 10;
        break;
    case 'm':
    case 'M':
        n <<= 20;
        break;
    case 'g':
    case 'G':
        n <<= 30;
        break;
    case '\0':
        break;
    default:
        bench_die("%s: bad number '%s'", name, v);
    }
    return n;
}

const char *bench_arg_str(int argc, char **argv, const char *name,
                          const char *def)
{
    const char *v = find_arg(argc, argv, name);
    return v ? v : def;
}

bool bench_arg_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void bench_result_begin(const char *name)
{
    printf("RESULT bench=%s", name);
}

void bench_result_u64(const char *key, uint64_t v)
{
    printf(" %s=%llu", key, (unsigned long long)v);
}

void bench_result_f(const char *key, double v)
{
    printf(" %s=%.6g", key, v);
}

void bench_result_s(const char *key, const char *v)
{
    printf(" %s=%s", key, v);
}

void bench_result_end(void)
{
    printf("\n");
    fflush(stdout);
}
