#!/bin/bash
# rdma-core's own verbs test suite (tests/guest/pyverbs.sh) on arxe0 with
# the IOMMU in each translation mode (aligned, iova, pages), against a
# stock rxe0 on eth1 in namespace peer of the same guest: per test module
# and mode, no failure and no error on arxe0, and every test that passes
# on rxe0 passes on arxe0. The mode without an IOMMU (fallback) is run by
# guest.fallback. Needs --nics 2 and --mem 3G (512 MiB of huge pages).
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/guest/pyverbs.sh
. "$(dirname "$0")/pyverbs.sh"

setup() {
	setup_arxe_and_rxe && pyverbs_setup
}

# run_mode MODE: the suite on arxe0 with xlate MODE.
run_mode() {
	xlate_set "$1" && pyverbs_run "" arxe0 "arxe0-$1"
}

tap_begin
t setup setup
t pyverbs-start-rxe0 pyverbs_start peer rxe0 rxe0
for mode in aligned iova pages; do
	t "pyverbs-run-$mode" run_mode "$mode"
	pyverbs_tests "$mode"
done
t kernel-log-clean kernel_clean
tap_end
