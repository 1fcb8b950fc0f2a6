"""青年大学习 queries: every statement of the programme, each taking the caller's ``AsyncSession``.

``tables`` declares the schema; ``members`` binds people to branches; ``episodes`` and
``completions`` keep the weekly study and who did it; ``reminders`` claims sends; ``report``
computes the participation ratio (参学比).
"""
