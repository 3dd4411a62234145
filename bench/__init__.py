"""Benchmarks (`make bench`): jmo-doctor measured side by side with a peer, medians."""
