/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR Linux-OpenIB) */
/*
 * arxe kernel <-> provider ABI.
 *
 * What the arxe kernel module and the libarxe provider exchange: the
 * driver-specific parts of the uverbs commands (udata) and the layout of
 * the work and completion queues both sides map. This version has exactly
 * the layout of rxe's ABI (rdma/rdma_user_rxe.h, ABI version 2) under
 * arxe's names; both builds check that at compile time, so any divergence
 * from here on is deliberate and versioned by ARXE_UVERBS_ABI_VERSION.
 */

#ifndef ARXE_ABI_H
#define ARXE_ABI_H

#include <linux/types.h>
#include <linux/in.h>
#include <linux/in6.h>

#define ARXE_UVERBS_ABI_VERSION 2

enum {
	ARXE_NETWORK_TYPE_IPV4 = 1,
	ARXE_NETWORK_TYPE_IPV6 = 2,
};

union arxe_gid {
	__u8 raw[16];
	struct {
		__be64 subnet_prefix;
		__be64 interface_id;
	} global;
};

struct arxe_global_route {
	union arxe_gid dgid;
	__u32 flow_label;
	__u8 sgid_index;
	__u8 hop_limit;
	__u8 traffic_class;
};

/* Address vector of a UD send or an address handle. */
struct arxe_av {
	__u8 port_num;
	__u8 network_type;	/* ARXE_NETWORK_TYPE_* */
	__u8 dmac[6];
	struct arxe_global_route grh;
	union {
		struct sockaddr_in _sockaddr_in;
		struct sockaddr_in6 _sockaddr_in6;
	} sgid_addr, dgid_addr;
};

/* The work request part of a send queue entry. */
struct arxe_send_wr {
	__aligned_u64 wr_id;
	__u32 reserved;
	__u32 opcode;
	__u32 send_flags;
	union {
		__be32 imm_data;
		__u32 invalidate_rkey;
	} ex;
	union {
		struct {
			__aligned_u64 remote_addr;
			__u32 length;
			__u32 rkey;
			__u8 type;
			__u8 level;
		} flush;
		struct {
			__aligned_u64 remote_addr;
			__u32 rkey;
			__u32 reserved;
		} rdma;
		struct {
			__aligned_u64 remote_addr;
			__aligned_u64 compare_add;
			__aligned_u64 swap;
			__u32 rkey;
			__u32 reserved;
		} atomic;
		struct {
			__u32 remote_qpn;
			__u32 remote_qkey;
			__u16 pkey_index;
			__u16 reserved;
			__u32 ah_num;
			__u32 pad[4];
			struct arxe_av av;
		} ud;
		struct {
			__aligned_u64 addr;
			__aligned_u64 length;
			__u32 mr_lkey;
			__u32 mw_rkey;
			__u32 rkey;
			__u32 access;
		} mw;
	} wr;
};

struct arxe_sge {
	__aligned_u64 addr;
	__u32 length;
	__u32 lkey;
};

/* Where the provider mmap()s a queue the kernel allocated. */
struct arxe_mminfo {
	__aligned_u64 offset;
	__u32 size;
	__u32 pad;
};

struct arxe_dma_info {
	__u32 length;
	__u32 resid;
	__u32 cur_sge;
	__u32 num_sge;
	__u32 sge_offset;
	__u32 reserved;
	union {
		__DECLARE_FLEX_ARRAY(__u8, inline_data);
		__DECLARE_FLEX_ARRAY(__u8, atomic_wr);
		__DECLARE_FLEX_ARRAY(struct arxe_sge, sge);
	};
};

struct arxe_send_wqe {
	struct arxe_send_wr wr;
	__u32 status;
	__u32 state;
	__aligned_u64 iova;
	__u32 mask;
	__u32 first_psn;
	__u32 last_psn;
	__u32 ack_length;
	__u32 ssn;
	__u32 has_rd_atomic;
	struct arxe_dma_info dma;
};

struct arxe_recv_wqe {
	__aligned_u64 wr_id;
	__u32 reserved;
	__u32 padding;
	struct arxe_dma_info dma;
};

/* udata of the uverbs commands */
struct arxe_create_ah_resp {
	__u32 ah_num;
	__u32 reserved;
};

struct arxe_create_cq_resp {
	struct arxe_mminfo mi;
};

struct arxe_resize_cq_resp {
	struct arxe_mminfo mi;
};

struct arxe_create_qp_resp {
	struct arxe_mminfo rq_mi;
	struct arxe_mminfo sq_mi;
};

struct arxe_create_srq_resp {
	struct arxe_mminfo mi;
	__u32 srq_num;
	__u32 reserved;
};

struct arxe_modify_srq_cmd {
	__aligned_u64 mmap_info_addr;
};

/* How an MR is translated (struct arxe_mr_xlate.mode). */
enum arxe_xlate_mode_abi {
	ARXE_MR_XLATE_PAGES = 0,
	ARXE_MR_XLATE_IOVA = 1,
	ARXE_MR_XLATE_ALIGNED = 2,
	ARXE_MR_XLATE_FALLBACK = 3,
	ARXE_MR_XLATE_ODP = 4,
};

/*
 * The translation of a user MR. REG_MR writes it to the address the
 * provider gives in struct arxe_reg_mr_cmd (libarxe keeps it with the MR
 * for arxedv_query_mr()), at most xlate_len bytes of it. Sizes are bytes;
 * hw_mtt_* model 8-byte MTT entries of common hardware; iommu_table_bytes
 * are the IOMMU page-table pages (4 KiB) the MR's leaves lie in, of the
 * levels whose tables cover 2 MiB and 1 GiB; pin_bytes is what the kernel
 * keeps to unpin the MR (an aligned MR's pin record, else the umem's
 * scatterlist). Fields derived from bus or physical addresses
 * (align_shift, iova, iommu_leaves_*, hw_mtt_phys_bytes,
 * hw_mtt_iova_bytes, iommu_table_bytes, pin_bytes) are 0 unless the
 * registering process has CAP_SYS_ADMIN.
 */
struct arxe_mr_xlate {
	__u32 mode;		/* ARXE_MR_XLATE_* */
	__u32 align_shift;	/* log2 of the IOVA's congruence with the address */
	__aligned_u64 iova;	/* bus address of the MR's first byte, 0 if none */
	__aligned_u64 dev_table_entries;
	__aligned_u64 dev_table_bytes;
	__aligned_u64 pinned_bytes;
	__aligned_u64 iommu_leaves_4k;
	__aligned_u64 iommu_leaves_2m;
	__aligned_u64 iommu_leaves_1g;
	__aligned_u64 hw_mtt_4k_bytes;
	__aligned_u64 hw_mtt_phys_bytes;
	__aligned_u64 hw_mtt_iova_bytes;
	/* since xlate_len */
	__aligned_u64 iommu_table_bytes;
	__aligned_u64 pin_bytes;
};

/*
 * udata of REG_MR: where to write struct arxe_mr_xlate (0: nowhere) and
 * how many bytes of it the provider has room for. A command without
 * xlate_len (8 bytes long) has room up to hw_mtt_iova_bytes; reserved
 * must be 0.
 */
struct arxe_reg_mr_cmd {
	__aligned_u64 xlate_addr;
	__u32 xlate_len;
	__u32 reserved;
};

/*
 * Header of every mapped queue. Producer and consumer indices sit on their
 * own cache lines; the elements follow.
 */
struct arxe_queue_buf {
	__u32 log2_elem_size;
	__u32 index_mask;
	__u32 pad_1[30];
	__u32 producer_index;
	__u32 pad_2[31];
	__u32 consumer_index;
	__u32 pad_3[31];
	__u8 data[];
};

#endif /* ARXE_ABI_H */
