#!/usr/bin/env bash
# The NVMe tests of one guest boot (tests/vm/run.sh --mode MODE runs this inside the
# guest; ctest's vm.nvme_vfio and vm.nvme_uio do that). In order:
#   1. the environment: the emulated controller as the kernel sees it, bdevkit-setup
#      (status, bad input, binding to uio_pci_generic and to vfio-pci, hugepages,
#      reset back to nvme) and the kernel reading what it wrote before the rebinds;
#   2. the driver (modules/nvme), on the mode's driver: identify, attach/detach over
#      RPC in bdevd, bdevperf over both namespaces, the driver's device tests
#      (multi-page, iovec, ...), reset under I/O, and finally the kernel reading back,
#      with dd, the data our driver wrote.
# The driver tests need its binaries: until modules/nvme exists they are skipped
# (saying so); once it exists, a missing binary is a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guest_lib.sh"
. "$here/nvme_env_tests.sh"
. "$here/nvme_driver_tests.sh"

MODE=${BDEVKIT_VM_MODE:?run this through tests/vm/run.sh}
BUILD=${BDEVKIT_BUILD:-}
SRC=${BDEVKIT_SRC:?}
BDF=0000:00:03.0
SETUP=$SRC/tools/setup/bdevkit-setup
case $MODE in
  vfio) DRIVER=vfio-pci ;;
  uio) DRIVER=uio_pci_generic ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

vm_dispatch "$@"
# Arguments: the names of the tests to run (default all), e.g. `bind_uio reset_to_kernel`.
vm_main "$*" \
  controller_visible:300 \
  kernel_writes_marker:300 \
  setup_status:300 \
  setup_bad_input:300 \
  setup_skips_mounted:300 \
  bind_uio:300 \
  bind_vfio:300 \
  reset_to_kernel:300 \
  bind_for_driver:300 \
  nvme_identify:300 \
  rpc_attach_detach:600 \
  bdevperf_workloads:600 \
  driver_device_tests:600 \
  reset_under_io:300 \
  detach_under_io:300 \
  driver_data_to_kernel:300
