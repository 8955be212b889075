"""The doctor's checks: one class per rule, each registered by id in `gpuslice.doctor.registry`."""
