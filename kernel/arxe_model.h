/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * arxe's translation arithmetic: where an MR's IOVA starts, which IOMMU
 * leaves map a run, and what common NIC hardware would need to translate
 * the same MR. Pure functions of their arguments, shared by the module and
 * the host unit tests (which define u64 and BIT_ULL themselves).
 */

#ifndef ARXE_MODEL_H
#define ARXE_MODEL_H

#ifdef __KERNEL__
#include <linux/bits.h>
#include <linux/types.h>
#endif

#define ARXE_SZ_4K	BIT_ULL(12)
#define ARXE_SZ_2M	BIT_ULL(21)
#define ARXE_SZ_1G	BIT_ULL(30)

/* Leaf sizes arxe counts, in this order. */
enum { ARXE_LEAF_4K, ARXE_LEAF_2M, ARXE_LEAF_1G, ARXE_NR_LEAVES };

/* Bytes of one MTT entry in the modelled hardware. */
#define ARXE_MTT_ENTRY_BYTES 8

/* Bytes of one page-table page of the modelled IOMMU (VT-d, AMD-Vi, SMMU 4K). */
#define ARXE_IOMMU_TABLE_BYTES 4096

/*
 * The IOMMU page-table pages an MR's leaves lie in, of the two levels
 * whose tables cover 2 MiB (they hold 4K leaves) and 1 GiB (2M leaves,
 * and pointers to 2 MiB tables) of IOVA. The levels above (512 GiB a
 * table and more) are shared by every mapping of the domain and are not
 * counted. Leaves must be noted in ascending IOVA order. @next[l] is one
 * more than the index of the last table counted at level l (0: none yet).
 */
struct arxe_tables {
	u64 count[2];
	u64 next[2];
};

static inline void arxe_tables_note(struct arxe_tables *t, int level, u64 index)
{
	if (t->next[level] != index + 1) {
		t->count[level]++;
		t->next[level] = index + 1;
	}
}

/* arxe_tables_add_leaf - note the leaf of @size bytes at @iova. */
static inline void arxe_tables_add_leaf(struct arxe_tables *t, u64 iova,
					u64 size)
{
	if (size < ARXE_SZ_2M)
		arxe_tables_note(t, 0, iova / ARXE_SZ_2M);
	if (size < ARXE_SZ_1G)
		arxe_tables_note(t, 1, iova / ARXE_SZ_1G);
}

/* arxe_tables_bytes - the bytes of the tables @t counted. */
static inline u64 arxe_tables_bytes(const struct arxe_tables *t)
{
	return (t->count[0] + t->count[1]) * ARXE_IOMMU_TABLE_BYTES;
}

/*
 * arxe_place_iova - the first address at or above @base that is congruent
 * with @va modulo @align (a power of two).
 */
static inline u64 arxe_place_iova(u64 base, u64 va, u64 align)
{
	return base + ((va - base) & (align - 1));
}

/*
 * arxe_congruence_shift - log2 of the largest power of two P with
 * iova == va (mod P): the alignment an MR's IOVA achieves. 63 when equal.
 */
static inline unsigned int arxe_congruence_shift(u64 iova, u64 va)
{
	u64 d = iova - va;

	return d ? __builtin_ctzll(d) : 63;
}

/*
 * arxe_leaf_size - the size of the next IOMMU leaf for a mapping of @len
 * bytes at @iova -> @phys: the largest size of @pgsizes (a bitmap of
 * supported sizes) that fits in @len and to which both addresses are
 * aligned, as the IOMMU core picks it. 0 if none fits.
 */
static inline u64 arxe_leaf_size(u64 iova, u64 phys, u64 len, u64 pgsizes)
{
	u64 addr_merge = iova | phys;
	u64 sizes = pgsizes;
	u64 size;

	while (sizes) {
		size = 1ULL << (63 - __builtin_clzll(sizes));
		if (size <= len && !(addr_merge & (size - 1)))
			return size;
		sizes &= ~size;
	}
	return 0;
}

/*
 * arxe_count_leaves - add to @leaves[] the IOMMU leaves that map the run
 * [@iova, @iova + @len) -> @phys with the sizes of @pgsizes, and to
 * @tables the page-table pages they lie in. Leaves of other sizes
 * (neither 4K, 2M nor 1G) count as the next smaller of those. Returns
 * false if the run cannot be mapped with @pgsizes at all.
 */
static inline int arxe_count_leaves(u64 iova, u64 phys, u64 len, u64 pgsizes,
				    u64 *leaves, struct arxe_tables *tables)
{
	u64 size;

	while (len) {
		size = arxe_leaf_size(iova, phys, len, pgsizes);
		if (!size)
			return 0;
		arxe_tables_add_leaf(tables, iova, size);
		if (size >= ARXE_SZ_1G)
			leaves[ARXE_LEAF_1G]++;
		else if (size >= ARXE_SZ_2M)
			leaves[ARXE_LEAF_2M]++;
		else
			leaves[ARXE_LEAF_4K]++;
		iova += size;
		phys += size;
		len -= size;
	}
	return 1;
}

/*
 * arxe_pages_covering - how many pages of @pgsz (a power of two) cover the
 * bytes [@va, @va + @len).
 */
static inline u64 arxe_pages_covering(u64 va, u64 len, u64 pgsz)
{
	u64 first = va & ~(pgsz - 1);
	u64 end = (va + len + pgsz - 1) & ~(pgsz - 1);

	return (end - first) / pgsz;
}

/*
 * arxe_best_pgsz - the largest page size from 4 KiB up to @max (powers of
 * two) none of whose low bits are set in @mask, the OR of everything that
 * must be page aligned (see struct arxe_layout).
 */
static inline u64 arxe_best_pgsz(u64 mask, u64 max)
{
	u64 pgsz = ARXE_SZ_4K;

	while (pgsz < max && !(mask & (pgsz * 2 - 1)))
		pgsz *= 2;
	return pgsz;
}

/*
 * The physical layout of an MR as hardware without an IOMMU would see it,
 * accumulated run by run (physically contiguous pieces in VA order, each
 * starting on a page boundary): a page size P can describe the MR if every
 * run is congruent with its VA modulo P and every boundary between runs is
 * P-aligned. @mask collects the address bits that rule larger pages out.
 */
struct arxe_layout {
	u64 mask;
	u64 runs;
};

static inline void arxe_layout_add_run(struct arxe_layout *l, u64 va,
				       u64 phys, int first)
{
	l->mask |= va ^ phys;
	if (!first)
		l->mask |= va;
	l->runs++;
}

#endif /* ARXE_MODEL_H */
