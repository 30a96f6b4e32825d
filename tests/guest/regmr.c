// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-regmr - register one MR and hold it, for tests that inspect it.
 *
 *   arxe-regmr [-m BACKING] [-o OFFSET] [-t SECONDS] [-O] [-n COUNT] DEVICE SIZE
 *
 * Allocates SIZE bytes (suffixes K, M, G) of BACKING memory (see common.h) at
 * OFFSET, registers them on DEVICE (-O: as an on-demand-paging MR) and
 * prints
 *   registered lkey=0x... addr=0x... length=... vmpin_kb=N
 * With -n, it first registers COUNT - 1 more MRs of SIZE, each in memory
 * of its own, and prints "registered COUNT MRs"; all are deregistered at
 * the end.
 * then holds the MR until standard input closes or SECONDS pass (default
 * 60), deregisters it and prints "deregistered vmpin_kb=N" (VmPin of
 * /proc/self/status: the memory the process has pinned). On an arxe device
 * it also prints what arxedv_query_mr() says, as
 *   arxedv xlate=N iova=0x... align_shift=N dev_table_entries=N ...
 * A registration that fails prints "reg_mr failed: errno=N (text)" and
 * exits 3.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <infiniband/arxedv.h>

#include "common.h"

/* VmPin of this process, in KiB, or -1. */
static long vmpin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Print what arxedv_query_mr() says about @mr. */
static int print_dv(struct ibv_mr *mr)
{
	struct arxedv_mr_attr a = { .comp_mask = ARXEDV_MR_ATTR_MEMORY };
	int err = arxedv_query_mr(mr, &a);

	if (err) {
		printf("arxedv_query_mr failed: %s\n", strerror(err));
		return -1;
	}
	printf("arxedv xlate=%u iova=0x%llx align_shift=%u dev_table_entries=%llu "
	       "dev_table_bytes=%llu pinned_bytes=%llu iommu_leaves_4k=%llu "
	       "iommu_leaves_2m=%llu iommu_leaves_1g=%llu hw_mtt_4k_bytes=%llu "
	       "hw_mtt_phys_bytes=%llu hw_mtt_iova_bytes=%llu "
	       "iommu_table_bytes=%llu pin_bytes=%llu comp_mask=%llu\n",
	       a.xlate, (unsigned long long)a.iova, a.align_shift,
	       (unsigned long long)a.dev_table_entries,
	       (unsigned long long)a.dev_table_bytes,
	       (unsigned long long)a.pinned_bytes,
	       (unsigned long long)a.iommu_leaves_4k,
	       (unsigned long long)a.iommu_leaves_2m,
	       (unsigned long long)a.iommu_leaves_1g,
	       (unsigned long long)a.hw_mtt_4k_bytes,
	       (unsigned long long)a.hw_mtt_phys_bytes,
	       (unsigned long long)a.hw_mtt_iova_bytes,
	       (unsigned long long)a.iommu_table_bytes,
	       (unsigned long long)a.pin_bytes,
	       (unsigned long long)a.comp_mask);
	return 0;
}

/*
 * Register @count MRs of @size bytes of @backing memory, each in pages of
 * its own: slices of one buffer, a page apart.
 */
static struct ibv_mr **reg_many(struct ibv_pd *pd, enum backing backing,
				size_t size, size_t offset, long count)
{
	size_t stride = (offset + size + 4095) / 4096 * 4096;
	struct ibv_mr **mrs = calloc(count, sizeof(*mrs));
	unsigned char *buf = alloc_backed(backing, stride * count, 0);
	long i;

	if (!mrs || !buf)
		return NULL;
	for (i = 0; i < count; i++) {
		mrs[i] = ibv_reg_mr(pd, buf + i * stride + offset, size,
				    IBV_ACCESS_LOCAL_WRITE);
		if (!mrs[i]) {
			printf("reg_mr of MR %ld failed: errno=%d (%s)\n", i + 1,
			       errno, strerror(errno));
			exit(3);
		}
	}
	return mrs;
}

int main(int argc, char **argv)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		     IBV_ACCESS_REMOTE_READ;
	struct ibv_mr **more = NULL;
	enum backing backing = MEM_ANON;
	long count = 1, i;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	struct ibv_context *ctx;
	size_t size, offset = 0;
	int seconds = 60, opt;
	unsigned char *buf;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	char c;

	while ((opt = getopt(argc, argv, "m:o:t:On:")) != -1) {
		switch (opt) {
		case 'm':
			if (parse_backing(optarg, &backing))
				return 2;
			break;
		case 'o':
			offset = strtoul(optarg, NULL, 0);
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		case 'O':
			access |= IBV_ACCESS_ON_DEMAND;
			break;
		case 'n':
			count = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	size = parse_size(argv[optind + 1]);
	if (!size || seconds < 0 || seconds > 3600 || count < 1 ||
	    count > 100000)
		goto usage;

	ctx = open_device(argv[optind]);
	if (!ctx)
		return 1;
	pd = ibv_alloc_pd(ctx);
	buf = alloc_backed(backing, size, offset);
	if (!pd || !buf) {
		fprintf(stderr, "cannot allocate a PD or the memory\n");
		return 1;
	}
	if (count > 1) {
		more = reg_many(pd, backing, size, offset, count - 1);
		if (!more) {
			fprintf(stderr, "cannot allocate %ld MRs' memory\n", count);
			return 1;
		}
		printf("registered %ld MRs\n", count);
	}
	mr = ibv_reg_mr(pd, buf, size, access);
	if (!mr) {
		printf("reg_mr failed: errno=%d (%s)\n", errno, strerror(errno));
		return 3;
	}
	printf("registered lkey=0x%x addr=0x%lx length=%zu vmpin_kb=%ld\n",
	       mr->lkey, (unsigned long)(uintptr_t)buf, size, vmpin_kb());
	if (arxedv_is_supported(ctx->device) && print_dv(mr))
		return 1;
	fflush(stdout);
	if (poll(&pfd, 1, seconds * 1000) > 0 && read(0, &c, 1) < 0)
		perror("read");
	if (ibv_dereg_mr(mr)) {
		perror("ibv_dereg_mr");
		return 1;
	}
	for (i = 0; i < count - 1; i++) {
		if (ibv_dereg_mr(more[i])) {
			perror("ibv_dereg_mr");
			return 1;
		}
	}
	free(more);
	printf("deregistered vmpin_kb=%ld\n", vmpin_kb());
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-m BACKING] [-o OFFSET] [-t SECONDS] [-O] [-n COUNT] DEVICE SIZE\n",
		argv[0]);
	return 2;
}
