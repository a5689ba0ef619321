"""Docker hosts: the engine (Docker SDK), typed container facts, single containers, compose projects, prune."""
