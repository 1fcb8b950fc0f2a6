"""Reading filters and keywords from what a person typed (no database)."""

from __future__ import annotations

from bot.internships.index import tsquery
from bot.internships.search import Searcher, facets_of_query
from tests.conftest import shared_content


def searcher() -> Searcher:
    content, analyzer = shared_content()
    return Searcher(analyzer, content)


def test_filters_come_from_the_words() -> None:
    q = searcher().understand("坂田街道 有没有 带薪的 寒假 金融 实习")
    assert (q.street, q.industry, q.season, q.paid, q.hmt_round) == ("坂田", "金融财会", "寒假", True, None)
    assert q.trigger and not q.keywords
    assert q.label == "坂田 · 金融财会 · 寒假 · 有报酬"


def test_the_district_is_not_the_street() -> None:
    q = searcher().understand("龙岗区 设计实习")
    assert q.street is None and q.keywords == ("设计",)
    assert searcher().understand("龙岗 设计").street == "龙岗"


def test_chat_phrases_are_not_keywords() -> None:
    assert searcher().understand("我学护理的 有没有实习").keywords == ("护理",)
    assert searcher().understand("我想找一份python的实习").keywords == ("python",)


def test_synonyms_and_compounds() -> None:
    q = searcher().understand("会计")
    assert q.groups == (("会计", "财务"),)
    compound = searcher().understand("新媒体运营")
    assert compound.keywords == ("新媒体", "运营")  # searched as the words inside it
    assert searcher().understand("短视频").keywords == ("短视频",)  # three characters stay whole


def test_traditional_reads_as_simplified() -> None:
    s = searcher()
    assert s.understand("港澳臺專場 設計") == s.understand("港澳台专场 设计")


def test_questions_about_the_rules_are_marked() -> None:
    assert searcher().understand("实习岗位怎么投递").meta
    assert not searcher().understand("暑假有实习吗").meta


def test_the_tsquery_has_every_group_and_facet() -> None:
    q = searcher().understand("港澳台专场 坂田 美工 python")
    text = tsquery(q.groups, facets=facets_of_query(q))
    assert text == "(('美工' | '设计') & ('python')) & '街道=坂田' & '专场=港澳台'"
