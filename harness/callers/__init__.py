"""Callers: play a Scenario over a transport and record it as a CallRecording."""
