"""GPU discovery: parse lspci text or a sysfs tree into GpuDevice records."""
