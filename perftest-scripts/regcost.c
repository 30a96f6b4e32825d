// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-regcost - what registering memory costs on an RDMA device.
 *
 *   arxe-regcost [-r REPS] [-m BACKING] DEVICE SIZE...
 *
 * For each SIZE (bytes, suffixes K, M, G), allocates SIZE bytes of BACKING
 * memory (anon, thp, huge2m, huge1g, scattered; every page touched first),
 * then REPS times (default 3): times ibv_reg_mr(), reads how much memory
 * the kernel took for the registration (the drop of MemFree in
 * /proc/meminfo while the MR is registered; the buffer itself is already
 * populated) and how much the IOMMU's page tables grew (SecPageTables),
 * asks arxedv_query_mr() what the device table, the IOMMU tables the MR's
 * leaves lie in, the record to unpin it and the modelled hardware tables
 * take (arxe devices; stock rxe keeps 16 bytes per 4 KiB page, and no
 * IOMMU tables), and times ibv_dereg_mr(). Prints one CSV line per size:
 *
 *   DEVICE,BACKING,SIZE,REG_US,REG_US_MIN,REG_US_MAX,DEREG_US,KMEM_KB,
 *   TABLE_BYTES,HW_MTT_4K,HW_MTT_PHYS,HW_MTT_IOVA,LEAVES_4K,LEAVES_2M,
 *   LEAVES_1G,IOMMU_BYTES,PIN_BYTES,SECPT_KB,STATUS
 *
 * times and KMEM_KB being medians over the repetitions, SECPT_KB the
 * largest growth of SecPageTables over them (the IOMMU keeps its table
 * pages after an unmap, so only a registration into IOVA space no earlier
 * one used grows it), STATUS "ok" or "errno=N" when the registration fails
 * (then the other fields are empty). Fields arxe does not report on a
 * device are empty.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <infiniband/arxedv.h>

#include "common.h"

#define MAX_REPS 15

/* meminfo_kb - the figure of /proc/meminfo line @key ("MemFree:"), -1 if none. */
static long meminfo_kb(const char *key)
{
	size_t len = strlen(key);
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) &&
		    sscanf(line + len, "%ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Measure SIZE bytes of @backing on @pd; print its CSV line. */
static int measure(struct ibv_pd *pd, const char *dev, const char *bname,
		   enum backing backing, size_t size, int reps)
{
	double reg[MAX_REPS], dereg[MAX_REPS], kmem[MAX_REPS], t0;
	bool dv = arxedv_is_supported(pd->context->device);
	struct arxedv_mr_attr a = {};
	long before, sec_before, grew, secpt = 0;
	unsigned char *buf;
	struct ibv_mr *mr;
	int i, err;

	buf = alloc_backed(backing, size, 0);
	if (!buf) {
		printf("%s,%s,%zu,,,,,,,,,,,,,,,,nomem\n", dev, bname, size);
		return 0;
	}
	for (i = 0; i < reps; i++) {
		before = meminfo_kb("MemFree:");
		sec_before = meminfo_kb("SecPageTables:");
		t0 = now_us();
		mr = ibv_reg_mr(pd, buf, size, IBV_ACCESS_LOCAL_WRITE |
				IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
		reg[i] = now_us() - t0;
		if (!mr) {
			printf("%s,%s,%zu,,,,,,,,,,,,,,,,errno=%d\n", dev, bname,
			       size, errno);
			goto out;
		}
		kmem[i] = before - meminfo_kb("MemFree:");
		grew = meminfo_kb("SecPageTables:") - sec_before;
		if (grew > secpt)
			secpt = grew;
		if (dv) {
			a.comp_mask = ARXEDV_MR_ATTR_MEMORY;
			err = arxedv_query_mr(mr, &a);
			if (err) {
				fprintf(stderr, "arxedv_query_mr: %s\n", strerror(err));
				return -1;
			}
		}
		t0 = now_us();
		if (ibv_dereg_mr(mr)) {
			perror("ibv_dereg_mr");
			return -1;
		}
		dereg[i] = now_us() - t0;
	}
	/* median() sorts: reg[0] and reg[reps - 1] are then min and max */
	printf("%s,%s,%zu,%.1f,", dev, bname, size, median(reg, reps));
	printf("%.1f,%.1f,%.1f,%.0f,", reg[0], reg[reps - 1],
	       median(dereg, reps), median(kmem, reps));
	if (dv)
		printf("%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%ld,ok\n",
		       (unsigned long long)a.dev_table_bytes,
		       (unsigned long long)a.hw_mtt_4k_bytes,
		       (unsigned long long)a.hw_mtt_phys_bytes,
		       (unsigned long long)a.hw_mtt_iova_bytes,
		       (unsigned long long)a.iommu_leaves_4k,
		       (unsigned long long)a.iommu_leaves_2m,
		       (unsigned long long)a.iommu_leaves_1g,
		       (unsigned long long)a.iommu_table_bytes,
		       (unsigned long long)a.pin_bytes, secpt);
	else
		printf("%zu,,,,,,,0,,%ld,ok\n", (size + 4095) / 4096 * 16, secpt);
out:
	fflush(stdout);
	free_backed(backing, buf, size, 0);
	return 0;
}

int main(int argc, char **argv)
{
	enum backing backing = MEM_ANON;
	struct ibv_context *ctx;
	const char *bname = "anon";
	int reps = 3, opt, i;
	struct ibv_pd *pd;
	size_t size;

	while ((opt = getopt(argc, argv, "m:r:")) != -1) {
		switch (opt) {
		case 'm':
			if (parse_backing(optarg, &backing))
				return 2;
			bname = optarg;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2 || reps < 1 || reps > MAX_REPS)
		goto usage;

	ctx = open_device(argv[optind]);
	if (!ctx)
		return 1;
	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		fprintf(stderr, "cannot allocate a PD\n");
		return 1;
	}
	for (i = optind + 1; i < argc; i++) {
		size = parse_size(argv[i]);
		if (!size) {
			fprintf(stderr, "bad size %s\n", argv[i]);
			return 2;
		}
		if (measure(pd, argv[optind], bname, backing, size, reps))
			return 1;
	}
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-r REPS (1-%d)] [-m BACKING] DEVICE SIZE...\n",
		argv[0], MAX_REPS);
	return 2;
}
