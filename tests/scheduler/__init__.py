"""Tests of the scheduler process and its jobs (scheduler/)."""
