// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * arxe-provider-of DEVICE
 *
 * Print the path of the shared object whose code serves DEVICE in this
 * process: open the device through libibverbs and ask the dynamic linker
 * which object holds the context's post_send entry point. Proves which
 * provider (libarxe or librxe) libibverbs bound to a device.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <infiniband/verbs.h>

int main(int argc, char **argv)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	Dl_info info;
	int n, i, ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DEVICE\n", argv[0]);
		return 2;
	}
	list = ibv_get_device_list(&n);
	if (!list) {
		perror("ibv_get_device_list");
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), argv[1]))
			break;
	if (i == n) {
		fprintf(stderr, "%s: no such device in libibverbs\n", argv[1]);
		goto out;
	}
	ctx = ibv_open_device(list[i]);
	if (!ctx) {
		perror("ibv_open_device");
		goto out;
	}
	if (dladdr((void *)ctx->ops.post_send, &info) && info.dli_fname) {
		printf("%s\n", info.dli_fname);
		ret = 0;
	} else {
		fprintf(stderr, "%s: post_send is in no loaded object\n", argv[1]);
	}
	ibv_close_device(ctx);
out:
	ibv_free_device_list(list);
	return ret;
}
