"""展翅计划 in the database: posts with their search vectors, applicants, applications, subscriptions.

Every query of the programme lives in this package and takes an ``AsyncSession``: ``posts``
(import upserts and the search), ``people`` (applicant profiles, applications, subscriptions and
the matching of new posts against subscriptions).
"""
