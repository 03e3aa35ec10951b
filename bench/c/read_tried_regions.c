/* Baseline for TriedRegionsBenchmarks: read one DAMON tried_regions tree the way a
 * minimal C tool would (readdir, numeric sort, open/read/close per file, strtoull),
 * N times, and print the mean nanoseconds per tree read.
 * Usage: read_tried_regions <tried_regions dir> <iterations> [warm-up reads, default 20]
 * (bench/run-tried-regions.sh also runs it as a process per snapshot: 1 iteration, 0 warm-ups) */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct region { unsigned long long start, end, nr_accesses, age; };

static int read_u64(const char *path, unsigned long long *out)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*out = strtoull(buf, NULL, 10);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int read_tree(const char *dir, int *names, int cap, struct region *regions, unsigned long long *total)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0, n = 0;
	char path[4096];

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		long v = strtol(e->d_name, &end, 10);
		if (*end == '\0' && count < cap)
			names[count++] = (int)v;
	}
	closedir(d);
	qsort(names, count, sizeof(int), cmp_int);
	snprintf(path, sizeof(path), "%s/total_bytes", dir);
	if (read_u64(path, total))
		*total = 0;
	for (int i = 0; i < count; i++) {
		struct region *r = &regions[n];
		snprintf(path, sizeof(path), "%s/%d/start", dir, names[i]);
		if (read_u64(path, &r->start))
			continue;
		snprintf(path, sizeof(path), "%s/%d/end", dir, names[i]);
		if (read_u64(path, &r->end))
			continue;
		snprintf(path, sizeof(path), "%s/%d/nr_accesses", dir, names[i]);
		if (read_u64(path, &r->nr_accesses))
			continue;
		snprintf(path, sizeof(path), "%s/%d/age", dir, names[i]);
		if (read_u64(path, &r->age))
			continue;
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s <tried_regions dir> <iterations> [warm-up reads]\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	long iters = atol(argv[2]);
	long warmups = argc == 4 ? atol(argv[3]) : 20;
	int cap = 1 << 16;
	int *names = malloc(sizeof(int) * cap);
	struct region *regions = malloc(sizeof(struct region) * cap);
	unsigned long long total = 0, checksum = 0;
	struct timespec a, b;
	int n = 0;

	for (long w = 0; w < warmups; w++) /* warm the dentry cache */
		n = read_tree(dir, names, cap, regions, &total);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++) {
		n = read_tree(dir, names, cap, regions, &total);
		checksum += regions[n - 1].end + total;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iters;
	printf("regions=%d total_bytes=%llu checksum=%llu\n", n, total, checksum);
	printf("ns_per_tree_read=%.0f\n", ns);
	return n > 0 ? 0 : 1;
}
