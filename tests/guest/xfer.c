// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-xfer - RC transfers between two devices, checked byte for byte.
 *
 *   arxe-xfer [-n ITERS] [-m BACKING] [-o OFFSET] [-S SIZE] [-B TOP] [-M MAX]
 *             [-T SECONDS] DEV_A GID_A DEV_B GID_B
 *
 * BACKING is the memory of both buffers: anon (4 KiB pages, the default),
 * thp, huge2m or huge1g (hugetlbfs); OFFSET places each buffer that many
 * bytes into it (default 0). SIZE (bytes, suffixes K, M, G) makes B's MR
 * that large, with all of B's traffic in its last 4 MiB + 64 bytes. MAX
 * (4K to 4M, default 4M) is the largest message: a larger size of the
 * ladder below is moved as messages of MAX bytes. TOP (default 4M) ends
 * the ladder: its sizes above TOP are left out.
 *
 * Opens both devices in one process (they may be the same device, or two
 * devices whose traffic crosses a wire), connects one RC QP on each to the
 * other and, for each message size, fills the source with a fresh
 * pseudo-random pattern, clears the destination and runs:
 *   send   A SEND -> B RECV
 *   write  A RDMA WRITE into B's MR
 *   read   A RDMA READ from B's MR
 * then compares the destination with the source byte for byte; then runs
 * atomics (fetch-and-add, compare-and-swap that hits and one that misses)
 * on 8-byte words at B's MR's start, across a page boundary's edge and at
 * its end, checking the fetched values and the memory. Prints one line
 * per operation and size, and at the end the bytes each operation moved
 * and how long it took; exits 1 on the first error or mismatch, or when a
 * completion takes longer than SECONDS (default 30).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <infiniband/verbs.h>

#include "common.h"

#define MAX_MSG (4u << 20)

static const size_t sizes[] = { 1, 63, 4096, 65536 + 7, 1u << 20, MAX_MSG };

struct side {
	const char *name;
	size_t mr_len;
	int gid_index;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	unsigned char *buf;
	union ibv_gid gid;
	enum ibv_mtu mtu;
};

/* What each operation moved, and the time spent waiting for it. */
struct op_total {
	const char *name;
	uint64_t bytes, ops;
	double seconds;
};

enum { OP_SEND, OP_WRITE, OP_READ, OP_ATOMIC, OP_KINDS };

static struct op_total totals[OP_KINDS] = {
	[OP_SEND] = { .name = "send" }, [OP_WRITE] = { .name = "write" },
	[OP_READ] = { .name = "read" }, [OP_ATOMIC] = { .name = "atomics" },
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static int poll_seconds = 30;
static enum backing backing = MEM_ANON;
static size_t buf_offset;

static int open_side(struct side *s)
{
	struct ibv_qp_init_attr init = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_port_attr port;

	s->ctx = open_device(s->name);
	if (!s->ctx)
		return -1;
	if (ibv_query_port(s->ctx, 1, &port) ||
	    ibv_query_gid(s->ctx, 1, s->gid_index, &s->gid)) {
		fprintf(stderr, "%s: cannot query port 1 / GID %d\n", s->name,
			s->gid_index);
		return -1;
	}
	s->mtu = port.active_mtu;
	s->pd = ibv_alloc_pd(s->ctx);
	s->cq = ibv_create_cq(s->ctx, 8, NULL, NULL, 0);
	if (!s->mr_len)
		s->mr_len = MAX_MSG + 64;
	s->buf = alloc_backed(backing, s->mr_len, buf_offset);
	if (!s->pd || !s->cq || !s->buf) {
		fprintf(stderr, "%s: cannot allocate PD, CQ or buffer\n", s->name);
		return -1;
	}
	s->mr = ibv_reg_mr(s->pd, s->buf, s->mr_len,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			   IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC);
	if (!s->mr) {
		fprintf(stderr, "%s: ibv_reg_mr of %zu bytes: %s\n", s->name,
			s->mr_len, strerror(errno));
		return -1;
	}
	/* traffic goes to the MR's last MAX_MSG + 64 bytes */
	s->buf += s->mr_len - (MAX_MSG + 64);
	init.send_cq = s->cq;
	init.recv_cq = s->cq;
	s->qp = ibv_create_qp(s->pd, &init);
	if (!s->qp) {
		fprintf(stderr, "%s: ibv_create_qp: %s\n", s->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Take s's QP to RTS, connected to the QP of peer. */
static int connect_side(struct side *s, struct side *peer, enum ibv_mtu mtu)
{
	if (rc_to_init(s->qp, IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			      IBV_ACCESS_REMOTE_ATOMIC) ||
	    rc_to_rtr(s->qp, mtu, peer->qp->qp_num, &peer->gid, s->gid_index, 0) ||
	    rc_to_rts(s->qp, 7, 0)) {
		fprintf(stderr, "%s: ibv_modify_qp: %s\n", s->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Wait (bounded) for one successful completion on s's CQ. */
static int wait_completion(struct side *s, const char *what)
{
	struct timespec start, now;
	struct ibv_wc wc;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		n = ibv_poll_cq(s->cq, 1, &wc);
		if (n < 0) {
			fprintf(stderr, "%s: ibv_poll_cq failed\n", s->name);
			return -1;
		}
		if (n == 1)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > poll_seconds) {
			fprintf(stderr, "%s: no completion for %s after %d s\n",
				s->name, what, poll_seconds);
			return -1;
		}
	}
	if (wc.status != IBV_WC_SUCCESS) {
		fprintf(stderr, "%s: %s completed with %s\n", s->name, what,
			ibv_wc_status_str(wc.status));
		return -1;
	}
	return 0;
}

static int post(struct side *s, enum ibv_wr_opcode op, size_t len,
		struct side *remote)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)s->buf, .length = len, .lkey = s->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	if (remote) {
		wr.wr.rdma.remote_addr = (uintptr_t)remote->buf;
		wr.wr.rdma.rkey = remote->mr->rkey;
	}
	if (ibv_post_send(s->qp, &wr, &bad)) {
		fprintf(stderr, "%s: ibv_post_send: %s\n", s->name, strerror(errno));
		return -1;
	}
	return 0;
}

static int post_recv(struct side *s, size_t len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)s->buf, .length = len, .lkey = s->mr->lkey,
	};
	struct ibv_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	if (ibv_post_recv(s->qp, &wr, &bad)) {
		fprintf(stderr, "%s: ibv_post_recv: %s\n", s->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* dst must equal src over len bytes, and be untouched (zero) past it. */
static int check(const char *op, size_t len, const unsigned char *src,
		 const unsigned char *dst)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (src[i] != dst[i]) {
			printf("FAIL %-5s %8zu B: byte %zu is 0x%02x, sent 0x%02x\n",
			       op, len, i, dst[i], src[i]);
			return -1;
		}
	for (i = len; i < len + 64; i++)
		if (dst[i]) {
			printf("FAIL %-5s %8zu B: byte %zu past the end was written\n",
			       op, len, i);
			return -1;
		}
	printf("ok   %-5s %8zu B: identical\n", op, len);
	return 0;
}

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Add one operation of @len bytes that started at @start to @kind's total. */
static void account(int kind, size_t len, double start)
{
	totals[kind].bytes += len;
	totals[kind].ops++;
	totals[kind].seconds += now_seconds() - start;
}

static int run(struct side *a, struct side *b, size_t len)
{
	double start;

	memset(b->buf, 0, MAX_MSG + 64);
	fill_random(a->buf, len, &rng_state);
	start = now_seconds();
	if (post_recv(b, len) || post(a, IBV_WR_SEND, len, NULL) ||
	    wait_completion(a, "SEND") || wait_completion(b, "RECV"))
		return -1;
	account(OP_SEND, len, start);
	if (check("send", len, a->buf, b->buf))
		return -1;

	memset(b->buf, 0, MAX_MSG + 64);
	fill_random(a->buf, len, &rng_state);
	start = now_seconds();
	if (post(a, IBV_WR_RDMA_WRITE, len, b) || wait_completion(a, "WRITE"))
		return -1;
	account(OP_WRITE, len, start);
	if (check("write", len, a->buf, b->buf))
		return -1;

	memset(a->buf, 0, MAX_MSG + 64);
	fill_random(b->buf, len, &rng_state);
	start = now_seconds();
	if (post(a, IBV_WR_RDMA_READ, len, b) || wait_completion(a, "READ"))
		return -1;
	account(OP_READ, len, start);
	return check("read", len, b->buf, a->buf);
}

/*
 * run_size - the operations for a message of @len bytes, or, when @len is
 * larger than @max, for messages of at most @max bytes that make up @len.
 */
static int run_size(struct side *a, struct side *b, size_t len, size_t max)
{
	size_t done;

	if (len <= max)
		return run(a, b, len);
	for (done = 0; done < len; done += max)
		if (run(a, b, len - done < max ? len - done : max))
			return -1;
	return 0;
}

/* One atomic of A on B's word at @off; the fetched value lands in a->buf. */
static int atomic_op(struct side *a, struct side *b, enum ibv_wr_opcode op,
		     size_t off, uint64_t compare_add, uint64_t swap)
{
	double start = now_seconds();
	struct ibv_sge sge = {
		.addr = (uintptr_t)a->buf, .length = 8, .lkey = a->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	wr.wr.atomic.remote_addr = (uintptr_t)b->buf + off;
	wr.wr.atomic.rkey = b->mr->rkey;
	wr.wr.atomic.compare_add = compare_add;
	wr.wr.atomic.swap = swap;
	if (ibv_post_send(a->qp, &wr, &bad)) {
		fprintf(stderr, "%s: ibv_post_send(atomic): %s\n", a->name,
			strerror(errno));
		return -1;
	}
	if (wait_completion(a, "ATOMIC"))
		return -1;
	account(OP_ATOMIC, 8, start);
	return 0;
}

/* The value the last atomic fetched (a->buf need not be 8-byte aligned). */
static uint64_t fetched(struct side *a)
{
	uint64_t v;

	memcpy(&v, a->buf, sizeof(v));
	return v;
}

static int expect_u64(const char *what, size_t off, uint64_t got, uint64_t want)
{
	if (got == want)
		return 0;
	printf("FAIL %s at %zu: 0x%016" PRIx64 ", expected 0x%016" PRIx64 "\n",
	       what, off, got, want);
	return -1;
}

static int run_atomics(struct side *a, struct side *b)
{
	uintptr_t base = (uintptr_t)b->buf, page = (base + 4096) & ~(uintptr_t)4095;
	/* the first aligned word, the words around a page boundary, the last */
	const size_t offs[] = {
		((base + 7) & ~(uintptr_t)7) - base,
		page - 8 - base,
		page - base,
		((base + MAX_MSG + 64 - 8) & ~(uintptr_t)7) - base,
	};
	uint64_t *word, old;
	size_t k, off;

	for (k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		off = offs[k];
		word = (uint64_t *)(b->buf + off);
		fill_random((unsigned char *)&old, sizeof(old), &rng_state);
		*word = old;
		if (atomic_op(a, b, IBV_WR_ATOMIC_FETCH_AND_ADD, off, 5, 0) ||
		    expect_u64("fetch-and-add fetched", off, fetched(a), old) ||
		    expect_u64("fetch-and-add memory", off, *word, old + 5) ||
		    atomic_op(a, b, IBV_WR_ATOMIC_CMP_AND_SWP, off, old + 5,
			      ~old) ||
		    expect_u64("compare-and-swap fetched", off, fetched(a), old + 5) ||
		    expect_u64("compare-and-swap memory", off, *word, ~old) ||
		    atomic_op(a, b, IBV_WR_ATOMIC_CMP_AND_SWP, off, old, 7) ||
		    expect_u64("missed compare-and-swap memory", off, *word, ~old))
			return -1;
		printf("ok   atomics at %zu: fetch-and-add and compare-and-swap\n", off);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct side a = {}, b = {};
	int iters = 1, opt, i;
	size_t max_msg = MAX_MSG, top = MAX_MSG;
	enum ibv_mtu mtu;
	size_t k;

	while ((opt = getopt(argc, argv, "B:n:m:o:M:S:T:")) != -1) {
		switch (opt) {
		case 'n':
			iters = atoi(optarg);
			break;
		case 'm':
			if (parse_backing(optarg, &backing))
				return 2;
			break;
		case 'o':
			buf_offset = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			b.mr_len = parse_size(optarg);
			if (b.mr_len < MAX_MSG + 64) {
				fprintf(stderr, "-S must be at least %u\n", MAX_MSG + 64);
				return 2;
			}
			break;
		case 'B':
			top = parse_size(optarg);
			break;
		case 'M':
			max_msg = parse_size(optarg);
			if (max_msg < 4096 || max_msg > MAX_MSG) {
				fprintf(stderr, "-M must be 4K to %u\n", MAX_MSG);
				return 2;
			}
			break;
		case 'T':
			poll_seconds = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 4 || iters < 1 || iters > 1000 ||
	    poll_seconds < 1 || poll_seconds > 3600)
		goto usage;
	a.name = argv[optind];
	a.gid_index = atoi(argv[optind + 1]);
	b.name = argv[optind + 2];
	b.gid_index = atoi(argv[optind + 3]);

	if (open_side(&a) || open_side(&b))
		return 1;
	mtu = a.mtu < b.mtu ? a.mtu : b.mtu;
	if (connect_side(&a, &b, mtu) || connect_side(&b, &a, mtu))
		return 1;
	for (i = 0; i < iters; i++) {
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			if (sizes[k] <= top && run_size(&a, &b, sizes[k], max_msg))
				return 1;
		if (run_atomics(&a, &b))
			return 1;
	}
	printf("%s <-> %s: %d round(s) of send/write/read/atomics verified\n",
	       a.name, b.name, iters);
	for (k = 0; k < OP_KINDS; k++)
		printf("total %-7s %10" PRIu64 " B in %6" PRIu64 " ops, %8.3f s, %8.3f MB/s\n",
		       totals[k].name, totals[k].bytes, totals[k].ops,
		       totals[k].seconds,
		       totals[k].seconds > 0 ? totals[k].bytes / totals[k].seconds / 1e6 : 0);
	return 0;
usage:
	fprintf(stderr,
		"usage: %s [-n ITERS] [-m BACKING] [-o OFFSET] [-S SIZE] [-B TOP] [-M MAX] [-T SECONDS] DEV_A GID_A DEV_B GID_B\n",
		argv[0]);
	return 2;
}
