"""Thin HTTP layers: each router translates requests into calls of plain functions."""
