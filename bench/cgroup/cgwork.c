/*
 * cgwork: workloads charged to cgroup v2 groups, with known hot and cold sets and a chosen
 * physical interleaving, for the per-cgroup probes (bench/cgroup/guest.sh).
 *
 * Usage: cgwork [-c CHUNK_PAGES] [-s STATUS_FILE] -g CGROUP_DIR:SIZE:HOT[:FILE] ...
 *
 * One child per -g. Each child writes its pid to CGROUP_DIR/cgroup.procs before touching any
 * memory (memory is charged to the cgroup of the task that faults it in), maps SIZE bytes of
 * private anonymous memory (no THP) and, with FILE, a FILE-byte tmpfs file (page cache,
 * charged as file/shmem) that is written once and never again.
 *
 * Placement: with -c 0 (default) the children fault their anonymous memory one after the
 * other (each cgroup's pages mostly contiguous in physical memory); with -c N they fault N
 * pages each in turn, passing a token round a ring of pipes, all pinned to CPU 0 so that the
 * page allocator's per-CPU lists hand out neighbouring frames alternately (interleaved).
 *
 * Then each child writes one byte per page of its first HOT bytes in a loop (the hot set),
 * with the TLB flush wsgen uses (tests/vm/workload/wsgen.c explains why TCG needs it). The
 * rest stays untouched (the cold set). Truth goes to STATUS_FILE, one line per child:
 *   cg=<dir> pid=<pid> anon_bytes=<SIZE> hot_bytes=<HOT> file_bytes=<FILE>
 * and "cgwork: ready" on stdout once every child has faulted everything in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define MAX_GROUPS 256

struct group {
	char dir[256];
	uint64_t size, hot, file;
};

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0' && *end != ':')
		return -1;
	*out = v;
	return 0;
}

static int parse_group(const char *spec, struct group *g)
{
	char buf[512];
	if (strlen(spec) >= sizeof(buf))
		return -1;
	strcpy(buf, spec);
	char *f[4] = { 0 };
	int n = 0;
	for (char *p = strtok(buf, ":"); p && n < 4; p = strtok(NULL, ":"))
		f[n++] = p;
	if (n < 3 || strlen(f[0]) >= sizeof(g->dir))
		return -1;
	strcpy(g->dir, f[0]);
	g->file = 0;
	if (parse_size(f[1], &g->size) || parse_size(f[2], &g->hot) || (n == 4 && parse_size(f[3], &g->file)))
		return -1;
	g->size &= ~(PAGE - 1);
	g->hot &= ~(PAGE - 1);
	g->file &= ~(PAGE - 1);
	return g->hot <= g->size ? 0 : -1;
}

static void join_cgroup(const char *dir)
{
	char path[512], pid[32];
	snprintf(path, sizeof(path), "%.255s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY);
	int n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (fd < 0 || write(fd, pid, (size_t)n) != n) {
		fprintf(stderr, "cgwork: joining %s: %s\n", path, strerror(errno));
		_exit(1);
	}
	close(fd);
}

static void pin_cpu0(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void token_wait(int fd)
{
	char c;
	while (read(fd, &c, 1) != 1)
		if (errno != EINTR)
			_exit(1);
}

static void token_pass(int fd)
{
	char c = 't';
	while (write(fd, &c, 1) != 1)
		if (errno != EINTR)
			_exit(1);
}

int main(int argc, char **argv)
{
	struct group groups[MAX_GROUPS];
	int ng = 0, opt;
	uint64_t chunk = 0;
	const char *status = "/run/cgwork.status";
	while ((opt = getopt(argc, argv, "c:g:s:")) != -1) {
		switch (opt) {
		case 'c': chunk = strtoull(optarg, NULL, 10); break;
		case 's': status = optarg; break;
		case 'g':
			if (ng == MAX_GROUPS || parse_group(optarg, &groups[ng])) {
				fprintf(stderr, "cgwork: bad -g '%s' (want DIR:SIZE:HOT[:FILE], HOT <= SIZE)\n", optarg);
				return 2;
			}
			ng++;
			break;
		default:
			fprintf(stderr, "usage: cgwork [-c CHUNK_PAGES] [-s STATUS] -g DIR:SIZE:HOT[:FILE]...\n");
			return 2;
		}
	}
	if (ng == 0)
		return 2;

	/* Ring of pipes: child i waits on ring[i][0], passes to ring[(i+1)%ng][1]. A child whose
	 * memory is all faulted keeps passing the token until everyone is done. */
	int ring[MAX_GROUPS][2];
	for (int i = 0; i < ng; i++)
		if (pipe(ring[i])) { perror("pipe"); return 1; }
	int ready[2];
	if (pipe(ready)) { perror("pipe"); return 1; }
	/* Shared counter of children still faulting (token passing stops when it reaches 0). */
	volatile int *left = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*left = ng;

	FILE *st = fopen(status, "w");
	if (!st) { perror(status); return 1; }
	for (int i = 0; i < ng; i++) {
		pid_t pid = fork();
		if (pid < 0) { perror("fork"); return 1; }
		if (pid > 0) {
			fprintf(st, "cg=%s pid=%d anon_bytes=%llu hot_bytes=%llu file_bytes=%llu\n", groups[i].dir, pid,
				(unsigned long long)groups[i].size, (unsigned long long)groups[i].hot,
				(unsigned long long)groups[i].file);
			continue;
		}
		/* child */
		const struct group *g = &groups[i];
		join_cgroup(g->dir);
		if (chunk)
			pin_cpu0();
		volatile unsigned char *mem = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) { perror("mmap"); _exit(1); }
		madvise((void *)mem, g->size, MADV_NOHUGEPAGE);
		uint64_t off = 0, step = chunk ? chunk * PAGE : g->size;
		int done = 0;
		for (;;) {
			token_wait(ring[i][0]);
			if (!done) {
				uint64_t end = off + step > g->size ? g->size : off + step;
				for (; off < end; off += PAGE)
					mem[off] = 1;
				if (off >= g->size) {
					done = 1;
					__atomic_sub_fetch(left, 1, __ATOMIC_SEQ_CST);
				}
			}
			int remaining = __atomic_load_n(left, __ATOMIC_SEQ_CST);
			token_pass(ring[(i + 1) % ng][1]);
			if (done && remaining == 0)
				break;
		}
		if (g->file) {
			char path[64];
			snprintf(path, sizeof(path), "/tmp/cgwork-file-%d", getpid());
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
			if (fd < 0 || ftruncate(fd, (off_t)g->file)) { perror(path); _exit(1); }
			unsigned char *fm = mmap(NULL, g->file, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (fm == MAP_FAILED) { perror("mmap file"); _exit(1); }
			for (uint64_t o = 0; o < g->file; o += PAGE)
				fm[o] = 1;
			munmap(fm, g->file);
			close(fd);
		}
		char c = 'r';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Hot loop: every CPU, so the children do not queue behind CPU 0. */
		cpu_set_t all;
		CPU_ZERO(&all);
		for (int c2 = 0; c2 < 64; c2++)
			CPU_SET(c2, &all);
		sched_setaffinity(0, sizeof(all), &all);
		const size_t flush_len = 64 * PAGE;
		unsigned char *flush = mmap(NULL, flush_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (size_t o = 0; o < flush_len; o += PAGE)
			flush[o] = 1;
		unsigned char v = 2;
		for (;;) {
			for (uint64_t o = 0; o < g->hot; o += PAGE)
				mem[o] = v;
			v++;
			mprotect(flush, flush_len, PROT_READ);
			mprotect(flush, flush_len, PROT_READ | PROT_WRITE);
			if (g->hot == 0)
				pause();
		}
	}
	fclose(st);
	token_pass(ring[0][1]);
	for (int i = 0; i < ng; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1) { fprintf(stderr, "cgwork: a child died\n"); return 1; }
	}
	printf("cgwork: ready groups=%d chunk_pages=%llu\n", ng, (unsigned long long)chunk);
	fflush(stdout);
	signal(SIGTERM, SIG_DFL);
	/* Wait; SIGTERM to the parent's process group ends everyone (guest.sh uses kill -- -PGID). */
	while (wait(NULL) > 0)
		;
	return 0;
}
