#!/bin/bash
# Guest side of the runner tests: the guest that tools/guest booted has the
# NIC model and the IOMMU it was asked for.
#
#   runner-options.sh NIC IOMMU      (e1000e|virtio, intel|virtio|none)
set -uo pipefail
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

tap_begin
t "nic-$1-iommu-$2" nic_setup_is "$1" "$2"
t kernel-log-clean kernel_clean
tap_end
