// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Host unit tests of arxe's translation arithmetic (arxe_model.h, as
 * kernel/patches leaves it: tools/series show arxe_model.h):
 * IOVA placement, congruence, IOMMU leaf sizes, run accounting and the
 * hardware model. Prints TAP.
 */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;
#define BIT_ULL(n) (1ULL << (n))
#include "arxe_model.h"

#define SZ_4K ARXE_SZ_4K
#define SZ_2M ARXE_SZ_2M
#define SZ_1G ARXE_SZ_1G
#define ALL_SIZES (SZ_4K | SZ_2M | SZ_1G)

static int n, failed;

#define CHECK(cond, ...)						\
	do {								\
		n++;							\
		if (cond) {						\
			printf("ok %d - ", n);				\
		} else {						\
			printf("not ok %d - ", n);			\
			failed++;					\
		}							\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} while (0)

static void test_place(void)
{
	u64 va = 0x7f1234567000ULL, base = 0x40000000ULL;
	u64 p = arxe_place_iova(base, va, SZ_2M);

	CHECK(p % SZ_2M == va % SZ_2M && p >= base && p < base + SZ_2M,
	      "place: congruent with va mod 2M within one 2M of an aligned base");
	base = 0xff801000ULL;
	p = arxe_place_iova(base, va, SZ_2M);
	CHECK(p % SZ_2M == va % SZ_2M && p >= base && p < base + SZ_2M,
	      "place: the same from an unaligned base");
	p = arxe_place_iova(0x80000000ULL, 0x7f0040000000ULL + 0x3000, SZ_1G);
	CHECK(p == 0x80003000ULL, "place: 1 GiB congruence");
	CHECK(arxe_place_iova(base, base, SZ_2M) == base,
	      "place: an already congruent base stays");
}

static void test_congruence(void)
{
	CHECK(arxe_congruence_shift(0x40000000ULL + 0x5000, 0x7f0000205000ULL) == 21,
	      "congruence: 2M-congruent addresses give 21");
	CHECK(arxe_congruence_shift(0x3000, 0x7000) == 14,
	      "congruence: 16K apart give 14");
	CHECK(arxe_congruence_shift(0x1234000, 0x1234000) == 63,
	      "congruence: equal addresses give 63");
}

static void test_leaf_size(void)
{
	CHECK(arxe_leaf_size(SZ_2M, 4 * SZ_2M, 2 * SZ_2M, ALL_SIZES) == SZ_2M,
	      "leaf: 2M-aligned both sides gives 2M");
	CHECK(arxe_leaf_size(SZ_2M, 4 * SZ_2M + SZ_4K, 2 * SZ_2M, ALL_SIZES) == SZ_4K,
	      "leaf: physical misalignment gives 4K");
	CHECK(arxe_leaf_size(SZ_2M, 4 * SZ_2M, SZ_2M - SZ_4K, ALL_SIZES) == SZ_4K,
	      "leaf: a run shorter than 2M gives 4K");
	CHECK(arxe_leaf_size(SZ_1G, 2 * SZ_1G, SZ_1G, ALL_SIZES) == SZ_1G,
	      "leaf: 1G-aligned 1G run gives 1G");
	CHECK(arxe_leaf_size(SZ_2M, 4 * SZ_2M, SZ_2M, SZ_4K | SZ_1G) == SZ_4K,
	      "leaf: without 2M in the bitmap, 4K");
	CHECK(arxe_leaf_size(SZ_4K, SZ_4K, SZ_4K, SZ_2M) == 0,
	      "leaf: nothing fits gives 0");
}

static void test_count_leaves(void)
{
	u64 leaves[ARXE_NR_LEAVES] = {};
	struct arxe_tables t = {};
	int ok;

	/* 4K before a 2M boundary, one 2M, 4K after */
	ok = arxe_count_leaves(SZ_2M - SZ_4K, 2 * SZ_2M - SZ_4K, SZ_2M + 2 * SZ_4K,
			       ALL_SIZES, leaves, &t);
	CHECK(ok && leaves[ARXE_LEAF_4K] == 2 && leaves[ARXE_LEAF_2M] == 1 &&
	      leaves[ARXE_LEAF_1G] == 0,
	      "count: unaligned ends are 4K leaves, the middle one 2M leaf");
	CHECK(t.count[0] == 2 && t.count[1] == 1 &&
	      arxe_tables_bytes(&t) == 3 * 4096,
	      "tables: the two ends' 2M tables and one 1G table");
	leaves[0] = leaves[1] = leaves[2] = 0;
	t = (struct arxe_tables){};
	ok = arxe_count_leaves(SZ_1G, 3 * SZ_1G, SZ_1G + SZ_2M, ALL_SIZES, leaves, &t);
	CHECK(ok && leaves[ARXE_LEAF_1G] == 1 && leaves[ARXE_LEAF_2M] == 1 &&
	      leaves[ARXE_LEAF_4K] == 0, "count: 1G then 2M");
	CHECK(t.count[0] == 0 && t.count[1] == 1,
	      "tables: a 1G leaf needs none counted, the 2M leaf after it a 1G table");
	leaves[0] = leaves[1] = leaves[2] = 0;
	t = (struct arxe_tables){};
	ok = arxe_count_leaves(0, SZ_4K, 4 * SZ_4K, ALL_SIZES, leaves, &t);
	CHECK(ok && leaves[ARXE_LEAF_4K] == 4, "count: four 4K pages");
	CHECK(t.count[0] == 1 && t.count[1] == 1, "tables: four 4K leaves share their tables");
	CHECK(!arxe_count_leaves(0, 0, SZ_4K, SZ_2M, leaves, &t),
	      "count: an unmappable run is refused");
}

/* Runs of one page each, as scattered memory gives, across table bounds. */
static void test_tables_runs(void)
{
	u64 leaves[ARXE_NR_LEAVES] = {};
	struct arxe_tables t = {};
	u64 iova, base = SZ_1G - SZ_2M - SZ_4K;
	int ok = 1;

	/* 4 MiB + 8 KiB of single pages from 4K below a 2M boundary */
	for (iova = base; iova < base + 2 * SZ_2M + 2 * SZ_4K; iova += SZ_4K)
		ok &= arxe_count_leaves(iova, 0x100000000ULL - (iova - base),
					SZ_4K, ALL_SIZES, leaves, &t);
	CHECK(ok && leaves[ARXE_LEAF_4K] == 1026,
	      "runs: 1026 single pages are 1026 4K leaves");
	CHECK(t.count[0] == 4 && t.count[1] == 2,
	      "runs: they touch four 2M tables across a 1G boundary, two 1G tables");
	/* 2M leaves of a 1G range, 2M-congruent but not 1G-aligned */
	t = (struct arxe_tables){};
	ok = arxe_count_leaves(SZ_1G + 256 * SZ_2M, 0, SZ_1G, ALL_SIZES, leaves, &t);
	CHECK(ok && t.count[0] == 0 && t.count[1] == 2 &&
	      arxe_tables_bytes(&t) == 8192,
	      "runs: 1 GiB of 2M leaves straddling a 1G boundary lies in two tables");
}

static void test_pages_covering(void)
{
	CHECK(arxe_pages_covering(0x1000, 1, SZ_4K) == 1, "covering: one byte, one page");
	CHECK(arxe_pages_covering(0xfff, 2, SZ_4K) == 2, "covering: straddling two pages");
	CHECK(arxe_pages_covering(0, 100ULL << 20, SZ_4K) == 25600,
	      "covering: 100 MiB is 25600 4K pages (200 KiB of MTT)");
	CHECK(arxe_pages_covering(SZ_2M - 1, 2, SZ_2M) == 2,
	      "covering: straddling two 2M pages");
	CHECK(arxe_pages_covering(0x7f0000000000ULL, 4 * SZ_1G, SZ_1G) == 4,
	      "covering: 4 GiB at a 1G boundary is four 1G pages");
}

static void test_layout(void)
{
	struct arxe_layout l = {};

	CHECK(arxe_best_pgsz(0, SZ_1G) == SZ_1G, "best: no constraint gives the cap");
	CHECK(arxe_best_pgsz(SZ_2M, SZ_1G) == SZ_2M, "best: a 2M boundary allows 2M");
	CHECK(arxe_best_pgsz(SZ_4K, SZ_1G) == SZ_4K, "best: a 4K boundary allows 4K");

	/* two THP runs, each 2M congruent, the boundary at 2M */
	arxe_layout_add_run(&l, 0x7f0000000000ULL, 0x40000000ULL, 1);
	arxe_layout_add_run(&l, 0x7f0000200000ULL, 0x80600000ULL, 0);
	CHECK(arxe_best_pgsz(l.mask, SZ_1G) == SZ_2M && l.runs == 2,
	      "layout: THP runs give 2M pages");

	/* scattered 4K pages */
	l = (struct arxe_layout){};
	arxe_layout_add_run(&l, 0x7f0000000000ULL, 0x12345000ULL, 1);
	arxe_layout_add_run(&l, 0x7f0000001000ULL, 0x22222000ULL, 0);
	CHECK(arxe_best_pgsz(l.mask, SZ_1G) == SZ_4K, "layout: scattered pages give 4K");

	/* one run from a 1G page at a 1G-congruent VA */
	l = (struct arxe_layout){};
	arxe_layout_add_run(&l, 0x7f0040000000ULL, 0x80000000ULL, 1);
	CHECK(arxe_best_pgsz(l.mask, SZ_1G) == SZ_1G, "layout: a 1G page gives 1G");
}

int main(void)
{
	test_place();
	test_congruence();
	test_leaf_size();
	test_count_leaves();
	test_tables_runs();
	test_pages_covering();
	test_layout();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
