"""Regionshift step logic: domain models, rules and AWS adapters shared by every Lambda."""
