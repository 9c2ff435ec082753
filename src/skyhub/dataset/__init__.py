"""The public dataset: synthetic HST FITS for the local S3 twin, seeding, manifests and benchmarks."""
