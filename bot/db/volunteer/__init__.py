"""Volunteering in the database: tables (``tables``), and the query modules handlers and jobs call."""
