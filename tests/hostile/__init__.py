"""Hostile input, files, servers and signals (issue 9): table-driven, one file per class."""
