/*
 * wsgen: a workload with a known working set, for the real-kernel VM test.
 *
 * Allocates TOTAL bytes of anonymous memory, writes every page once (so all of
 * it is resident and private), then loops forever writing one byte per 4 KiB
 * page of the current "hot set" only. The hot set changes by phases: each
 * phase is SIZE[@OFFSET][:SECONDS]; a phase ends after SECONDS (0 or absent =
 * never) or when the process receives SIGUSR1, whichever comes first. After
 * the last phase the last hot set stays hot.
 *
 * The ground truth is written to a status file (atomically, via rename) and
 * phase changes are printed to stdout:
 *   phase=1 hot_bytes=134217728 hot_offset=0 total_bytes=1073741824 started_at=12.34
 *
 * Usage: wsgen [-t TOTAL] [-p SIZE[@OFFSET][:SECONDS]]... [-f STATUS_FILE] [-n] [-N NAME] [-s MS]
 * -n: no TLB flush after each pass (see the comment at flush_area).
 * -N: process name (default wsgen): more workloads run next to the one the vaddr targets find by name.
 * -s: sleep MS milliseconds after each pass (side workloads leave the vCPUs to the rest).
 * Sizes accept K, M, G suffixes (powers of 1024).
 * Defaults: -t 1G -p 128M@0:60 -p 384M@512M -f /run/wsgen.status
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define MAX_PHASES 16

struct phase {
	uint64_t size;
	uint64_t offset;
	double seconds; /* 0 = until SIGUSR1 */
};

static volatile sig_atomic_t advance_requested;

static void on_usr1(int sig)
{
	(void)sig;
	advance_requested = 1;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Uptime as the kernel reports it, so the status file lines up with dmesg/trace times. */
static double uptime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_phase(const char *spec, struct phase *p)
{
	char buf[128];
	if (strlen(spec) >= sizeof(buf))
		return -1;
	strcpy(buf, spec);
	p->offset = 0;
	p->seconds = 0;
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		char *end;
		p->seconds = strtod(colon + 1, &end);
		if (end == colon + 1 || *end != '\0' || p->seconds < 0)
			return -1;
	}
	char *at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		if (parse_size(at + 1, &p->offset) != 0)
			return -1;
	}
	return parse_size(buf, &p->size);
}

static void write_status(const char *path, int idx, const struct phase *p, uint64_t total, double started,
			 double pass_ms, int announce)
{
	char tmp[512];
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "phase=%d hot_bytes=%llu hot_offset=%llu total_bytes=%llu started_at=%.2f pass_ms=%.1f\n",
			 idx, (unsigned long long)p->size, (unsigned long long)p->offset,
			 (unsigned long long)total, started, pass_ms);
	if (announce) {
		fputs("wsgen: ", stdout);
		fputs(line, stdout);
		fflush(stdout);
	}
	if (path == NULL || *path == '\0')
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "wsgen: cannot write %s: %s\n", tmp, strerror(errno));
		return;
	}
	fwrite(line, 1, (size_t)n, f);
	fclose(f);
	if (rename(tmp, path) != 0)
		fprintf(stderr, "wsgen: cannot rename %s: %s\n", tmp, strerror(errno));
}

int main(int argc, char **argv)
{
	uint64_t total = 1ULL << 30;
	struct phase phases[MAX_PHASES];
	int nphases = 0;
	const char *status = "/run/wsgen.status";
	int tlb_flush = 1;
	const char *name = "wsgen";
	long sleep_ms = 0;
	int opt;

	while ((opt = getopt(argc, argv, "t:p:f:nN:s:")) != -1) {
		switch (opt) {
		case 't':
			if (parse_size(optarg, &total) != 0 || total < PAGE) {
				fprintf(stderr, "wsgen: bad -t '%s' (want e.g. 1G)\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (nphases == MAX_PHASES || parse_phase(optarg, &phases[nphases]) != 0) {
				fprintf(stderr, "wsgen: bad -p '%s' (want SIZE[@OFFSET][:SECONDS], e.g. 128M@0:60)\n", optarg);
				return 2;
			}
			nphases++;
			break;
		case 'f':
			status = optarg;
			break;
		case 'n':
			tlb_flush = 0;
			break;
		case 'N':
			name = optarg;
			break;
		case 's':
			sleep_ms = strtol(optarg, NULL, 10);
			if (sleep_ms < 0 || sleep_ms > 10000) {
				fprintf(stderr, "wsgen: bad -s '%s' (want 0-10000 ms)\n", optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: wsgen [-t TOTAL] [-p SIZE[@OFFSET][:SECONDS]]... [-f STATUS_FILE] [-n] [-N NAME] [-s MS]\n");
			return 2;
		}
	}
	if (nphases == 0) {
		phases[0] = (struct phase){ 128ULL << 20, 0, 60 };
		phases[1] = (struct phase){ 384ULL << 20, 512ULL << 20, 0 };
		nphases = 2;
	}
	total &= ~(PAGE - 1);
	for (int i = 0; i < nphases; i++) {
		if (phases[i].size == 0 || phases[i].size % PAGE != 0 || phases[i].offset % PAGE != 0 ||
		    phases[i].offset + phases[i].size > total) {
			fprintf(stderr, "wsgen: phase %d (size %llu at %llu) must be page aligned and inside %llu bytes\n",
				i + 1, (unsigned long long)phases[i].size, (unsigned long long)phases[i].offset,
				(unsigned long long)total);
			return 2;
		}
	}

	/* DAMON targets and tools find the process by this name. */
	prctl(PR_SET_NAME, name, 0, 0, 0);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	/* No THP: with 2 MiB pages one access would mark 512 of our 4 KiB pages hot. */
	volatile unsigned char *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "wsgen: mmap %llu bytes: %s\n", (unsigned long long)total, strerror(errno));
		return 1;
	}
	madvise((void *)mem, total, MADV_NOHUGEPAGE);

	double t0 = uptime();
	for (uint64_t off = 0; off < total; off += PAGE)
		mem[off] = 1;
	printf("wsgen: pid=%d base=%p total_bytes=%llu populated in %.2fs\n", getpid(), (void *)mem,
	       (unsigned long long)total, uptime() - t0);
	fflush(stdout);

	/*
	 * TLB flush once per pass. qemu's TCG keeps a software TLB far larger than a real CPU's
	 * (~2K entries), so a 128 MiB hot set can stay cached in it; a write through a cached
	 * entry does not set the PTE Accessed bit again after DAMON cleared it, and DAMON would
	 * see the hot set as idle until some context switch flushes the TLB. Changing the
	 * protection of more than 33 pages (the kernel's single-page flush ceiling) makes the
	 * kernel flush this mm's whole TLB, as the eviction by the pass itself would on hardware.
	 */
	const size_t flush_len = 64 * PAGE;
	unsigned char *flush_area = mmap(NULL, flush_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (flush_area == MAP_FAILED) {
		fprintf(stderr, "wsgen: mmap flush area: %s\n", strerror(errno));
		return 1;
	}
	for (size_t off = 0; off < flush_len; off += PAGE)
		flush_area[off] = 1;

	int cur = 0;
	unsigned char v = 2;
	for (;;) {
		const struct phase *p = &phases[cur];
		advance_requested = 0;
		double started = uptime();
		write_status(status, cur + 1, p, total, started, 0, 1);
		double deadline = p->seconds > 0 ? now_mono() + p->seconds : 0;
		volatile unsigned char *hot = mem + p->offset;
		/* Pass time matters: a page is "hot" for DAMON only if it is touched within an aggregation interval. */
		double window_start = now_mono();
		unsigned long passes = 0;
		for (;;) {
			for (uint64_t off = 0; off < p->size; off += PAGE)
				hot[off] = v;
			v++;
			passes++;
			if (tlb_flush) {
				mprotect(flush_area, flush_len, PROT_READ);
				mprotect(flush_area, flush_len, PROT_READ | PROT_WRITE);
			}
			if (sleep_ms > 0)
				usleep((useconds_t)sleep_ms * 1000);
			double t = now_mono();
			if (t - window_start >= 2.0) {
				write_status(status, cur + 1, p, total, started, (t - window_start) * 1000 / passes, 0);
				window_start = t;
				passes = 0;
			}
			if (cur + 1 < nphases &&
			    (advance_requested || (deadline > 0 && now_mono() >= deadline)))
				break;
		}
		cur++;
	}
}
