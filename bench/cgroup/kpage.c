/*
 * kpage: probes for per-cgroup attribution of DAMON paddr regions through /proc/kpagecgroup and
 * /proc/kpageflags, and for the cost of vaddr "mapped only" sources. Read-only: it never writes
 * to /proc, /sys or DAMON. Used by bench/cgroup/guest.sh inside the VM and natively on a host.
 *
 *   kpage cgmap ROOT                  "ino path" of every directory under a cgroup2 mount
 *   kpage eval REGIONS CGMAP AGGR_US [options]
 *        REGIONS: lines "start end nr_accesses age" (paddr bytes, from tried_regions)
 *        full scan (truth: every page's cgroup and flags), then for each sampling policy and
 *        k: one real timed pass (preads) and --seeds simulated passes over the scanned arrays
 *        (accuracy of the sampled per-cgroup resident, WSS and idle bytes against the
 *        page-exact attribution of the same regions).
 *        --ks 1,4,8,16,64  --policies fixed,strat,prop,cluster8  --seeds 200  --idle-s 5,30
 *        --detail (per-cgroup lines)  --dump DIR (regions + arrays for offline replay)
 *   kpage rawcost PAGES_TOTAL         pread cost on kpagecgroup/kpageflags: batch 1, 8, 64, 512
 *   kpage maps PID [REPEAT]           cost of /proc/PID/{maps,smaps_rollup,numa_maps} and of the
 *                                     pagemap of every VMA (resident pages)
 *   kpage readcost FILE [N]           CPU per open+read+close of a small file (memory.stat)
 *   kpage mkmaps N SECONDS            a process with N separate mappings (one page touched in
 *                                     each), sleeping SECONDS; prints its pid
 * Output lines start with "R " (key=value) so scripts can grep them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ULL
#define KPF_SLAB 7
#define KPF_BUDDY 10
#define KPF_ANON 12
#define KPF_SWAPBACKED 14
#define KPF_LRU 5
#define KPF_NOPAGE 20
#define MAX_OWNERS 8192
#define MAX_REGIONS 20000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static long long syscalls_done, bytes_read;

static void pread_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);
	syscalls_done++;
	if (n != (ssize_t)len) {
		fprintf(stderr, "kpage: pread %zu at %lld: %zd %s\n", len, (long long)off, n, strerror(errno));
		exit(1);
	}
	bytes_read += n;
}

/* ---------------------------------------------------------------- cgroup map */
static struct {
	uint64_t ino;
	char path[256];
} cgmap[MAX_OWNERS];
static int ncg;
static const char *cg_root;

static int cgmap_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D) {
		const char *rel = path + strlen(cg_root);
		printf("%" PRIu64 " %s\n", (uint64_t)st->st_ino, *rel ? rel : "/");
	}
	return 0;
}

static void load_cgmap(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) { perror(file); exit(1); }
	char line[512];
	while (ncg < MAX_OWNERS && fgets(line, sizeof(line), f)) {
		uint64_t ino;
		char p[256];
		if (sscanf(line, "%" SCNu64 " %199s", &ino, p) == 2) {
			cgmap[ncg].ino = ino;
			snprintf(cgmap[ncg].path, sizeof(cgmap[ncg].path), "%s", p);
			ncg++;
		}
	}
	fclose(f);
}

static const char *cg_name(uint64_t ino)
{
	static char buf[32];
	if (ino == 0)
		return "(none)";
	for (int i = 0; i < ncg; i++)
		if (cgmap[i].ino == ino)
			return cgmap[i].path;
	snprintf(buf, sizeof(buf), "ino:%" PRIu64, ino);
	return buf;
}

/* ---------------------------------------------------------------- owners */
static uint64_t owner_ino[MAX_OWNERS];
static int nowners;
static int owner_of(uint64_t ino)
{
	for (int i = 0; i < nowners; i++)
		if (owner_ino[i] == ino)
			return i;
	if (nowners == MAX_OWNERS) { fprintf(stderr, "too many owners\n"); exit(1); }
	owner_ino[nowners] = ino;
	return nowners++;
}

/* ---------------------------------------------------------------- regions */
struct region {
	uint64_t spfn, npages;
	unsigned nr_accesses, age;
	uint64_t base; /* index into the scanned arrays */
};
static struct region regions[MAX_REGIONS];
static int nregions;
static uint64_t total_pages;

static void load_regions(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) { perror(file); exit(1); }
	unsigned long long s, e;
	unsigned a, g;
	while (nregions < MAX_REGIONS && fscanf(f, "%llu %llu %u %u", &s, &e, &a, &g) == 4) {
		struct region *r = &regions[nregions++];
		r->spfn = s / PAGE;
		r->npages = (e - s) / PAGE;
		r->nr_accesses = a;
		r->age = g;
		r->base = total_pages;
		total_pages += r->npages;
	}
	fclose(f);
}

/* ---------------------------------------------------------------- eval */
static uint64_t *scan_cg, *scan_flags;
static int fd_cg = -1, fd_fl = -1;

static int is_free(uint64_t fl)
{
	/* A free block's head page carries BUDDY; its tail pages, and pages parked on per-CPU
	 * lists, carry no flag at all (indistinguishable from unflagged kernel allocations). */
	return !(fl & (1ULL << KPF_NOPAGE)) && ((fl & (1ULL << KPF_BUDDY)) || fl == 0);
}

static void full_scan(int with_flags, double *ms, double *cpu)
{
	enum { B = 512 };
	double t0 = now_ms(), c0 = cpu_ms();
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		for (uint64_t p = 0; p < r->npages; p += B) {
			uint64_t n = r->npages - p < B ? r->npages - p : B;
			pread_all(fd_cg, scan_cg + r->base + p, n * 8, (off_t)((r->spfn + p) * 8));
			if (with_flags)
				pread_all(fd_fl, scan_flags + r->base + p, n * 8, (off_t)((r->spfn + p) * 8));
		}
	}
	*ms = now_ms() - t0;
	*cpu = cpu_ms() - c0;
}

struct policy {
	const char *name;
	int cluster; /* consecutive pages per read */
	int kind;    /* 0 fixed uniform, 1 stratified, 2 proportional stratified */
};

/* Sample positions (page offsets inside region r) for a policy; returns the count. */
static uint64_t positions(const struct policy *pol, int k, int r, uint64_t *out, uint64_t cap)
{
	const struct region *reg = &regions[r];
	uint64_t P = reg->npages, n;
	if (pol->kind == 2) {
		double share = (double)k * nregions * (double)P / (double)total_pages;
		n = (uint64_t)llround(share);
		if (n < 1)
			n = 1;
	} else {
		n = (uint64_t)k;
	}
	uint64_t points = pol->cluster > 1 ? (n + pol->cluster - 1) / pol->cluster : n;
	if (points < 1)
		points = 1;
	if (points * pol->cluster > P)
		points = P / pol->cluster ? P / pol->cluster : 1;
	if (points > cap)
		points = cap;
	for (uint64_t j = 0; j < points; j++) {
		uint64_t lo, span;
		if (pol->kind == 0) {
			lo = 0;
			span = P;
		} else {
			lo = P * j / points;
			span = P * (j + 1) / points - lo;
		}
		uint64_t room = span > (uint64_t)pol->cluster ? span - pol->cluster + 1 : 1;
		uint64_t pos = lo + rnd_below(room);
		if (pos + pol->cluster > P)
			pos = P > (uint64_t)pol->cluster ? P - pol->cluster : 0;
		out[j] = pos;
	}
	return points;
}

static int parse_list(const char *s, double *out, int max)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *p = strtok(buf, ","); p && n < max; p = strtok(NULL, ","))
		out[n++] = atof(p);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int eval(int argc, char **argv)
{
	if (argc < 5) { fprintf(stderr, "usage: kpage eval REGIONS CGMAP AGGR_US [options]\n"); return 2; }
	load_regions(argv[2]);
	load_cgmap(argv[3]);
	double aggr_s = atof(argv[4]) / 1e6;
	double ks[16] = { 1, 4, 8, 16, 64 }, idle_s[8] = { 5, 30 };
	int nks = 5, nidle = 2, seeds = 200, detail = 0;
	const char *pols = "fixed,strat,prop,cluster8", *dump = NULL;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--ks") && i + 1 < argc) nks = parse_list(argv[++i], ks, 16);
		else if (!strcmp(argv[i], "--idle-s") && i + 1 < argc) nidle = parse_list(argv[++i], idle_s, 8);
		else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--policies") && i + 1 < argc) pols = argv[++i];
		else if (!strcmp(argv[i], "--detail")) detail = 1;
		else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
		else { fprintf(stderr, "kpage eval: unknown option %s\n", argv[i]); return 2; }
	}
	if (nregions == 0) { fprintf(stderr, "kpage eval: no regions\n"); return 1; }
	fd_cg = open("/proc/kpagecgroup", O_RDONLY);
	fd_fl = open("/proc/kpageflags", O_RDONLY);
	if (fd_cg < 0 || fd_fl < 0) { perror("open /proc/kpage*"); return 1; }
	scan_cg = calloc(total_pages, 8);
	scan_flags = calloc(total_pages, 8);
	if (!scan_cg || !scan_flags) { perror("calloc"); return 1; }

	/* Full scans: kpagecgroup alone, then both files (the truth). */
	double ms_cg, cpu_cg, ms_both, cpu_both;
	syscalls_done = bytes_read = 0;
	full_scan(0, &ms_cg, &cpu_cg);
	long long sys_cg = syscalls_done, by_cg = bytes_read;
	syscalls_done = bytes_read = 0;
	full_scan(1, &ms_both, &cpu_both);
	printf("R scan regions=%d pages=%" PRIu64 " cg_ms=%.1f cg_cpu_ms=%.1f cg_syscalls=%lld cg_bytes=%lld both_ms=%.1f both_cpu_ms=%.1f both_syscalls=%lld both_bytes=%lld\n",
	       nregions, total_pages, ms_cg, cpu_cg, sys_cg, by_cg, ms_both, cpu_both, syscalls_done, bytes_read);

	if (dump) {
		char p[512];
		snprintf(p, sizeof(p), "%s/kpagecgroup.bin", dump);
		FILE *f = fopen(p, "w");
		if (f) { fwrite(scan_cg, 8, total_pages, f); fclose(f); }
		snprintf(p, sizeof(p), "%s/kpageflags.bin", dump);
		f = fopen(p, "w");
		if (f) { fwrite(scan_flags, 8, total_pages, f); fclose(f); }
	}

	/* Owners and page-exact attribution per region. */
	int *page_owner = malloc(total_pages * sizeof(int));
	for (uint64_t i = 0; i < total_pages; i++)
		page_owner[i] = owner_of(scan_cg[i]);
	int NO = nowners;
	/* exact[o*3 + m]: m 0 resident, 1 wss, 2.. idle >= idle_s[j] */
	int NM = 2 + nidle;
	double *exact = calloc((size_t)NO * NM, sizeof(double));
	double free_exact = 0, free_buddy_heads = 0, anon_pages = 0, file_pages = 0;
	/* Purity: an owner's bytes in regions where it holds >= 90 % of the region's owned pages. There its
	 * WSS and idle times are its own; elsewhere a region's access count blends several owners. */
	double *pure = calloc((size_t)NO, sizeof(double));
	double *region_cnt = calloc((size_t)NO, sizeof(double));
	for (int r = 0; r < nregions; r++) {
		const struct region *reg = &regions[r];
		double idle = reg->nr_accesses ? 0 : (reg->age + 1) * aggr_s;
		for (uint64_t p = 0; p < reg->npages; p++) {
			int o = page_owner[reg->base + p];
			uint64_t fl = scan_flags[reg->base + p];
			exact[o * NM] += PAGE;
			if (reg->nr_accesses)
				exact[o * NM + 1] += PAGE;
			for (int j = 0; j < nidle; j++)
				if (!reg->nr_accesses && idle >= idle_s[j])
					exact[o * NM + 2 + j] += PAGE;
			if (is_free(fl))
				free_exact += PAGE;
			if (fl & (1ULL << KPF_BUDDY))
				free_buddy_heads += PAGE;
			if (owner_ino[o]) {
				if (fl & (1ULL << KPF_ANON)) anon_pages += PAGE;
				else if (fl & (1ULL << KPF_LRU)) file_pages += PAGE;
			}
			region_cnt[o] += 1;
		}
		/* Shares among pages owned by some memcg: free and kernel pages are never found accessed,
		 * so they dilute a region's count but do not lend another owner's accesses. */
		double owned_in_region = 0;
		for (int o = 0; o < NO; o++)
			if (owner_ino[o])
				owned_in_region += region_cnt[o];
		for (int o = 0; o < NO; o++) {
			if (owner_ino[o] && region_cnt[o] >= 0.9 * owned_in_region)
				pure[o] += region_cnt[o] * PAGE;
			region_cnt[o] = 0;
		}
	}
	/* MemFree for comparison with the flags-based free estimate. */
	double memfree = -1;
	FILE *mi = fopen("/proc/meminfo", "r");
	if (mi) {
		char line[256];
		while (fgets(line, sizeof(line), mi))
			if (sscanf(line, "MemFree: %lf kB", &memfree) == 1) { memfree *= 1024; break; }
		fclose(mi);
	}
	printf("R free flags_free_mib=%.1f buddy_head_mib=%.1f memfree_mib=%.1f owned_anon_mib=%.1f owned_file_lru_mib=%.1f owners=%d\n",
	       free_exact / 1048576, free_buddy_heads / 1048576, memfree / 1048576, anon_pages / 1048576,
	       file_pages / 1048576, NO);
	int named = 0;
	for (int o = 0; o < NO; o++) {
		if (owner_ino[o] && strncmp(cg_name(owner_ino[o]), "ino:", 4) != 0 && strcmp(cg_name(owner_ino[o]), "/"))
			named++;
		printf("R truth cg=%s ino=%" PRIu64 " resident_mib=%.2f wss_mib=%.2f pure_pct=%.1f", cg_name(owner_ino[o]), owner_ino[o],
		       exact[o * NM] / 1048576, exact[o * NM + 1] / 1048576, exact[o * NM] > 0 ? pure[o] * 100 / exact[o * NM] : 0);
		for (int j = 0; j < nidle; j++)
			printf(" idle_ge_%gs_mib=%.2f", idle_s[j], exact[o * NM + 2 + j] / 1048576);
		printf("\n");
	}

	struct policy all[] = { { "fixed", 1, 0 }, { "strat", 1, 1 }, { "prop", 1, 2 }, { "cluster8", 8, 1 }, { "cluster64", 64, 1 } };
	uint64_t *pos = malloc(sizeof(uint64_t) * 1000000);
	uint64_t *buf = malloc(8 * 64);
	double *est = malloc(sizeof(double) * NO * NM);
	double *hits = malloc(sizeof(double) * NO);
	/* error samples per metric: rel error over (seed, named cgroup with truth >= 1 MiB) */
	double *errs = malloc(sizeof(double) * (size_t)seeds * (NO + 1) * NM * 2);
	for (unsigned pi = 0; pi < sizeof(all) / sizeof(all[0]); pi++) {
		if (!strstr(pols, all[pi].name))
			continue;
		const struct policy *pol = &all[pi];
		for (int ki = 0; ki < nks; ki++) {
			int k = (int)ks[ki];
			/* 1) real pass: preads of the sampled pages, kpagecgroup only, then both files. */
			double t_cg = 0, t_both = 0, c_cg = 0, c_both = 0;
			long long sc_cg = 0, sc_both = 0, by_both = 0, nsamples = 0;
			for (int pass = 0; pass < 2; pass++) {
				rng_state = 0x9E3779B97F4A7C15ULL;
				syscalls_done = bytes_read = 0;
				double t0 = now_ms(), c0 = cpu_ms();
				nsamples = 0;
				for (int r = 0; r < nregions; r++) {
					uint64_t n = positions(pol, k, r, pos, 1000000);
					for (uint64_t j = 0; j < n; j++) {
						off_t off = (off_t)((regions[r].spfn + pos[j]) * 8);
						pread_all(fd_cg, buf, 8ULL * pol->cluster, off);
						if (pass)
							pread_all(fd_fl, buf, 8ULL * pol->cluster, off);
						nsamples += pol->cluster;
					}
				}
				if (pass == 0) { t_cg = now_ms() - t0; c_cg = cpu_ms() - c0; sc_cg = syscalls_done; }
				else { t_both = now_ms() - t0; c_both = cpu_ms() - c0; sc_both = syscalls_done; by_both = bytes_read; }
			}
			/* 2) accuracy over seeds against the page-exact attribution. */
			int nerr = 0;
			double *sum_est = calloc((size_t)NO * NM, sizeof(double));
			for (int s = 0; s < seeds; s++) {
				rng_state = 0x2545F4914F6CDD1DULL + (uint64_t)s * 0x9E3779B97F4A7C15ULL;
				memset(est, 0, sizeof(double) * NO * NM);
				for (int r = 0; r < nregions; r++) {
					const struct region *reg = &regions[r];
					uint64_t n = positions(pol, k, r, pos, 1000000);
					memset(hits, 0, sizeof(double) * NO);
					double got = 0;
					for (uint64_t j = 0; j < n; j++)
						for (int c = 0; c < pol->cluster && pos[j] + c < reg->npages; c++) {
							hits[page_owner[reg->base + pos[j] + c]] += 1;
							got += 1;
						}
					double bytes = (double)reg->npages * PAGE;
					double idle = reg->nr_accesses ? 0 : (reg->age + 1) * aggr_s;
					for (int o = 0; o < NO; o++) {
						if (!hits[o])
							continue;
						double b = bytes * hits[o] / got;
						est[o * NM] += b;
						if (reg->nr_accesses)
							est[o * NM + 1] += b;
						for (int jj = 0; jj < nidle; jj++)
							if (!reg->nr_accesses && idle >= idle_s[jj])
								est[o * NM + 2 + jj] += b;
					}
				}
				for (int o = 0; o < NO; o++) {
					for (int m = 0; m < NM; m++)
						sum_est[o * NM + m] += est[o * NM + m];
					const char *nm = cg_name(owner_ino[o]);
					if (!owner_ino[o] || !strncmp(nm, "ino:", 4) || !strcmp(nm, "/"))
						continue;
					for (int m = 0; m < NM; m++) {
						double t = exact[o * NM + m];
						errs[((size_t)nerr * NM + m) * 2] = t >= 1048576 ? fabs(est[o * NM + m] - t) / t : -1;
						/* Ratio estimator: the sampled share of the cgroup's bytes, times its exact
						 * resident bytes (memory.stat gives those for free). */
						double r = est[o * NM] > 0 ? est[o * NM + m] / est[o * NM] * exact[o * NM] : 0;
						errs[((size_t)nerr * NM + m) * 2 + 1] = m > 0 && t >= 1048576 ? fabs(r - t) / t : -1;
					}
					nerr++;
				}
			}
			printf("R sample policy=%s k=%d regions=%d samples=%lld cg_ms=%.2f cg_cpu_ms=%.2f cg_syscalls=%lld both_ms=%.2f both_cpu_ms=%.2f both_syscalls=%lld both_bytes=%lld",
			       pol->name, k, nregions, nsamples, t_cg, c_cg, sc_cg, t_both, c_both, sc_both, by_both);
			const char *mname[10] = { "resident", "wss", "idle1", "idle2", "idle3", "idle4", "idle5", "idle6", "idle7", "idle8" };
			for (int m = 0; m < NM; m++)
				for (int ratio = 0; ratio < 2; ratio++) {
					double *v = malloc(sizeof(double) * (nerr + 1));
					int nv = 0;
					for (int i = 0; i < nerr; i++)
						if (errs[((size_t)i * NM + m) * 2 + ratio] >= 0)
							v[nv++] = errs[((size_t)i * NM + m) * 2 + ratio];
					if (nv) {
						qsort(v, nv, sizeof(double), cmp_double);
						double mean = 0;
						for (int i = 0; i < nv; i++) mean += v[i];
						const char *sfx = ratio ? "R" : "";
						printf(" %s%s_err_mean=%.2f%% %s%s_err_p95=%.2f%% %s%s_err_max=%.2f%%", mname[m], sfx, mean * 100 / nv, mname[m], sfx,
						       v[(int)(0.95 * (nv - 1))] * 100, mname[m], sfx, v[nv - 1] * 100);
					}
					free(v);
				}
			printf("\n");
			if (detail)
				for (int o = 0; o < NO; o++) {
					const char *nm = cg_name(owner_ino[o]);
					if (!owner_ino[o] || !strncmp(nm, "ino:", 4) || !strcmp(nm, "/"))
						continue;
					printf("R detail policy=%s k=%d cg=%s", pol->name, k, nm);
					for (int m = 0; m < NM; m++)
						printf(" %s_exact_mib=%.2f %s_mean_mib=%.2f", mname[m], exact[o * NM + m] / 1048576, mname[m],
						       sum_est[o * NM + m] / seeds / 1048576);
					printf("\n");
				}
			free(sum_est);
		}
	}
	printf("R named_cgroups=%d\n", named);
	return 0;
}

/* ---------------------------------------------------------------- raw cost */
static int rawcost(int argc, char **argv)
{
	if (argc < 3) return 2;
	uint64_t pages = strtoull(argv[2], NULL, 10);
	int calls = argc > 3 ? atoi(argv[3]) : 20000;
	const char *files[2] = { "/proc/kpagecgroup", "/proc/kpageflags" };
	int batches[] = { 1, 8, 64, 512 };
	uint64_t *buf = malloc(512 * 8);
	for (int f = 0; f < 2; f++) {
		int fd = open(files[f], O_RDONLY);
		if (fd < 0) { perror(files[f]); return 1; }
		for (unsigned b = 0; b < 4; b++) {
			int n = calls / (batches[b] >= 64 ? batches[b] / 8 : 1);
			double best = 1e18, best_cpu = 1e18;
			for (int rep = 0; rep < 3; rep++) {
				rng_state = 1234567 + rep;
				double t0 = now_ms(), c0 = cpu_ms();
				for (int i = 0; i < n; i++) {
					uint64_t pfn = rnd_below(pages - batches[b]);
					pread_all(fd, buf, 8ULL * batches[b], (off_t)(pfn * 8));
				}
				double t = now_ms() - t0, c = cpu_ms() - c0;
				if (t < best) best = t;
				if (c < best_cpu) best_cpu = c;
			}
			/* CPU time (user + sys) is the cost; wall time also holds waiting on a shared machine. */
			printf("R rawcost file=%s batch=%d calls=%d ns_per_call=%.0f ns_per_page=%.1f cpu_ns_per_call=%.0f cpu_ns_per_page=%.1f\n",
			       files[f], batches[b], n, best * 1e6 / n, best * 1e6 / n / batches[b], best_cpu * 1e6 / n,
			       best_cpu * 1e6 / n / batches[b]);
		}
		close(fd);
	}
	return 0;
}

/* ---------------------------------------------------------------- vaddr maps */
static double read_file_ms(const char *path, long *lines, long *bytes)
{
	static char buf[1 << 16];
	double t0 = now_ms();
	int fd = open(path, O_RDONLY);
	if (fd < 0) return -1;
	ssize_t n;
	*lines = 0;
	*bytes = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*bytes += n;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n') (*lines)++;
	}
	close(fd);
	return now_ms() - t0;
}

static int maps(int argc, char **argv)
{
	if (argc < 3) return 2;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	const char *pid = argv[2];
	const char *names[] = { "maps", "smaps_rollup", "numa_maps", "smaps" };
	for (unsigned i = 0; i < 4; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%s/%s", pid, names[i]);
		double best = 1e18, c_best = 1e18;
		long lines = 0, bytes = 0;
		for (int r = 0; r < reps; r++) {
			double c0 = cpu_ms();
			double t = read_file_ms(path, &lines, &bytes);
			double c = cpu_ms() - c0;
			if (t >= 0 && t < best) best = t;
			if (c < c_best) c_best = c;
		}
		printf("R maps pid=%s file=%s lines=%ld bytes=%ld ms=%.3f\n", pid, names[i], lines, bytes, best);
	}
	/* pagemap: 8 bytes per virtual page of every VMA; count present pages. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	FILE *f = fopen(path, "r");
	if (!f) return 1;
	static uint64_t ranges[200000][2];
	int nr = 0;
	char line[512];
	while (nr < 200000 && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && s < 0x800000000000ULL) {
			ranges[nr][0] = s;
			ranges[nr][1] = e;
			nr++;
		}
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%s/pagemap", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return 1;
	static uint64_t pm[8192];
	double best = 1e18;
	long long present = 0, vpages = 0, calls = 0;
	for (int r = 0; r < reps; r++) {
		present = vpages = calls = 0;
		double t0 = now_ms();
		for (int i = 0; i < nr; i++)
			for (uint64_t v = ranges[i][0]; v < ranges[i][1]; v += 8192 * PAGE) {
				uint64_t n = (ranges[i][1] - v) / PAGE;
				if (n > 8192) n = 8192;
				ssize_t got = pread(fd, pm, n * 8, (off_t)(v / PAGE * 8));
				calls++;
				for (ssize_t j = 0; j < got / 8; j++)
					if (pm[j] >> 63) present++;
				vpages += n;
			}
		double t = now_ms() - t0;
		if (t < best) best = t;
	}
	close(fd);
	printf("R maps pid=%s file=pagemap vmas=%d virtual_mib=%.1f present_mib=%.1f calls=%lld ms=%.3f\n", pid, nr,
	       vpages * 4096.0 / 1048576, present * 4096.0 / 1048576, calls, best);
	return 0;
}

/* CPU cost of reading a small file whole (e.g. a cgroup's memory.stat), open + read + close. */
static int readcost(int argc, char **argv)
{
	if (argc < 3) return 2;
	int n = argc > 3 ? atoi(argv[3]) : 1000;
	static char buf[1 << 16];
	double c0 = cpu_ms();
	for (int i = 0; i < n; i++) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) { perror(argv[2]); return 1; }
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	printf("R readcost file=%s reads=%d cpu_us_per_read=%.1f\n", argv[2], n, (cpu_ms() - c0) * 1e3 / n);
	return 0;
}

static int mkmaps(int argc, char **argv)
{
	if (argc < 4) return 2;
	long n = atol(argv[2]);
	int secs = atoi(argv[3]);
	/* Alternate protections so neighbouring mappings never merge into one VMA. */
	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, 2 * PAGE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		if (i & 1) p[0] = 1;
		else (void)*(volatile char *)p;
	}
	printf("R mkmaps pid=%d n=%ld\n", getpid(), n);
	fflush(stdout);
	sleep(secs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "cgmap")) {
		cg_root = argv[2];
		return nftw(argv[2], cgmap_visit, 32, FTW_PHYS) ? 1 : 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "eval")) return eval(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "rawcost")) return rawcost(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "maps")) return maps(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "mkmaps")) return mkmaps(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "readcost")) return readcost(argc, argv);
	fprintf(stderr, "usage: kpage cgmap ROOT | eval REGIONS CGMAP AGGR_US [opts] | rawcost PAGES [CALLS] | maps PID [REPEAT] | mkmaps N SECONDS\n");
	return 2;
}
