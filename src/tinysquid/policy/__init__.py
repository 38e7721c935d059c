"""The product-neutral policy IR (``ir``) and the pure passes over it (``passes``)."""
