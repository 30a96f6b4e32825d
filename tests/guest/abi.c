// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-abi - REG_MR's driver data as libarxe old and new send it, written
 * to the uverbs command file of DEVICE (an arxe device) by hand:
 *
 *   v0         8 bytes, xlate_addr only (libarxe before xlate_len): the
 *              kernel writes the 88 bytes of the translation it had then;
 *   len-N      16 bytes with xlate_len N (0, 13, 104, 4096): it writes
 *              N bytes, at most the 104 it knows;
 *   reserved   16 bytes with the reserved word set: REG_MR fails with
 *              EOPNOTSUPP;
 *   trailing   24 bytes, the last 8 set: fails with EOPNOTSUPP; all 0:
 *              accepted as len-104.
 *
 * The translation goes to a buffer of canary bytes: every case checks
 * that exactly the bytes it expects were written (the mode and the device
 * table's entry count among them when there is room). The layout here is
 * written from the ABI's description, not taken from arxe's header, so
 * that a change of it shows. Prints "ok CASE" or "FAIL CASE: why" per
 * case and exits 1 if any failed.
 *
 *   arxe-abi DEVICE
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <infiniband/verbs.h>
#include <rdma/ib_user_verbs.h>

#include "common.h"

#define CANARY 0xa5
#define XLATE_V0 88		/* struct arxe_mr_xlate up to hw_mtt_iova_bytes */
#define XLATE_NOW 104		/* with iommu_table_bytes and pin_bytes */
#define OFF_MODE 0		/* __u32 mode */
#define OFF_ENTRIES 16		/* __u64 dev_table_entries */
#define BUF_LEN (64 << 10)

struct reg_mr_req {
	struct ib_uverbs_cmd_hdr hdr;
	struct ib_uverbs_reg_mr cmd;
	uint64_t drv[3];	/* xlate_addr; xlate_len | reserved << 32; more */
};

struct dereg_mr_req {
	struct ib_uverbs_cmd_hdr hdr;
	struct ib_uverbs_dereg_mr cmd;
};

static int failed;

/*
 * Register @buf with @drv_len bytes of driver data @drv (xlate_addr set
 * here), the translation going to @out. Returns 0 (and deregisters) or
 * the errno of REG_MR.
 */
static int reg_mr(struct ibv_pd *pd, void *buf, const uint64_t *drv,
		  size_t drv_len, unsigned char *out)
{
	struct ib_uverbs_reg_mr_resp resp = {};
	struct reg_mr_req req = {};
	struct dereg_mr_req dreq = {};
	size_t len = sizeof(req.hdr) + sizeof(req.cmd) + drv_len;

	req.hdr.command = IB_USER_VERBS_CMD_REG_MR;
	req.hdr.in_words = len / 4;
	req.hdr.out_words = sizeof(resp) / 4;
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.start = (uintptr_t)buf;
	req.cmd.length = BUF_LEN;
	req.cmd.hca_va = (uintptr_t)buf;
	req.cmd.pd_handle = pd->handle;
	req.cmd.access_flags = IBV_ACCESS_LOCAL_WRITE;
	memcpy(req.drv, drv, drv_len);
	req.drv[0] = (uintptr_t)out;
	if (write(pd->context->cmd_fd, &req, len) != (ssize_t)len)
		return errno;

	dreq.hdr.command = IB_USER_VERBS_CMD_DEREG_MR;
	dreq.hdr.in_words = sizeof(dreq) / 4;
	dreq.cmd.mr_handle = resp.mr_handle;
	if (write(pd->context->cmd_fd, &dreq, sizeof(dreq)) != (ssize_t)sizeof(dreq)) {
		perror("DEREG_MR");
		exit(1);
	}
	return 0;
}

/*
 * One case: REG_MR with @drv_len bytes of @drv must end with errno
 * @want_err (0: success), having written exactly @want bytes of the
 * translation.
 */
static void check(const char *name, struct ibv_pd *pd, void *buf,
		  const uint64_t *drv, size_t drv_len, int want_err, size_t want)
{
	unsigned char out[512];
	uint64_t entries;
	size_t i, written = 0;
	int err;

	memset(out, CANARY, sizeof(out));
	err = reg_mr(pd, buf, drv, drv_len, out);
	if (err != want_err) {
		printf("FAIL %s: REG_MR gave errno %d (%s), expected %d\n", name,
		       err, strerror(err), want_err);
		failed = 1;
		return;
	}
	for (i = 0; i < sizeof(out); i++)
		if (out[i] != CANARY)
			written = i + 1;
	if (written > want) {
		printf("FAIL %s: the kernel wrote up to byte %zu, %zu were room\n",
		       name, written, want);
		failed = 1;
		return;
	}
	if (want >= OFF_ENTRIES + sizeof(entries)) {
		memcpy(&entries, out + OFF_ENTRIES, sizeof(entries));
		if (entries == 0 || out[OFF_MODE] == CANARY) {
			printf("FAIL %s: no translation was written (mode %u, %llu entries)\n",
			       name, out[OFF_MODE], (unsigned long long)entries);
			failed = 1;
			return;
		}
	}
	printf("ok %s: errno %d, bytes written up to %zu of %zu\n", name, err,
	       written, want);
}

int main(int argc, char **argv)
{
	uint64_t drv[3] = {};
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	void *buf;

	ctx = open_device_arg(argc, argv);
	if (!ctx)
		return 1;
	pd = ibv_alloc_pd(ctx);
	buf = alloc_backed(MEM_ANON, BUF_LEN, 0);
	if (!pd || !buf) {
		fprintf(stderr, "cannot allocate a PD or memory\n");
		return 1;
	}

	check("v0", pd, buf, drv, 8, 0, XLATE_V0);
	drv[1] = 0;
	check("len-0", pd, buf, drv, 16, 0, 0);
	drv[1] = 13;
	check("len-13", pd, buf, drv, 16, 0, 13);
	drv[1] = XLATE_NOW;
	check("len-104", pd, buf, drv, 16, 0, XLATE_NOW);
	drv[1] = 4096;
	check("len-4096", pd, buf, drv, 16, 0, XLATE_NOW);
	drv[1] = XLATE_NOW | (uint64_t)1 << 32;
	check("reserved", pd, buf, drv, 16, EOPNOTSUPP, 0);
	drv[1] = XLATE_NOW;
	drv[2] = 1;
	check("trailing", pd, buf, drv, 24, EOPNOTSUPP, 0);
	drv[2] = 0;
	check("trailing-zero", pd, buf, drv, 24, 0, XLATE_NOW);

	free_backed(MEM_ANON, buf, BUF_LEN, 0);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return failed;
}
