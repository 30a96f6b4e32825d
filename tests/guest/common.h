/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * What the guest test helpers and arxe-regcost share: a verbs device opened
 * by name, and memory of a given backing (anonymous 4 KiB pages,
 * transparent huge pages, hugetlbfs pages, or anonymous 4 KiB pages no two
 * of which are physically adjacent in address order) with the buffer at an
 * offset inside.
 */
#ifndef ARXE_TEST_COMMON_H
#define ARXE_TEST_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <infiniband/verbs.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define TEST_2M (2UL << 20)
#define TEST_1G (1UL << 30)

/*
 * open_device - open the verbs device called @name. Says why and returns
 * NULL when there is no such device or it cannot be opened.
 */
static inline struct ibv_context *open_device(const char *name)
{
	struct ibv_device **list, **d;
	struct ibv_context *ctx = NULL;

	list = ibv_get_device_list(NULL);
	if (!list) {
		perror("ibv_get_device_list");
		return NULL;
	}
	for (d = list; *d; d++)
		if (!strcmp(ibv_get_device_name(*d), name))
			break;
	if (!*d) {
		fprintf(stderr, "%s: no such device in libibverbs\n", name);
	} else {
		ctx = ibv_open_device(*d);
		if (!ctx)
			fprintf(stderr, "%s: cannot open the device: %s\n", name,
				strerror(errno));
	}
	ibv_free_device_list(list);
	return ctx;
}

/*
 * open_device_arg - for a program called "PROGRAM DEVICE": open DEVICE, or
 * say how to call the program and exit 2. NULL (said why) if DEVICE
 * cannot be opened.
 */
static inline struct ibv_context *open_device_arg(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DEVICE\n", argv[0]);
		exit(2);
	}
	return open_device(argv[1]);
}

/*
 * fill_random - @len bytes of xorshift64 pseudo-random data, advancing
 * *@state (not 0): test data that a stale or misplaced byte cannot match.
 */
static inline void fill_random(unsigned char *p, size_t len, uint64_t *state)
{
	size_t i;

	for (i = 0; i < len; i++) {
		*state ^= *state << 13;
		*state ^= *state >> 7;
		*state ^= *state << 17;
		p[i] = *state >> 24;
	}
}

/*
 * rc_to_init, rc_to_rtr, rc_to_rts - the steps that connect an RC QP on
 * port 1 over RoCE v2: INIT with the remote access @rights, RTR towards QP
 * @dest (a GRH to @dgid, from GID @sgid_index) expecting PSN @rq_psn, RTS
 * sending from PSN @sq_psn. Each returns 0 or what ibv_modify_qp()
 * returned.
 */
static inline int rc_to_init(struct ibv_qp *qp, unsigned int rights)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = 1,
		.qp_access_flags = rights,
	};

	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			     IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

static inline int rc_to_rtr(struct ibv_qp *qp, enum ibv_mtu mtu, uint32_t dest,
			    const union ibv_gid *dgid, int sgid_index,
			    uint32_t rq_psn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu,
		.dest_qp_num = dest,
		.rq_psn = rq_psn,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.grh = { .dgid = *dgid, .sgid_index = sgid_index,
				 .hop_limit = 64 },
			.port_num = 1,
		},
	};

	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
			     IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			     IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			     IBV_QP_MIN_RNR_TIMER);
}

static inline int rc_to_rts(struct ibv_qp *qp, int rnr_retry, uint32_t sq_psn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS,
		.timeout = 14,
		.retry_cnt = 7,
		.rnr_retry = rnr_retry,
		.sq_psn = sq_psn,
		.max_rd_atomic = 1,
	};

	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

enum backing { MEM_ANON, MEM_THP, MEM_HUGE2M, MEM_HUGE1G, MEM_SCATTERED };

static inline int parse_backing(const char *s, enum backing *b)
{
	static const char *const names[] = { "anon", "thp", "huge2m", "huge1g",
					     "scattered" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*b = i;
			return 0;
		}
	fprintf(stderr, "backing must be anon, thp, huge2m, huge1g or scattered, not %s\n", s);
	return -1;
}

/*
 * alloc_backed - @len bytes at @offset inside memory of @b, every page
 * touched (so THP is populated). Scattered memory is anonymous 4 KiB
 * pages touched from the last to the first: the page allocator hands out
 * pages in ascending physical order, so each page lands below the one
 * before it and a registration sees one physically contiguous run per
 * page. Returns the buffer or NULL.
 */
static inline unsigned char *alloc_backed(enum backing b, size_t len, size_t offset)
{
	size_t unit = b == MEM_HUGE1G ? TEST_1G : TEST_2M;
	size_t size = (len + offset + unit - 1) / unit * unit;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned char *p;
	size_t i;

	if (b == MEM_HUGE2M)
		flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
	if (b == MEM_HUGE1G)
		flags |= MAP_HUGETLB | (30 << MAP_HUGE_SHIFT);
	if (b == MEM_THP) {
		/* over-allocate to start on a 2 MiB boundary */
		p = mmap(NULL, size + TEST_2M, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return NULL;
		}
		p = (unsigned char *)(((uintptr_t)p + TEST_2M - 1) & ~(TEST_2M - 1));
		if (madvise(p, size, MADV_HUGEPAGE))
			perror("madvise(MADV_HUGEPAGE)");
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return NULL;
		}
		if ((b == MEM_ANON || b == MEM_SCATTERED) &&
		    madvise(p, size, MADV_NOHUGEPAGE))
			perror("madvise(MADV_NOHUGEPAGE)");
	}
	if (b == MEM_SCATTERED)
		for (i = size; i; i -= 4096)
			p[i - 4096] = 0;
	else
		for (i = 0; i < size; i += 4096)
			p[i] = 0;
	return p + offset;
}

/*
 * free_backed - unmap what alloc_backed() returned for @len and @offset
 * (for THP, the part before the 2 MiB boundary it skipped stays mapped).
 */
static inline void free_backed(enum backing b, unsigned char *buf, size_t len,
			       size_t offset)
{
	size_t unit = b == MEM_HUGE1G ? TEST_1G : TEST_2M;

	if (munmap(buf - offset, (len + offset + unit - 1) / unit * unit))
		perror("munmap");
}

/* parse_size - bytes of "N", "NK", "NM" or "NG". */
static inline size_t parse_size(const char *s)
{
	char *end;
	size_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G':
		v <<= 10;
		/* fall through */
	case 'M':
		v <<= 10;
		/* fall through */
	case 'K':
		v <<= 10;
		break;
	default:
		break;
	}
	return v;
}

#endif /* ARXE_TEST_COMMON_H */
