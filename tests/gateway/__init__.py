"""Tests of the gateway through its HTTP entry: de-duplication, deadlines, outages, concurrency."""
