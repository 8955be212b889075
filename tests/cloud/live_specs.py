"""Extra specs of the bright-lab GPU flavor as a live cloud holds them (shared test data)."""

GPU_SPECS = {
    "resources:VCPU": "0",
    "resources:MEMORY_MB": "0",
    "resources:DISK_GB": "0",
    "resources:CUSTOM_GPU_VCPU": "2",
    "resources:CUSTOM_GPU_MEMORY_MB": "4096",
    "resources:CUSTOM_GPU_DISK_GB": "40",
    "pci_passthrough:alias": "gpu:1",
}
