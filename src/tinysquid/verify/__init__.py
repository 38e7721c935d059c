"""verify: send the same probes through the old and the new proxy and compare their decisions."""
