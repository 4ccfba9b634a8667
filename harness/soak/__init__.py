"""Soak and load runs: hours of calls on a load model, windows, drift and a live view."""
