/*
 * sysio: timed reads and writes of single sysfs files, for the VM's exploration mode
 * (tests/vm/explore.sh). busybox's `echo > file` says "write error" without the errno
 * name and gives no timing; DAMON's answers (EBUSY, EINVAL, ...) and how long a state
 * command blocks are exactly what the exploration records.
 *
 *   sysio r FILE                       one read:  "ok us=N value=..." or "err=EBUSY errno=16 us=N"
 *   sysio w FILE VALUE                 one write: "ok us=N" or "err=... errno=N us=N"
 *   sysio rloop FILE SECONDS [GAP_US]  reads until SECONDS passed (GAP_US between reads)
 *   sysio wloop FILE VALUE SECONDS [GAP_US]
 *   sysio wuntil FILE VALUE SECONDS [GAP_US]  writes until one succeeds or SECONDS pass
 *
 * The loops print one summary line: "n=N ok=N ebusy=N other=N (last other: ENAME)
 * ok_us_min=N ok_us_avg=N ok_us_max=N err_us_max=N". wuntil prints "ok attempts=N
 * waited_us=N us=N" or "gave_up attempts=N waited_us=N last=ENAME".
 * Exit status: 0 when the (last) operation succeeded, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "none";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case ENODEV: return "ENODEV";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ECANCELED: return "ECANCELED";
	case EINTR: return "EINTR";
	case ENOMEM: return "ENOMEM";
	case ESRCH: return "ESRCH";
	case EEXIST: return "EEXIST";
	case ENOTSUP: return "EOPNOTSUPP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ERANGE: return "ERANGE";
	default: return "other";
	}
}

/* One operation; returns 0 or the errno, *us = its duration. buf gets what was read. */
static int do_read(const char *path, char *buf, size_t cap, int64_t *us)
{
	int64_t t0 = now_us();
	int fd = open(path, O_RDONLY);
	int err = 0;
	ssize_t n = -1;
	if (fd < 0) {
		err = errno;
	} else {
		n = read(fd, buf, cap - 1);
		if (n < 0)
			err = errno;
		close(fd);
	}
	*us = now_us() - t0;
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return err;
}

static int do_write(const char *path, const char *value, int64_t *us)
{
	int64_t t0 = now_us();
	int fd = open(path, O_WRONLY);
	int err = 0;
	if (fd < 0) {
		err = errno;
	} else {
		size_t len = strlen(value);
		if (write(fd, value, len) != (ssize_t)len)
			err = errno ? errno : EIO;
		close(fd);
	}
	*us = now_us() - t0;
	return err;
}

struct tally {
	long n, ok, ebusy, other;
	int last_other;
	int64_t ok_min, ok_max, ok_sum, err_max;
};

static void count(struct tally *t, int err, int64_t us)
{
	t->n++;
	if (err == 0) {
		t->ok++;
		t->ok_sum += us;
		if (t->ok == 1 || us < t->ok_min)
			t->ok_min = us;
		if (us > t->ok_max)
			t->ok_max = us;
		return;
	}
	if (err == EBUSY)
		t->ebusy++;
	else {
		t->other++;
		t->last_other = err;
	}
	if (us > t->err_max)
		t->err_max = us;
}

static void report(const struct tally *t)
{
	printf("n=%ld ok=%ld ebusy=%ld other=%ld", t->n, t->ok, t->ebusy, t->other);
	if (t->other)
		printf(" last_other=%s", errname(t->last_other));
	printf(" ok_us_min=%lld ok_us_avg=%lld ok_us_max=%lld err_us_max=%lld\n", (long long)t->ok_min,
	       (long long)(t->ok ? t->ok_sum / t->ok : 0), (long long)t->ok_max, (long long)t->err_max);
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	int64_t us;
	int err;
	if (argc >= 3 && strcmp(argv[1], "r") == 0) {
		err = do_read(argv[2], buf, sizeof buf, &us);
		if (err)
			printf("err=%s errno=%d us=%lld\n", errname(err), err, (long long)us);
		else
			printf("ok us=%lld value=%s\n", (long long)us, buf);
		return err ? 1 : 0;
	}
	if (argc >= 4 && strcmp(argv[1], "w") == 0) {
		err = do_write(argv[2], argv[3], &us);
		if (err)
			printf("err=%s errno=%d us=%lld\n", errname(err), err, (long long)us);
		else
			printf("ok us=%lld\n", (long long)us);
		return err ? 1 : 0;
	}
	if (argc >= 4 && strcmp(argv[1], "rloop") == 0) {
		struct tally t = {0};
		int64_t end = now_us() + (int64_t)(atof(argv[3]) * 1e6);
		long gap = argc >= 5 ? atol(argv[4]) : 0;
		do {
			err = do_read(argv[2], buf, sizeof buf, &us);
			count(&t, err, us);
			if (gap > 0)
				usleep(gap);
		} while (now_us() < end);
		report(&t);
		return t.ok ? 0 : 1;
	}
	if (argc >= 5 && strcmp(argv[1], "wloop") == 0) {
		struct tally t = {0};
		int64_t end = now_us() + (int64_t)(atof(argv[4]) * 1e6);
		long gap = argc >= 6 ? atol(argv[5]) : 0;
		do {
			err = do_write(argv[2], argv[3], &us);
			count(&t, err, us);
			if (gap > 0)
				usleep(gap);
		} while (now_us() < end);
		report(&t);
		return t.ok ? 0 : 1;
	}
	if (argc >= 5 && strcmp(argv[1], "wuntil") == 0) {
		int64_t t0 = now_us(), end = t0 + (int64_t)(atof(argv[4]) * 1e6);
		long gap = argc >= 6 ? atol(argv[5]) : 1000, attempts = 0;
		for (;;) {
			attempts++;
			err = do_write(argv[2], argv[3], &us);
			if (err == 0) {
				printf("ok attempts=%ld waited_us=%lld us=%lld\n", attempts, (long long)(now_us() - t0), (long long)us);
				return 0;
			}
			if (now_us() >= end) {
				printf("gave_up attempts=%ld waited_us=%lld last=%s\n", attempts, (long long)(now_us() - t0), errname(err));
				return 1;
			}
			usleep(gap);
		}
	}
	fprintf(stderr, "usage: sysio r FILE | w FILE VALUE | rloop FILE SECONDS [GAP_US] | "
			"wloop FILE VALUE SECONDS [GAP_US] | wuntil FILE VALUE SECONDS [GAP_US]\n");
	return 2;
}
