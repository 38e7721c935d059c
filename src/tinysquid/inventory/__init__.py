"""inventory-aws: read-only discovery of the legacy tinyproxy estate on AWS, with costs."""
