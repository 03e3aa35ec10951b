/*
 * pagetruth: where a workload's hot and cold pages sit among a paddr kdamond's regions: the
 * kernel's own answer to "how many of its never-touched pages are idle", page by page, which
 * the real-kernel VM test prints next to the agent's per-cgroup figure (guest side only).
 *
 * Usage: pagetruth LABEL PID HOT_BYTES REGIONS_DIR AGGR_US COLD_S
 *
 * Reads the largest anonymous mapping of PID (wsgen's buffer; its first HOT_BYTES are the hot
 * set), each page's PFN from /proc/PID/pagemap, and the regions under REGIONS_DIR
 * (tried_regions/N/{start,end,nr_accesses,age}). Prints how many of the hot and cold pages lie in
 * regions idle for >= COLD_S (nr_accesses 0 and age * AGGR_US >= COLD_S), and, for every region
 * holding cold pages but not idle that long, the region and its composition: this workload's hot
 * and cold pages, and a page-flag / cgroup census of up to 512 of its frames.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096ULL

struct region { uint64_t start, end, nr, age; uint64_t hot, cold; };

static uint64_t read_u64(const char *dir, const char *name)
{
	char path[512], buf[64];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return UINT64_MAX;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return UINT64_MAX;
	buf[n] = 0;
	return strtoull(buf, NULL, 10);
}

static int cmp_region(const void *a, const void *b)
{
	const struct region *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static struct region *find(struct region *r, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < r[mid].start) hi = mid;
		else if (addr >= r[mid].end) lo = mid + 1;
		else return &r[mid];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: pagetruth LABEL PID HOT_BYTES REGIONS_DIR AGGR_US COLD_S\n");
		return 2;
	}
	const char *label = argv[1];
	int pid = atoi(argv[2]);
	uint64_t hot_bytes = strtoull(argv[3], NULL, 0);
	const char *rdir = argv[4];
	uint64_t aggr_us = strtoull(argv[5], NULL, 0), cold_s = strtoull(argv[6], NULL, 0);

	/* The largest anonymous mapping. */
	char path[256], line[512];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *maps = fopen(path, "r");
	if (!maps) { perror(path); return 1; }
	uint64_t best_s = 0, best_e = 0;
	while (fgets(line, sizeof line, maps)) {
		unsigned long long s, e, off; char perms[8]; unsigned maj, min; unsigned long ino;
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %lu %n", &s, &e, perms, &off, &maj, &min, &ino, &pos) < 7) continue;
		if (ino != 0 || strchr(line + pos, '/') || strchr(line + pos, '[')) continue;
		if (e - s > best_e - best_s) { best_s = s; best_e = e; }
	}
	fclose(maps);
	if (best_e == best_s) { fprintf(stderr, "no anonymous mapping\n"); return 1; }

	/*
	 * Regions. The agent refreshes the directory (update_schemes_tried_regions empties and
	 * refills it) every collection: read until the regions add up to total_bytes, unchanged
	 * across the read.
	 */
	size_t cap = 4096, n = 0;
	struct region *reg = calloc(cap, sizeof *reg);
	int whole = 0;
	for (int attempt = 0; attempt < 100 && !whole; attempt++) {
		if (attempt) usleep(200000);
		n = 0;
		uint64_t total_before = read_u64(rdir, "total_bytes"), sum = 0;
		DIR *d = opendir(rdir);
		if (!d) { perror(rdir); return 1; }
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
			char sub[512];
			snprintf(sub, sizeof sub, "%s/%s", rdir, de->d_name);
			struct region r = { read_u64(sub, "start"), read_u64(sub, "end"), read_u64(sub, "nr_accesses"), read_u64(sub, "age"), 0, 0 };
			if (r.start == UINT64_MAX || r.end == UINT64_MAX || r.nr == UINT64_MAX || r.age == UINT64_MAX) { sum = 0; break; }
			if (n == cap) { cap *= 2; reg = realloc(reg, cap * sizeof *reg); }
			reg[n++] = r;
			sum += r.end - r.start;
		}
		closedir(d);
		whole = n > 0 && sum == total_before && read_u64(rdir, "total_bytes") == total_before;
	}
	if (!whole) { fprintf(stderr, "pagetruth: %s never read whole\n", rdir); return 1; }
	qsort(reg, n, sizeof *reg, cmp_region);

	/* Pages. */
	snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
	int pm = open(path, O_RDONLY);
	if (pm < 0) { perror(path); return 1; }
	uint64_t npages = (best_e - best_s) / PAGE;
	uint64_t *ent = malloc(npages * 8);
	if (pread(pm, ent, npages * 8, (off_t)(best_s / PAGE * 8)) != (ssize_t)(npages * 8)) { perror("pagemap"); return 1; }
	close(pm);
	uint64_t hot_idle = 0, hot_all = 0, cold_idle = 0, cold_all = 0, absent = 0, outside = 0;
	uint64_t cold_runs = 0, prev_pfn = 0;
	for (uint64_t i = 0; i < npages; i++) {
		if (!(ent[i] >> 63)) { absent++; continue; }
		uint64_t pfn = ent[i] & ((1ULL << 55) - 1);
		int hot = i * PAGE < hot_bytes;
		if (!hot && pfn != prev_pfn + 1) cold_runs++;
		prev_pfn = pfn;
		struct region *r = find(reg, n, pfn * PAGE);
		if (!r) { outside++; continue; }
		int idle = r->nr == 0 && r->age * aggr_us >= cold_s * 1000000ULL;
		if (hot) { hot_all++; hot_idle += idle; r->hot++; }
		else { cold_all++; cold_idle += idle; r->cold++; }
	}
	printf("VM-PAGETRUTH %s pid=%d mapping=%#" PRIx64 "+%" PRIu64 "MiB regions=%zu hot_pages=%" PRIu64 " hot_idle=%" PRIu64
	       " cold_pages=%" PRIu64 " cold_idle=%" PRIu64 " cold_runs=%" PRIu64 " absent=%" PRIu64 " outside=%" PRIu64 "\n",
	       label, pid, best_s, (best_e - best_s) >> 20, n, hot_all, hot_idle, cold_all, cold_idle, cold_runs, absent, outside);

	int kf = open("/proc/kpageflags", O_RDONLY), kc = open("/proc/kpagecgroup", O_RDONLY);
	uint64_t my_cg = 0;
	for (uint64_t i = 0; i < npages && kc >= 0; i++)
		if (ent[i] >> 63) { pread(kc, &my_cg, 8, (off_t)((ent[i] & ((1ULL << 55) - 1)) * 8)); break; }
	for (size_t i = 0; i < n; i++) {
		struct region *r = &reg[i];
		if (!r->cold) continue;
		int idle = r->nr == 0 && r->age * aggr_us >= cold_s * 1000000ULL;
		/* Census of up to 512 frames spread over the region. */
		uint64_t frames = (r->end - r->start) / PAGE, step = frames > 512 ? frames / 512 : 1;
		unsigned lru = 0, anon = 0, buddy = 0, thp = 0, idlef = 0, referenced = 0, nolru = 0, other_cg = 0, mine = 0, cnt = 0;
		for (uint64_t f = r->start / PAGE; f < r->end / PAGE; f += step) {
			uint64_t flags = 0, cg = 0;
			if (kf >= 0) pread(kf, &flags, 8, (off_t)(f * 8));
			if (kc >= 0) pread(kc, &cg, 8, (off_t)(f * 8));
			cnt++;
			if (flags & (1ULL << 5)) lru++; else nolru++;
			if (flags & (1ULL << 12)) anon++;
			if (flags & (1ULL << 10)) buddy++;
			if (flags & (1ULL << 22)) thp++;
			if (flags & (1ULL << 25)) idlef++;
			if (flags & (1ULL << 2)) referenced++;
			if (cg == my_cg) mine++; else if (cg) other_cg++;
		}
		printf("VM-PAGETRUTH-REGION %s idle=%d start=%#" PRIx64 " MiB=%.2f nr=%" PRIu64 " age=%" PRIu64
		       " my_hot=%" PRIu64 " my_cold=%" PRIu64 " census=%u lru=%u nolru=%u anon=%u buddy=%u thp=%u idleflag=%u referenced=%u cg_mine=%u cg_other=%u\n",
		       label, idle, r->start, (double)(r->end - r->start) / 1048576, r->nr, r->age, r->hot, r->cold, cnt, lru, nolru, anon,
		       buddy, thp, idlef, referenced, mine, other_cg);
	}
	return 0;
}
