"""展翅计划, the internship programme: what a post is, how it is indexed, searched and imported.

``records`` validates imported rows into posts, ``index`` turns text into jieba tokens for the
database's ``tsvector`` and ``tsquery``, ``understand`` reads filters and keywords from what a
person typed, ``search`` is the one search function the chat and the benchmark call, and
``importer`` writes a file of posts and tells the matching subscribers.
"""
