"""Back end 1: Policy → squid.conf text (``render``), auth files (``auth``), ``squid -k parse`` (``check``)."""
