"""Back end 2: Policy + squid.conf → Helm values for the younsl ``squid`` chart."""
