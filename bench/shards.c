/* berth-bench shards: the lifecycle workload (lifecycle.h) on N shards in
 * one process, as the sharded runtime runs them: one thread per shard,
 * pinned to its own CPU, each with its own pair of stacks and its own
 * load, nothing shared on the way. The figure is the aggregate lifecycle
 * rate (every shard's connections over the slowest shard's wall time),
 * and each shard's own CPU per connection, so 1 and 2 shards compare
 * side by side (run.py runs them interleaved). */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#include "bench.h"
#include "lifecycle.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHARDS_MAX 64

struct shard_run {
    pthread_t thread;
    unsigned index, cpu;
    bool pinned;
    uint64_t conns, inflight, max_ns;
    pthread_barrier_t *start;
    /* results */
    uint64_t done, errors;
    uint64_t t0, t1; /* wall ns */
    uint64_t cpu_ns; /* this thread's CPU over the run */
    int setup_failed;
};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *shard_main(void *arg)
{
    struct shard_run *r = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(r->cpu, &set);
    r->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    struct berth_config cfg[2];
    for (int i = 0; i < 2; i++)
        berth_config_init(&cfg[i]);
    struct pair p;
    struct lc lc;
    r->setup_failed = lc_init(&lc, &p, cfg, false, 128) != 0;
    pthread_barrier_wait(r->start);
    if (r->setup_failed)
        return NULL;
    uint64_t c0 = thread_cpu_ns();
    r->t0 = bench_wall_ns();
    r->done = lc_run(&lc, r->conns, (unsigned)r->inflight, r->max_ns);
    r->t1 = bench_wall_ns();
    r->cpu_ns = thread_cpu_ns() - c0;
    r->errors = lc.errors + (r->conns - r->done);
    lc_destroy(&lc);
    return NULL;
}

int cmd_shards(int argc, char **argv)
{
    unsigned n = (unsigned)bench_arg_u64(argc, argv, "--threads", 2);
    uint64_t conns = bench_arg_u64(argc, argv, "--conns", 200000);
    uint64_t inflight = bench_arg_u64(argc, argv, "--inflight", 64);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || n > SHARDS_MAX)
        bench_die("shards: --threads 1 to %d", SHARDS_MAX);
    if (ncpu < 1)
        ncpu = 1;
    struct shard_run r[SHARDS_MAX];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, n);
    memset(r, 0, sizeof r);
    for (unsigned i = 0; i < n; i++) {
        r[i] = (struct shard_run){.index = i,
                                  .cpu = i % (unsigned)ncpu,
                                  .conns = conns,
                                  .inflight = inflight,
                                  .max_ns = max_s * 1000000000ull,
                                  .start = &start};
        if (pthread_create(&r[i].thread, NULL, shard_main, &r[i]) != 0)
            bench_die("shards: pthread_create failed");
    }
    uint64_t done = 0, errors = 0, cpu = 0, t0 = UINT64_MAX, t1 = 0;
    unsigned pinned = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(r[i].thread, NULL);
        if (r[i].setup_failed)
            bench_die("shards: shard %u: setup failed", i);
        done += r[i].done;
        errors += r[i].errors;
        cpu += r[i].cpu_ns;
        pinned += r[i].pinned;
        t0 = r[i].t0 < t0 ? r[i].t0 : t0;
        t1 = r[i].t1 > t1 ? r[i].t1 : t1;
    }
    pthread_barrier_destroy(&start);
    double wall = (double)(t1 - t0) / 1e9;
    bench_result_begin("shards");
    bench_result_s("stack", "berth");
    bench_result_u64("threads", n);
    bench_result_u64("cpus", (uint64_t)ncpu);
    bench_result_u64("pinned", pinned);
    bench_result_u64("conns", done);
    bench_result_u64("errors", errors);
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", (double)cpu / 1e9);
    bench_result_f("conn_per_s", (double)done / wall);
    bench_result_f("cpu_us_per_conn",
                   (double)cpu / 1e3 / (double)(done ? done : 1));
    /* The slowest and fastest shard's own rate: a flat spread says the
     * shards did not slow each other down. */
    double lo = 0, hi = 0;
    for (unsigned i = 0; i < n; i++) {
        double w = (double)(r[i].t1 - r[i].t0) / 1e9;
        double rate = w > 0 ? (double)r[i].done / w : 0;
        lo = i == 0 || rate < lo ? rate : lo;
        hi = i == 0 || rate > hi ? rate : hi;
    }
    bench_result_f("shard_min_conn_per_s", lo);
    bench_result_f("shard_max_conn_per_s", hi);
    bench_result_end();
    return errors == 0 ? 0 : 1;
}
