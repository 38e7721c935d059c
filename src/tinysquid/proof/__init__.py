"""Equivalence proofs of translated patterns: each filter entry's squid form against tinyproxy's."""
