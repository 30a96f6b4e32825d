// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * /init of an arxe guest's initramfs (tools/mkimage packs it, statically
 * linked, with the modules the root disk needs). It loads the modules that
 * /modules.list names, in its order, waits for the root device, mounts it
 * and executes the init that the kernel command line names (the last
 * init=, default /sbin/init) with the arguments the kernel passed on.
 *
 * It replaces initramfs-tools' scripts, which start udev and wait for it
 * to settle: about 8 s of every boot under QEMU's TCG, for three modules.
 * Any failure is printed and ends this process, which panics the kernel:
 * tools/guest reports a boot that died.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define ROOT_WAIT_MS 30000

static void die(const char *what)
{
	fprintf(stderr, "arxe-rdinit: %s: %s\n", what, strerror(errno));
	exit(1);
}

/*
 * The last word of the command line before "--" that is @name or starts
 * with "@name=", copied; NULL if there is none.
 */
static char *cmdline_word(const char *cmdline, const char *name)
{
	size_t len = strlen(name);
	char *copy, *word, *save, *found = NULL;

	copy = strdup(cmdline);
	if (!copy)
		die("strdup");
	for (word = strtok_r(copy, " \n", &save); word;
	     word = strtok_r(NULL, " \n", &save)) {
		if (!strcmp(word, "--"))
			break;
		if (!strncmp(word, name, len) &&
		    (word[len] == '\0' || word[len] == '='))
			found = word;
	}
	if (found) {
		found = strdup(found);
		if (!found)
			die("strdup");
	}
	free(copy);
	return found;
}

/* The value of the last @name= on the command line, or @def. */
static const char *cmdline_value(const char *cmdline, const char *name,
				 const char *def)
{
	char *word = cmdline_word(cmdline, name);
	char *eq = word ? strchr(word, '=') : NULL;

	return eq ? eq + 1 : def;
}

static void load_modules(void)
{
	char path[512];
	FILE *list;
	int fd;

	list = fopen("/modules.list", "r");
	if (!list)
		die("/modules.list");
	while (fgets(path, sizeof(path), list)) {
		path[strcspn(path, "\n")] = '\0';
		if (!path[0])
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(path);
		if (syscall(SYS_finit_module, fd, "", MODULE_INIT_COMPRESSED_FILE) &&
		    errno != EEXIST)
			die(path);
		close(fd);
	}
	fclose(list);
}

static void wait_for(const char *dev)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int ms;

	for (ms = 0; ms < ROOT_WAIT_MS; ms += 10) {
		if (!access(dev, F_OK))
			return;
		nanosleep(&tick, NULL);
	}
	errno = ENODEV;
	die(dev);
}

int main(int argc, char **argv)
{
	const char *root, *init;
	char cmdline[4096];
	char *rw;
	ssize_t n;
	int fd;

	(void)argc;
	if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) && errno != EBUSY)
		die("mount /dev");
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (mount("proc", "/proc", "proc", 0, NULL))
		die("mount /proc");
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		die("/proc/cmdline");
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	if (n < 0)
		die("read /proc/cmdline");
	cmdline[n] = '\0';
	close(fd);
	root = cmdline_value(cmdline, "root", "/dev/vda");
	init = cmdline_value(cmdline, "init", "/sbin/init");

	load_modules();
	wait_for(root);
	rw = cmdline_word(cmdline, "rw");
	if (mount(root, "/root", "ext4", rw && !strchr(rw, '=') ? 0 : MS_RDONLY,
		  NULL))
		die(root);
	if (umount("/proc"))
		die("umount /proc");
	if (mount("/dev", "/root/dev", NULL, MS_MOVE, NULL))
		die("move /dev");
	if (chdir("/root") || mount(".", "/", NULL, MS_MOVE, NULL) ||
	    chroot(".") || chdir("/"))
		die("switch to the root");
	argv[0] = (char *)init;
	execv(init, argv);
	die(init);
}
