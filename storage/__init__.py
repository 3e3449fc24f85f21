"""Adapters to the outside world: files on disk now; databases and buses in later issues."""
