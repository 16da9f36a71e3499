/* Helpers shared by the benchmark programs: clocks, CPU time, argument
 * parsing and the one-line result format the runner (run.py) reads.
 * Benchmarks print progress on stderr and exactly one "RESULT k=v ..."
 * line per measurement on stdout. */
#ifndef BERTH_BENCH_H
#define BERTH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

/* CLOCK_MONOTONIC, nanoseconds. */
uint64_t bench_wall_ns(void);
/* user + system CPU of this process (RUSAGE_SELF), nanoseconds. */
uint64_t bench_cpu_ns(void);
uint64_t bench_rusage_ns(const struct rusage *ru);
/* Resident set size of this process, bytes (from /proc/self/statm). */
size_t bench_rss_bytes(void);

/* "--name value" options: the value after `name`, or `def` when absent.
 * Sizes accept k/m/g suffixes (powers of 1024). */
uint64_t bench_arg_u64(int argc, char **argv, const char *name, uint64_t def);
const char *bench_arg_str(int argc, char **argv, const char *name,
                          const char *def);
bool bench_arg_flag(int argc, char **argv, const char *name);

/* Fatal error: message on stderr, exit 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* Builds and prints "RESULT bench=NAME k=v k=v ...\n" on stdout. */
void bench_result_begin(const char *name);
void bench_result_u64(const char *key, uint64_t v);
void bench_result_f(const char *key, double v);
void bench_result_s(const char *key, const char *v);
void bench_result_end(void);

#endif
