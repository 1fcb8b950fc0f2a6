"""Tests of the session stores (bot.session)."""
