/*
 * interleave: how finely memory cgroups are interleaved in physical memory, from a dump of
 * /proc/kpagecgroup (kpage eval ... --dump DIR writes DIR/kpagecgroup.bin, one u64 per frame).
 * For aligned blocks of B frames: the share of memcg-owned frames lying in blocks where one memcg
 * owns at least 90 % of the owned frames. Usage: interleave DIR/kpagecgroup.bin
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: interleave kpagecgroup.bin\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) { perror(argv[1]); return 1; }
	fseek(f, 0, SEEK_END);
	long n = ftell(f) / 8;
	rewind(f);
	uint64_t *a = malloc((size_t)n * 8);
	if (!a || fread(a, 8, (size_t)n, f) != (size_t)n) { perror("read"); return 1; }
	fclose(f);
	long owned = 0, runs = 0, cur = 0;
	for (long i = 0; i < n; i++) {
		if (!a[i]) { if (cur) runs++; cur = 0; continue; }
		owned++;
		if (cur && a[i] == a[i - 1]) cur++;
		else { if (cur) runs++; cur = 1; }
	}
	if (cur) runs++;
	printf("frames=%ld owned=%ld runs=%ld mean_run_frames=%.1f\n", n, owned, runs, runs ? (double)owned / runs : 0);
	const long blocks[] = { 16, 512, 4096, 65536, 262144 };
	for (unsigned b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
		long B = blocks[b], pure = 0;
		for (long s = 0; s < n; s += B) {
			long e = s + B < n ? s + B : n, tot = 0, best = 0;
			uint64_t ow[64];
			long cnt[64];
			int k = 0;
			for (long i = s; i < e; i++) {
				if (!a[i]) continue;
				tot++;
				int j;
				for (j = 0; j < k; j++)
					if (ow[j] == a[i]) { cnt[j]++; break; }
				if (j == k && k < 64) { ow[k] = a[i]; cnt[k++] = 1; }
			}
			for (int j = 0; j < k; j++)
				if (cnt[j] > best) best = cnt[j];
			if (tot && best * 10 >= tot * 9)
				pure += best;
		}
		printf("block=%ld frames (%ld KiB): owned frames in blocks >= 90%% one memcg: %.1f%%\n", B, B * 4,
		       owned ? 100.0 * pure / owned : 0);
	}
	return 0;
}
