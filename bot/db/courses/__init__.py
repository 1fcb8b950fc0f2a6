"""The night school's queries, one module per concern, each taking the handler's ``AsyncSession``.

    tables      themes, classes, profiles, signups, signup events, reminders
    catalogue   themes and classes: browse, find, upsert (import, demo)
    signups     profiles, signup with capacity and waitlist, cancel, promotion, a person's signups
    sessions    statements that commit by themselves, the per-process signup gate, the shared log flush
    attendance  check-in (signed up or walk-in), no-shows, the no-show block
    reminders   who is due a reminder, claimed once

Seats are counted under the class's row lock (``SELECT … FOR NO KEY UPDATE``): every change that
takes or frees a seat locks the class first, then counts the seated signups in a statement of its
own (a fresh snapshot, so it sees what the previous holder committed), then writes.
"""
