// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * query_mr DEVICE - a program as a user of libarxe writes it, built with
 * nothing but `pkg-config --cflags --libs arxe` (guest.foundation): it
 * registers 1 MiB (page aligned) on DEVICE and prints what arxedv_query_mr() says of it.
 *
 *   xlate MODE dev_table_bytes N pinned_bytes N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <infiniband/verbs.h>
#include <infiniband/arxedv.h>

#define MR_BYTES (1 << 20)

int main(int argc, char **argv)
{
	struct ibv_device **list, *device = NULL;
	struct arxedv_mr_attr attr = {};
	struct ibv_context *ctx = NULL;
	struct ibv_pd *pd = NULL;
	struct ibv_mr *mr = NULL;
	int i, n, err, ret = 1;
	void *buf = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: query_mr DEVICE\n");
		return 1;
	}
	list = ibv_get_device_list(&n);
	if (!list) {
		perror("ibv_get_device_list");
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), argv[1]))
			device = list[i];
	if (!device || !arxedv_is_supported(device)) {
		fprintf(stderr, "%s: no such arxe device\n", argv[1]);
		goto out;
	}
	ctx = ibv_open_device(device);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	if (posix_memalign(&buf, 4096, MR_BYTES))
		buf = NULL;
	if (!pd || !buf) {
		fprintf(stderr, "%s: cannot open it, allocate a PD or the buffer\n", argv[1]);
		goto out;
	}
	memset(buf, 0, MR_BYTES);
	mr = ibv_reg_mr(pd, buf, MR_BYTES, IBV_ACCESS_LOCAL_WRITE);
	if (!mr) {
		perror("ibv_reg_mr");
		goto out;
	}
	err = arxedv_query_mr(mr, &attr);
	if (err) {
		fprintf(stderr, "arxedv_query_mr: %s\n", strerror(err));
		goto out;
	}
	printf("xlate %u dev_table_bytes %llu pinned_bytes %llu\n", attr.xlate,
	       (unsigned long long)attr.dev_table_bytes,
	       (unsigned long long)attr.pinned_bytes);
	ret = 0;
out:
	if (mr)
		ibv_dereg_mr(mr);
	free(buf);
	if (pd)
		ibv_dealloc_pd(pd);
	if (ctx)
		ibv_close_device(ctx);
	ibv_free_device_list(list);
	return ret;
}
