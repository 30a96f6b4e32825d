// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-regcost - what registering memory costs on RDMA devices, compared
 * on the same memory.
 *
 *   arxe-regcost [-r REPS] [-m BACKING] NAME=DEVICE[:MODE],... SIZE...
 *
 * For each SIZE (bytes, suffixes K, M, G), allocates SIZE bytes of BACKING
 * memory (anon, thp, huge2m, huge1g, scattered; every page touched first)
 * once, then REPS times (default 3) registers it on each target in turn,
 * so that every target meets the same physical pages in the same state:
 * a target is a provider NAME, the verbs DEVICE and, for an arxe device,
 * the translation MODE it is given (its sysfs attribute xlate, set back to
 * "default" at the end) before each of its registrations. Each time it
 * times ibv_reg_mr(), reads how much memory the kernel took for the
 * registration (the drop of MemFree in /proc/meminfo while the MR is
 * registered; the buffer itself is already populated) and how much the
 * IOMMU's page tables grew (SecPageTables), asks arxedv_query_mr() what
 * the device table, the IOMMU tables the MR's leaves lie in, the record
 * to unpin it and the modelled hardware tables take (arxe devices; stock
 * rxe keeps 16 bytes per 4 KiB page, and no IOMMU tables), and times
 * ibv_dereg_mr(). Prints one CSV line per size and target:
 *
 *   NAME,DEVICE,BACKING,SIZE,REG_US,REG_US_MIN,REG_US_MAX,DEREG_US,KMEM_KB,
 *   TABLE_BYTES,HW_MTT_4K,HW_MTT_PHYS,HW_MTT_IOVA,LEAVES_4K,LEAVES_2M,
 *   LEAVES_1G,IOMMU_BYTES,PIN_BYTES,SECPT_KB,DEREG_US_MIN,DEREG_US_MAX,
 *   STATUS
 *
 * times and KMEM_KB being medians over the repetitions (and the least and
 * most of them for the times), SECPT_KB the
 * largest growth of SecPageTables over them (the IOMMU keeps its table
 * pages after an unmap, so only a registration into IOVA space no earlier
 * one used grows it), STATUS "ok" or "errno=N" when a registration fails
 * (then the other fields are empty), "nomem" when the memory cannot be
 * allocated. Fields arxe does not report on a device are empty.
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

/* What /proc/meminfo says of the memory a registration takes (kB, -1: none). */
struct meminfo {
	long memfree;
	long secpt;		/* SecPageTables: the IOMMU's page tables */
};

static struct meminfo read_meminfo(void)
{
	struct meminfo m = { -1, -1 };
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemFree: %ld kB", &m.memfree);
		sscanf(line, "SecPageTables: %ld kB", &m.secpt);
	}
	fclose(f);
	return m;
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

#define MAX_TARGETS 8

/* One provider measured: a device and, for arxe, its translation mode. */
struct target {
	char *name, *dev, *mode;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	bool dv;
	/* this size's measurements */
	double reg[MAX_REPS], dereg[MAX_REPS], kmem[MAX_REPS];
	long secpt;
	struct arxedv_mr_attr a;
	int err;
};

/* set_mode - give arxe device @dev translation mode @mode (sysfs xlate). */
static int set_mode(const char *dev, const char *mode)
{
	char path[256];
	FILE *f;
	int bad;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/xlate", dev);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	bad = fputs(mode, f) < 0;
	bad |= fclose(f) != 0;
	if (bad)
		fprintf(stderr, "%s: cannot write %s\n", path, mode);
	return bad ? -1 : 0;
}

/* One registration of @buf on @t, repetition @rep. */
static int measure_once(struct target *t, unsigned char *buf, size_t size,
			int rep)
{
	struct meminfo before, after;
	struct ibv_mr *mr;
	double t0;
	int err;

	if (t->mode && set_mode(t->dev, t->mode))
		return -1;
	before = read_meminfo();
	t0 = now_us();
	mr = ibv_reg_mr(t->pd, buf, size, IBV_ACCESS_LOCAL_WRITE |
			IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	t->reg[rep] = now_us() - t0;
	if (!mr) {
		t->err = errno;
		return 0;
	}
	after = read_meminfo();
	t->kmem[rep] = before.memfree - after.memfree;
	if (after.secpt - before.secpt > t->secpt)
		t->secpt = after.secpt - before.secpt;
	if (t->dv) {
		t->a.comp_mask = ARXEDV_MR_ATTR_MEMORY;
		err = arxedv_query_mr(mr, &t->a);
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
	t->dereg[rep] = now_us() - t0;
	return 0;
}

/* Print @t's CSV line for SIZE bytes of @bname memory, @reps measured. */
static void print_target(struct target *t, const char *bname, size_t size,
			 int reps)
{
	printf("%s,%s,%s,%zu,", t->name, t->dev, bname, size);
	if (t->err) {
		printf(",,,,,,,,,,,,,,,,,errno=%d\n", t->err);
		return;
	}
	/* median() sorts: [0] and [reps - 1] are then min and max */
	printf("%.1f,", median(t->reg, reps));
	printf("%.1f,%.1f,%.1f,%.0f,", t->reg[0], t->reg[reps - 1],
	       median(t->dereg, reps), median(t->kmem, reps));
	if (t->dv)
		printf("%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%ld,",
		       (unsigned long long)t->a.dev_table_bytes,
		       (unsigned long long)t->a.hw_mtt_4k_bytes,
		       (unsigned long long)t->a.hw_mtt_phys_bytes,
		       (unsigned long long)t->a.hw_mtt_iova_bytes,
		       (unsigned long long)t->a.iommu_leaves_4k,
		       (unsigned long long)t->a.iommu_leaves_2m,
		       (unsigned long long)t->a.iommu_leaves_1g,
		       (unsigned long long)t->a.iommu_table_bytes,
		       (unsigned long long)t->a.pin_bytes, t->secpt);
	else
		printf("%zu,,,,,,,0,,%ld,", (size + 4095) / 4096 * 16,
		       t->secpt);
	printf("%.1f,%.1f,ok\n", t->dereg[0], t->dereg[reps - 1]);
}

/*
 * Measure SIZE bytes of @backing on every target, the repetitions
 * interleaved, on one buffer; print a CSV line per target.
 */
static int measure(struct target *targets, int n, const char *bname,
		   enum backing backing, size_t size, int reps)
{
	unsigned char *buf;
	int i, rep;

	buf = alloc_backed(backing, size, 0);
	if (!buf) {
		for (i = 0; i < n; i++)
			printf("%s,%s,%s,%zu,,,,,,,,,,,,,,,,,,nomem\n",
			       targets[i].name, targets[i].dev, bname, size);
		return 0;
	}
	for (i = 0; i < n; i++) {
		targets[i].secpt = 0;
		targets[i].err = 0;
	}
	for (rep = 0; rep < reps; rep++)
		for (i = 0; i < n; i++)
			if (!targets[i].err &&
			    measure_once(&targets[i], buf, size, rep))
				return -1;
	for (i = 0; i < n; i++)
		print_target(&targets[i], bname, size, reps);
	fflush(stdout);
	free_backed(backing, buf, size, 0);
	return 0;
}

/* Parse "NAME=DEVICE[:MODE],..." into @targets; returns their number or -1. */
static int parse_targets(char *arg, struct target *targets)
{
	char *item, *save = NULL;
	int n = 0;

	for (item = strtok_r(arg, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		struct target *t = &targets[n];
		char *eq = strchr(item, '=');

		if (n == MAX_TARGETS || !eq || eq == item || !eq[1])
			return -1;
		*eq = 0;
		t->name = item;
		t->dev = eq + 1;
		t->mode = strchr(t->dev, ':');
		if (t->mode)
			*t->mode++ = 0;
		n++;
	}
	return n ? n : -1;
}

static int open_target(struct target *t)
{
	t->ctx = open_device(t->dev);
	if (!t->ctx)
		return -1;
	t->pd = ibv_alloc_pd(t->ctx);
	if (!t->pd) {
		fprintf(stderr, "%s: cannot allocate a PD\n", t->dev);
		return -1;
	}
	t->dv = arxedv_is_supported(t->ctx->device);
	if (t->mode && !t->dv) {
		fprintf(stderr, "%s is no arxe device: it has no mode\n", t->dev);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct target targets[MAX_TARGETS] = {};
	enum backing backing = MEM_ANON;
	const char *bname = "anon";
	int reps = 3, opt, i, n, rc = 0;
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
	n = parse_targets(argv[optind], targets);
	if (n < 0)
		goto usage;

	for (i = 0; i < n; i++)
		if (open_target(&targets[i]))
			return 1;
	for (i = optind + 1; i < argc && !rc; i++) {
		size = parse_size(argv[i]);
		if (!size) {
			fprintf(stderr, "bad size %s\n", argv[i]);
			rc = 2;
		} else if (measure(targets, n, bname, backing, size, reps)) {
			rc = 1;
		}
	}
	for (i = 0; i < n; i++) {
		if (targets[i].mode && set_mode(targets[i].dev, "default"))
			rc = 1;
		ibv_dealloc_pd(targets[i].pd);
		ibv_close_device(targets[i].ctx);
	}
	return rc;
usage:
	fprintf(stderr, "usage: %s [-r REPS (1-%d)] [-m BACKING] NAME=DEVICE[:MODE],... SIZE...\n",
		argv[0], MAX_REPS);
	return 2;
}
