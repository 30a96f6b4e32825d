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

#include "common.h"

int main(int argc, char **argv)
{
	struct ibv_context *ctx;
	Dl_info info;
	int ret = 1;

	ctx = open_device_arg(argc, argv);
	if (!ctx)
		return 1;
	if (dladdr((void *)ctx->ops.post_send, &info) && info.dli_fname) {
		printf("%s\n", info.dli_fname);
		ret = 0;
	} else {
		fprintf(stderr, "%s: post_send is in no loaded object\n", argv[1]);
	}
	ibv_close_device(ctx);
	return ret;
}
